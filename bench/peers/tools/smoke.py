#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks that a server speaks the contract: CheckHealth, ExtractText on a
path (and a missing one: in-band STATUS_FAILURE / NOT_FOUND), a 2-image
batch. Usage: smoke.py HOST:PORT IMAGE_PATH [LANGUAGE]. Exit 0 when fine."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OCRPC_PY_GEN", os.path.join(HERE, "..", "..", "..", "build-peers", "py-aio")))
import grpc  # noqa: E402
import common_pb2  # noqa: E402
import ocr_pb2  # noqa: E402
import ocr_pb2_grpc  # noqa: E402

target, path = sys.argv[1], sys.argv[2]
lang = sys.argv[3] if len(sys.argv) > 3 else "english"
ch = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 100 << 20)])
stub = ocr_pb2_grpc.OCRServiceStub(ch)
h = stub.CheckHealth(ocr_pb2.HealthCheckRequest(), timeout=10)
assert h.status == common_pb2.STATUS_SUCCESS, h
r = stub.ExtractText(ocr_pb2.OCRRequest(private_image_path=path, language=lang), timeout=60)
assert r.status == common_pb2.STATUS_SUCCESS, r
print(f"{target}: engine={h.engine_type} text={r.text[:60]!r} conf={r.overall_confidence:.2f} "
      f"boxes={len(r.text_boxes)} md={dict(r.metadata.data)}")
bad = stub.ExtractText(ocr_pb2.OCRRequest(private_image_path="no/such.png"), timeout=60)
if h.engine_type != "mock":
    assert bad.status == common_pb2.STATUS_FAILURE and bad.error.details == "NOT_FOUND", bad
msgs = list(stub.ExtractTextBatch(ocr_pb2.OCRBatchRequest(
    image_paths=[ocr_pb2.ImagePath(private_path=path)] * 2, language=lang), timeout=60))
assert len(msgs) == 2 and msgs[-1].processed_images == 2, msgs
print(f"{target}: ok")
