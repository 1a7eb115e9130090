# SPDX-License-Identifier: MIT
"""Python client of ocrpc, the gRPC OCR server.

    from ocrpc_client import OcrClient, OcrFailed, OcrUnavailable

    with OcrClient("localhost:50051") as client:
        r = client.extract(path="scans/page1.png", language="english")
        print(r.text, r.overall_confidence)

    from ocrpc_client import AsyncOcrClient     # grpc.aio, for async code

    async with AsyncOcrClient("localhost:50051") as client:
        r = await client.extract(path="scans/page1.png", language="english")
        async for p in client.extract_batch(["a.png", "b.png"]):
            print(p.index, p.current_result.text)

Stubs generated from the repository's ``protos/`` live in
``ocrpc_client._gen`` (regenerate with ``clients/python/generate.sh``) and
are re-exported here as ``common_pb2``, ``ocr_pb2``, ``ocr_pb2_grpc``.
They live in a descriptor pool of their own, so the package works in a
process that also imports stubs generated from the guide's ``.proto``
files (a worker in dual mode), in either import order. Messages of the two
sets are distinct classes: pass ``ocrpc_client`` its own (or plain
arguments), and convert between the sets with ``SerializeToString`` /
``FromString``.

Works with Debian 12's python3-grpcio (1.51) and python3-protobuf (3.21 /
Python protobuf 4.21).
"""

from ._gen import common_pb2, ocr_pb2, ocr_pb2_grpc  # noqa: F401
from .client import DEFAULT_OPTIONS, MB, OcrClient, RetryEvent  # noqa: F401
from .aio import AsyncOcrClient  # noqa: F401
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .analysis import LlmFailed  # noqa: F401  (llm.LLMService)

__all__ = ["OcrClient", "AsyncOcrClient", "RetryEvent", "DEFAULT_OPTIONS", "MB",
           "common_pb2", "ocr_pb2", "ocr_pb2_grpc", "LlmFailed"] + list(_errors_all)
__version__ = "0.2.0"
