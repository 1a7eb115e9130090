# SPDX-License-Identifier: MIT
"""``OCRStage``: the guide's OCR pipeline stage, on :mod:`ocrpc_client`.

Dual mode, as in the guide's migration phases: ``USE_GRPC=true`` calls
ocrpc's ``ExtractText`` through the process's :class:`OcrClient`;
``USE_GRPC=false`` selects the legacy REST call (``POST /ocr/extract``),
which ocrpc does not serve yet: that path raises
:class:`RestEndpointUnavailable`.

Errors, as in the guide:

- gRPC ``UNAVAILABLE`` / ``DEADLINE_EXCEEDED`` (after the client's own
  retries) become :class:`RetryableError`: the Celery task retries later;
- any other gRPC status, and an in-band ``STATUS_FAILURE`` answer, become
  :class:`OCRFailedError` (a ``ValueError``, as the guide raises): final.
"""

import dataclasses
import logging
from typing import Any, Dict, List, Optional

from ocrpc_client import OcrError, OcrFailed

from . import config
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


class RestEndpointUnavailable(NotImplementedError):
    """``USE_GRPC=false``: the legacy REST endpoint is not available yet."""


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


class OCRStage:
    """OCR stage, HTTP/gRPC dual mode.

    Args:
        use_grpc: force a mode; ``None`` reads ``USE_GRPC`` (default true).
        client: an :class:`OcrClient`; ``None`` uses the process singleton.
    """

    name = "OCRStage"

    def __init__(self, use_grpc=None, client=None):
        self.use_grpc = config.use_grpc() if use_grpc is None else use_grpc
        self.ml_server_url = config.MODEL_SERVER_URL
        self._client = client

    def execute(self, context):
        """Run OCR for ``context`` and set ``context.ocr_result``."""
        if self.use_grpc:
            return self._execute_grpc(context)
        return self._execute_http(context)

    def _execute_http(self, context):
        raise RestEndpointUnavailable(
            "USE_GRPC=false selects the legacy REST endpoint "
            "(POST %s/ocr/extract), which ocrpc does not serve yet (it comes "
            "in a later issue); set USE_GRPC=true to use the gRPC server at "
            "ML_SERVER_GRPC_ADDRESS" % self.ml_server_url)

    def _execute_grpc(self, context):
        client = self._client or get_ocr_grpc_client()
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
