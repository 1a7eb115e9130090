# SPDX-License-Identifier: MIT
"""Celery tasks of the example worker."""

import logging
import random

from .app import app
from . import config
from .stage import OCRStage, PipelineContext, RetryableError

logger = logging.getLogger(__name__)


def retry_countdown(retries):
    """Countdown before Celery retry number ``retries + 1``: exponential
    (``OCR_TASK_RETRY_BASE * 2**retries``, capped at ``OCR_TASK_RETRY_MAX``)
    with jitter in [50%, 100%]."""
    bound = min(config.OCR_TASK_RETRY_MAX,
                config.OCR_TASK_RETRY_BASE * (2 ** retries))
    return bound * random.uniform(0.5, 1.0)


@app.task(bind=True, name="ocr_worker.tasks.ocr_image",
          max_retries=config.OCR_TASK_MAX_RETRIES)
def ocr_image(self, path, language=None):
    """Recognise the image at ``path`` (inside the server's image root) and
    return its text.

    Retries: each run makes up to ``OCR_GRPC_MAX_ATTEMPTS`` gRPC attempts
    (client backoff, each sleep at most ``OCR_GRPC_MAX_BACKOFF``); if they
    all end UNAVAILABLE / DEADLINE_EXCEEDED, the task is retried by Celery
    up to ``OCR_TASK_MAX_RETRIES`` times after :func:`retry_countdown`. The
    time a task spends waiting is therefore bounded by the sum of the
    countdowns (at most ``OCR_TASK_MAX_RETRIES * OCR_TASK_RETRY_MAX``) plus,
    per run, the client's sleeps and deadlines. Over REST, timeouts, network
    errors and 503 are retried by Celery the same way. Other failures
    (in-band ``STATUS_FAILURE`` such as NOT_FOUND, other gRPC codes, HTTP
    4xx) fail the task at once.

    Path: ``GRPC_CANARY_PERCENT`` (per task, keyed on the task id) or
    ``USE_GRPC``; see :mod:`ocr_worker.stage`.
    """
    ctx = PipelineContext(input_file_path=path, language=language,
                          request_id=self.request.id)
    try:
        OCRStage(task_id=self.request.id).execute(ctx)
    except RetryableError as e:
        countdown = retry_countdown(self.request.retries)
        logger.warning("%s: %s; Celery retry %d/%d in %.1fs", path, e,
                       self.request.retries + 1, self.max_retries, countdown)
        raise self.retry(exc=e, countdown=countdown)
    return ctx.ocr_result.text
