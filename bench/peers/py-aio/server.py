#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Benchmark peer: the migration guide's own grpc.aio OCR server.

The design is the guide's (grpc.aio server, the guide's server options,
async servicer methods, failures answered in-band as STATUS_FAILURE with
error.code "OCR_ERROR" and error.details naming the cause, a batch that
awaits ExtractText image after image and yields one progress message per
image), with the one change every production deployment of it needs: the
blocking OCR call runs in a thread pool of --workers instead of on the event
loop. Engines:

  mock       fixed answer, like ocrpc's: text "mock text", one box, 0.99,
             answered on the event loop (no thread hop).
  tesseract  Debian's python3-tesserocr; one PyTessBaseAPI per worker thread
             and language, created on first use and reused (LSTM only, PSM 6
             for Korean, PSM 3 with a fall-back to 6 otherwise, one box per
             text line: the same work ocrpc does).

OpenMP is left as the process gets it: run it plain for the typical
deployment, or with OMP_THREAD_LIMIT=1 in the environment for the tuned one.

Stubs come from protos/ (make bench-peers generates them into
build-peers/py-aio; --gen-dir or OCRPC_PY_GEN overrides).
"""

import argparse
import asyncio
import io
import os
import signal
import sys
import threading
import time
import uuid
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

LANGS = {"korean": "kor", "english": "eng", "japanese": "jpn",
         "chinese": "chi_sim", "": "kor"}
MOCK_TEXT = "mock text"
MOCK_CONF = 0.99


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRPC_PORT", 50051)))
    ap.add_argument("--host", default=os.environ.get("GRPC_HOST", "[::]"))
    ap.add_argument("--engine", choices=("mock", "tesseract"),
                    default=os.environ.get("OCR_ENGINE", "tesseract"))
    ap.add_argument("--workers", type=int,
                    default=int(os.environ.get("OCR_WORKERS", os.cpu_count() or 1)))
    ap.add_argument("--image-root", default=os.environ.get("OCR_IMAGE_ROOT", "."))
    ap.add_argument("--language", default=os.environ.get("OCR_DEFAULT_LANGUAGE", "korean"))
    ap.add_argument("--gen-dir", default=os.environ.get(
        "OCRPC_PY_GEN", os.path.join(REPO, "build-peers", "py-aio")))
    return ap.parse_args()


ARGS = parse_args()
sys.path.insert(0, ARGS.gen_dir)
import grpc  # noqa: E402
import common_pb2  # noqa: E402
import ocr_pb2  # noqa: E402
import ocr_pb2_grpc  # noqa: E402


class OcrError(Exception):
    def __init__(self, details, message):
        super().__init__(message)
        self.details = details


def resolve(root, path):
    """Confines path to the image root, like ocrpc (symlinks resolved)."""
    full = os.path.realpath(os.path.join(root, path))
    if full != root and not full.startswith(root + os.sep):
        raise OcrError("FORBIDDEN_PATH", f"path leaves the image root: {path}")
    if not os.path.isfile(full):
        raise OcrError("NOT_FOUND", f"no such image: {path}")
    return full


class TesseractEngine:
    """One PyTessBaseAPI per (worker thread, language), reused."""

    def __init__(self):
        import tesserocr
        self.t = tesserocr
        self.local = threading.local()
        self.version = tesserocr.tesseract_version().split()[1]

    def _api(self, code):
        apis = getattr(self.local, "apis", None)
        if apis is None:
            apis = self.local.apis = {}
        api = apis.get(code)
        if api is None:
            try:
                api = self.t.PyTessBaseAPI(lang=code, oem=self.t.OEM.LSTM_ONLY)
            except RuntimeError as e:
                raise OcrError("UNSUPPORTED_LANGUAGE", str(e))
            apis[code] = api
        return api

    def _recognise(self, api, psm, threshold):
        t = self.t
        api.SetPageSegMode(psm)
        api.Recognize()
        lines, n = [], 0
        it = api.GetIterator()
        level = t.RIL.TEXTLINE
        if it is not None:
            for r in t.iterate_level(it, level):
                text = r.GetUTF8Text(level)
                if text is None:
                    continue
                text = text.rstrip(" \t\r\n")
                box = r.BoundingBox(level)
                if not text or box is None:
                    continue
                n += 1
                conf = r.Confidence(level) / 100.0
                if conf < threshold:
                    continue
                l, tp, rt, b = box
                lines.append((text, conf, [l, tp, rt, tp, rt, b, l, b]))
        return lines, n

    def run(self, code, path, data, threshold):
        """Worker thread. Returns (lines, width, height, ocr_ms)."""
        t0 = time.perf_counter()
        api = self._api(code)
        try:
            if data:
                from PIL import Image
                try:
                    img = Image.open(io.BytesIO(data))
                    img.load()
                except Exception as e:
                    raise OcrError("DECODE_ERROR", f"cannot decode image: {e}")
                api.SetImage(img)
                w, h = img.size
            else:
                try:
                    api.SetImageFile(path)
                except RuntimeError as e:
                    raise OcrError("DECODE_ERROR", f"cannot decode image: {e}")
                from PIL import Image
                with Image.open(path) as img:  # header only
                    w, h = img.size
            psm = self.t.PSM.SINGLE_BLOCK if code.startswith("kor") else self.t.PSM.AUTO
            lines, n = self._recognise(api, psm, threshold)
            if n == 0 and psm == self.t.PSM.AUTO:
                lines, n = self._recognise(api, self.t.PSM.SINGLE_BLOCK, threshold)
        finally:
            api.Clear()
        return lines, w, h, (time.perf_counter() - t0) * 1000.0


class OCRServiceServicer(ocr_pb2_grpc.OCRServiceServicer):
    def __init__(self, args):
        self.args = args
        self.root = os.path.realpath(args.image_root)
        self.engine = TesseractEngine() if args.engine == "tesseract" else None
        self.pool = futures.ThreadPoolExecutor(max_workers=args.workers,
                                               thread_name_prefix="ocr")

    def _failure(self, details, message):
        return ocr_pb2.OCRResponse(
            status=common_pb2.STATUS_FAILURE,
            error=common_pb2.ErrorInfo(code="OCR_ERROR", message=message,
                                       details=details))

    def _mock(self, lang):
        r = ocr_pb2.OCRResponse(status=common_pb2.STATUS_SUCCESS,
                                text=MOCK_TEXT, overall_confidence=MOCK_CONF)
        r.text_boxes.append(ocr_pb2.TextBox(
            text=MOCK_TEXT, confidence=MOCK_CONF,
            bbox=common_pb2.BoundingBox(coordinates=[0, 0, 100, 0, 100, 20, 0, 20])))
        md = r.metadata.data
        md["engine"] = "mock"
        md["engine_version"] = "0"
        md["language"] = lang
        md["image_width"] = "0"
        md["image_height"] = "0"
        md["queue_ms"] = "0.000"
        md["ocr_ms"] = "0.000"
        md["rotation"] = "0"
        return r

    async def ExtractText(self, request, context):
        name = request.language or self.args.language
        code = LANGS.get(name, name)
        if self.engine is None:
            return self._mock(code)
        try:
            path = request.private_image_path or request.public_image_path
            data = request.image_data
            if not data and not path:
                raise OcrError("INVALID_ARGUMENT", "no image in the request")
            full = resolve(self.root, path) if not data else None
            threshold = request.confidence_threshold or 0.5
            t_submit = time.perf_counter()
            loop = asyncio.get_running_loop()

            def job():
                q = (time.perf_counter() - t_submit) * 1000.0
                return q, self.engine.run(code, full, data, threshold)

            queue_ms, (lines, w, h, ocr_ms) = await loop.run_in_executor(self.pool, job)
            resp = ocr_pb2.OCRResponse(
                status=common_pb2.STATUS_SUCCESS,
                text="\n".join(t for t, _, _ in lines),
                overall_confidence=(sum(c for _, c, _ in lines) / len(lines)) if lines else 0.0)
            for text, conf, quad in lines:
                resp.text_boxes.append(ocr_pb2.TextBox(
                    text=text, confidence=conf,
                    bbox=common_pb2.BoundingBox(coordinates=quad)))
            md = resp.metadata.data
            md["engine"] = "tesseract"
            md["engine_version"] = self.engine.version
            md["language"] = code
            md["image_width"] = str(w)
            md["image_height"] = str(h)
            md["queue_ms"] = f"{queue_ms:.3f}"
            md["ocr_ms"] = f"{ocr_ms:.3f}"
            md["rotation"] = "0"
            return resp
        except OcrError as e:
            return self._failure(e.details, str(e))
        except Exception as e:  # the guide: every failure in-band
            return self._failure(type(e).__name__, str(e))

    async def ExtractTextBatch(self, request, context):
        # The guide's batch: one image after the other, one message each.
        batch_id = request.batch_id or str(uuid.uuid4())
        total = len(request.image_paths)
        for idx, image_path in enumerate(request.image_paths):
            ocr_request = ocr_pb2.OCRRequest(
                public_image_path=image_path.public_path,
                private_image_path=image_path.private_path,
                image_data=image_path.data,
                language=request.language,
                confidence_threshold=request.confidence_threshold,
                use_angle_cls=request.use_angle_cls)
            result = await self.ExtractText(ocr_request, context)
            yield ocr_pb2.OCRBatchProgress(
                batch_id=batch_id, total_images=total, processed_images=idx + 1,
                current_result=result, progress_percentage=(idx + 1) / total * 100,
                index=idx)

    async def CheckHealth(self, request, context):
        return ocr_pb2.HealthCheckResponse(
            status=common_pb2.STATUS_SUCCESS,
            engine_type=self.args.engine, model_loaded=True, version="1.0.0")


async def serve(args):
    # The guide's server: its executor and options.
    server = grpc.aio.server(
        futures.ThreadPoolExecutor(max_workers=10),
        options=[
            ("grpc.max_send_message_length", 100 * 1024 * 1024),
            ("grpc.max_receive_message_length", 100 * 1024 * 1024),
            ("grpc.keepalive_time_ms", 10000),
            ("grpc.keepalive_timeout_ms", 5000),
        ])
    ocr_pb2_grpc.add_OCRServiceServicer_to_server(OCRServiceServicer(args), server)
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    await server.start()
    print(f"py-aio: listening on {args.host}:{port} engine={args.engine} "
          f"workers={args.workers} OMP_THREAD_LIMIT={os.environ.get('OMP_THREAD_LIMIT', 'unset')}",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    await server.stop(1)


if __name__ == "__main__":
    asyncio.run(serve(ARGS))
