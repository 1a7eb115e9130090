# SPDX-License-Identifier: MIT
"""Python client of ocrpc, the gRPC OCR server.

    from ocrpc_client import OcrClient, OcrFailed, OcrUnavailable

    with OcrClient("localhost:50051") as client:
        r = client.extract(path="scans/page1.png", language="english")
        print(r.text, r.overall_confidence)

Stubs generated from the repository's ``protos/`` live in
``ocrpc_client._gen`` (regenerate with ``clients/python/generate.sh``) and
are re-exported here as ``common_pb2``, ``ocr_pb2``, ``ocr_pb2_grpc``.
They register ``common.proto``/``ocr.proto``/... in protobuf's default
descriptor pool, so they cannot share a process with other stubs generated
from files of those names.

Works with Debian 12's python3-grpcio (1.51) and python3-protobuf (3.21 /
Python protobuf 4.21).
"""

from ._gen import common_pb2, ocr_pb2, ocr_pb2_grpc  # noqa: F401
from .client import DEFAULT_OPTIONS, MB, OcrClient, RetryEvent  # noqa: F401
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .analysis import LlmFailed  # noqa: F401  (llm.LLMService)

__all__ = ["OcrClient", "RetryEvent", "DEFAULT_OPTIONS", "MB",
           "common_pb2", "ocr_pb2", "ocr_pb2_grpc", "LlmFailed"] + list(_errors_all)
__version__ = "0.1.0"
