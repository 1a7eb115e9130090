# SPDX-License-Identifier: MIT
"""The private descriptor pool of ocrpc_client's stubs (see generate.sh)."""
from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
