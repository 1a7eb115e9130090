#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One ExtractTextBatch call over the paths in LIST (relative to the
server's image root): prints JSON with the time to the first progress
message, the total time, the message count and how many results failed.
ocrpc-bench times whole calls only; this measures the stream.

With --completion-order the request sets OCRBatchRequest.completion_order
(ocrpc: each result as soon as it is done; the default is input order);
"in_order" in the output says whether the indexes came as 0..N-1.

Usage: batch_client.py HOST:PORT LIST [--language L] [--timeout S]
                       [--completion-order]"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("OCRPC_PY_GEN", os.path.join(HERE, "..", "..", "..", "build-peers", "py-aio")))
import grpc  # noqa: E402
import common_pb2  # noqa: E402
import ocr_pb2  # noqa: E402
import ocr_pb2_grpc  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("target")
ap.add_argument("list")
ap.add_argument("--language", default="english")
ap.add_argument("--timeout", type=float, default=600)
ap.add_argument("--completion-order", action="store_true")
a = ap.parse_args()
paths = [l.strip() for l in open(a.list) if l.strip()]
ch = grpc.insecure_channel(a.target, options=[("grpc.max_receive_message_length", 100 << 20)])
stub = ocr_pb2_grpc.OCRServiceStub(ch)
stub.CheckHealth(ocr_pb2.HealthCheckRequest(), timeout=30)  # connection up first
req = ocr_pb2.OCRBatchRequest(image_paths=[ocr_pb2.ImagePath(private_path=p) for p in paths],
                              language=a.language)
if a.completion_order:
    req.completion_order = True
t0 = time.perf_counter()
first = None
n = failed = 0
indexes = []
for msg in stub.ExtractTextBatch(req, timeout=a.timeout):
    if first is None:
        first = time.perf_counter() - t0
    n += 1
    indexes.append(getattr(msg, "index", n - 1))
    if msg.current_result.status != common_pb2.STATUS_SUCCESS:
        failed += 1
total = time.perf_counter() - t0
print(json.dumps({"images": len(paths), "messages": n, "failed": failed,
                  "first_s": round(first or 0, 4), "total_s": round(total, 4),
                  "images_per_s": round(len(paths) / total, 3),
                  "in_order": indexes == list(range(n))}))
sys.exit(0 if n == len(paths) and failed == 0 else 1)
