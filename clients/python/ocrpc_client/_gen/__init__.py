# SPDX-License-Identifier: MIT
"""Stubs generated from protos/ by clients/python/generate.sh. Do not edit."""
