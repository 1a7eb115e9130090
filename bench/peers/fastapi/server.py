#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Benchmark peer: the migration guide's REST ML server (FastAPI + uvicorn).

The shape is the guide's: a FastAPI app whose router serves
`POST /ocr/extract` with a JSON body `{"public_image_path",
"private_image_path", ...}` (validated by a Pydantic model, as the guide's
controller does) and answers JSON with `status`, `text`, `confidence`,
`text_boxes` and `metadata`, plus `GET /healthy`. The engine is a mock with
ocrpc's mock answer ("mock text", one box, 0.99), answered inside the async
handler, so a benchmark measures the HTTP + JSON path alone, as
`ocrpc-server --engine mock` does for ocrpc.

Debian's python3-fastapi and python3-uvicorn (no PyPI). uvicorn runs as the
guide deploys it: one process, its default event loop and HTTP parser
(uvloop/httptools when installed; Debian 12 has neither by default).

    /usr/bin/python3 bench/peers/fastapi/server.py --port 8000
"""

import argparse
import logging
import os
import time
from typing import Dict, Optional

import uvicorn
from fastapi import APIRouter, FastAPI, HTTPException
from pydantic import BaseModel

MOCK_TEXT = "mock text"
MOCK_CONF = 0.99
LANGS = {"korean": "kor", "english": "eng", "japanese": "jpn", "chinese": "chi_sim"}


class OCRRequest(BaseModel):
    public_image_path: Optional[str] = None
    private_image_path: Optional[str] = None
    language: str = "korean"
    confidence_threshold: float = 0.5
    use_angle_cls: bool = True
    options: Dict[str, str] = {}


router = APIRouter()


@router.post("/ocr/extract")
async def extract(req: OCRRequest):
    if not (req.private_image_path or req.public_image_path):
        raise HTTPException(status_code=422, detail={
            "code": "OCR_ERROR", "message": "no image", "details": "INVALID_ARGUMENT"})
    t0 = time.perf_counter()
    boxes = [{"text": MOCK_TEXT, "confidence": MOCK_CONF,
              "bbox": [0.0, 0.0, 100.0, 0.0, 100.0, 20.0, 0.0, 20.0]}]
    ocr_ms = (time.perf_counter() - t0) * 1000.0
    return {
        "status": "success",
        "text": MOCK_TEXT,
        "confidence": MOCK_CONF,
        "text_boxes": boxes,
        "metadata": {"engine": "mock", "engine_version": "0",
                     "language": LANGS.get(req.language, req.language),
                     "image_width": "0", "image_height": "0",
                     "queue_ms": "0.000", "ocr_ms": "%.3f" % ocr_ms, "rotation": "0"},
    }


@router.get("/healthy")
async def healthy():
    return {"status": "healthy"}


app = FastAPI()
app.include_router(router)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("HTTP_PORT", 8000)))
    args = ap.parse_args()
    # Access logs off, as for ocrpc's --access-log off in the same runs.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False,
                log_level=logging.WARNING)


if __name__ == "__main__":
    main()
