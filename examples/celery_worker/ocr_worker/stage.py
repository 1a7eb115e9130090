# SPDX-License-Identifier: MIT
"""``OCRStage``: the guide's OCR pipeline stage, on :mod:`ocrpc_client`.

Dual mode, as in the guide's migration phases (its sections 3 and 7):

- which path a task takes: ``GRPC_CANARY_PERCENT`` when set (that share of
  tasks over gRPC, picked per task: by the task id when there is one, so
  a retried task keeps its path), else ``USE_GRPC`` (all or nothing);
- gRPC: ocrpc's ``ExtractText`` through the process's :class:`OcrClient`;
- HTTP: the guide's ``_execute_http`` (httpx, ``POST
  {MODEL_SERVER_URL}/ocr/extract`` with the image paths, then ``text``,
  ``confidence``, ``text_boxes``, ``metadata`` from the JSON), which ocrpc
  serves too (REST);
- fallback (``GRPC_FALLBACK_TO_HTTP``, off by default): a gRPC call still
  UNAVAILABLE after the client's retries is made again over HTTP;
- every call is counted per path (:mod:`ocr_worker.paths`).

Errors, as in the guide:

- gRPC ``UNAVAILABLE`` / ``DEADLINE_EXCEEDED`` (after the client's own
  retries), HTTP timeouts, network errors and 503 become
  :class:`RetryableError`: the Celery task retries later;
- any other gRPC status or HTTP error status, and an in-band failure,
  become :class:`OCRFailedError` (a ``ValueError``, as the guide raises):
  final.
"""

import dataclasses
import logging
from typing import Any, Dict, List, Optional

import random
import zlib

import httpx
from ocrpc_client import OcrError, OcrFailed, OcrUnavailable

from . import config, paths
from .grpc_client import get_ocr_grpc_client

logger = logging.getLogger(__name__)


class RetryableError(Exception):
    """A failure worth retrying later (the guide's ``RetryableError``)."""

    def __init__(self, stage, message):
        super().__init__("%s: %s" % (stage, message))
        self.stage = stage
        self.reason = message

    def __reduce__(self):
        # Picklable with its arguments: the prefork pool sends it (inside
        # Celery's Retry) from the child to the parent process.
        return (type(self), (self.stage, self.reason))


class OCRFailedError(ValueError):
    """A final failure: retrying the same request cannot help.

    ``details`` is the server's cause (``NOT_FOUND``, ``DECODE_ERROR``...)
    or the gRPC status name.
    """

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details

    def __reduce__(self):
        return (type(self), (self.args[0], self.details))


@dataclasses.dataclass
class OCRResult:
    """What the stage leaves in the context (as the guide's OCRResult)."""
    text: str
    confidence: float
    bbox: List[Dict[str, Any]]
    metadata: Dict[str, str]


@dataclasses.dataclass
class PipelineContext:
    """The part of the guide's pipeline context this stage uses."""
    input_file_path: str                 # sent as private_image_path
    public_file_path: str = ""
    language: Optional[str] = None
    request_id: Optional[str] = None
    ocr_result: Optional[OCRResult] = None


def canary_picks_grpc(percent, task_id=None):
    """Whether a task goes over gRPC under a canary of ``percent`` %: from
    a hash of ``task_id`` (stable across the task's retries and workers),
    or at random without one."""
    if percent >= 100.0:
        return True
    if percent <= 0.0:
        return False
    if task_id:
        bucket = zlib.crc32(str(task_id).encode()) % 10000
    else:
        bucket = random.randrange(10000)
    return bucket < percent * 100.0


class OCRStage:
    """OCR stage, HTTP/gRPC dual mode.

    Args:
        use_grpc: force a path; ``None`` decides from
            ``GRPC_CANARY_PERCENT`` / ``USE_GRPC`` (see the module).
        client: an :class:`OcrClient`; ``None`` uses the process singleton.
        task_id: the Celery task id, which a canary keys on.
        fallback_to_http: ``None`` reads ``GRPC_FALLBACK_TO_HTTP``.
        http_client: an ``httpx.Client`` for the HTTP path; ``None`` opens
            one per call, as the guide does.
    """

    name = "OCRStage"

    def __init__(self, use_grpc=None, client=None, task_id=None,
                 fallback_to_http=None, http_client=None):
        if use_grpc is None:
            pct = config.canary_percent()
            use_grpc = config.use_grpc() if pct is None \
                else canary_picks_grpc(pct, task_id)
        self.use_grpc = use_grpc
        self.fallback_to_http = config.fallback_to_http() \
            if fallback_to_http is None else fallback_to_http
        self.ml_server_url = config.MODEL_SERVER_URL.rstrip("/")
        self._client = client
        self._http = http_client

    def execute(self, context):
        """Run OCR for ``context`` and set ``context.ocr_result``."""
        if not self.use_grpc:
            return self._execute_http(context)
        try:
            return self._execute_grpc(context)
        except RetryableError as e:
            if not (self.fallback_to_http
                    and isinstance(e.__cause__, OcrUnavailable)):
                raise
            logger.warning("gRPC unavailable after retries (%s): "
                           "falling back to HTTP", e.reason)
            return self._execute_http(context, paths.HTTP_FALLBACK)

    def _execute_http(self, context, path=paths.HTTP):
        """The guide's HTTP call (``POST /ocr/extract``)."""
        body = {"public_image_path": context.public_file_path,
                "private_image_path": context.input_file_path}
        # Not in the guide's body: the same language as the gRPC path, so
        # both paths read the image alike.
        body["language"] = context.language or config.OCR_LANGUAGE
        headers = {"x-request-id": context.request_id} \
            if context.request_id else None
        paths.record(path)
        try:
            if self._http is not None:
                response = self._http.post(self.ml_server_url + "/ocr/extract",
                                           json=body, headers=headers)
            else:
                with httpx.Client(timeout=config.OCR_HTTP_TIMEOUT,
                                  trust_env=False) as client:
                    response = client.post(
                        self.ml_server_url + "/ocr/extract", json=body,
                        headers=headers)
            response.raise_for_status()
        except (httpx.TimeoutException, httpx.NetworkError) as e:
            raise RetryableError(self.name, "HTTP error: %s" % e) from e
        except httpx.HTTPStatusError as e:
            detail = _http_detail(e.response)
            if e.response.status_code == 503:
                raise RetryableError(self.name, "HTTP 503: %s"
                                     % detail.get("message", "")) from e
            raise OCRFailedError(
                "HTTP OCR failed: %d %s" % (e.response.status_code,
                                            detail.get("message", "")),
                details=detail.get("details")) from e

        ocr_data = response.json()
        context.ocr_result = OCRResult(
            text=ocr_data.get("text", ""),
            confidence=ocr_data.get("confidence", 0.0),
            bbox=ocr_data.get("text_boxes"),
            metadata=ocr_data.get("metadata", {}),
        )
        logger.info("HTTP OCR done: %s", context.input_file_path)
        return context

    def _execute_grpc(self, context):
        client = self._client or get_ocr_grpc_client()
        paths.record(paths.GRPC)
        try:
            response = client.extract(
                path=context.input_file_path,
                language=context.language or config.OCR_LANGUAGE,
                confidence_threshold=0.5,
                use_angle_cls=True,
                request_id=context.request_id)
        except OcrFailed as e:
            # In-band STATUS_FAILURE: final (the guide raises ValueError).
            raise OCRFailedError("OCR failed: %s (%s)"
                                 % (e.message, e.details),
                                 details=e.details) from e
        except OcrError as e:
            if e.retryable:
                raise RetryableError(self.name, "gRPC error: %s" % e) from e
            raise OCRFailedError("gRPC OCR failed: %s" % e,
                                 details=getattr(e.code, "name", e.code)) \
                from e

        context.ocr_result = OCRResult(
            text=response.text,
            confidence=response.overall_confidence,
            bbox=[{"text": b.text, "confidence": b.confidence,
                   "bbox": list(b.bbox.coordinates)}
                  for b in response.text_boxes],
            metadata=dict(response.metadata.data))
        logger.info("gRPC OCR done: %s, %d boxes", context.input_file_path,
                    len(response.text_boxes))
        return context


def _http_detail(response):
    """The FastAPI-style ``{"detail": {"code", "message", "details"}}`` of
    an error answer, or what can be had of it."""
    try:
        d = response.json().get("detail")
    except Exception:
        d = None
    if isinstance(d, dict):
        return d
    return {"message": d if isinstance(d, str) else response.text[:200]}
