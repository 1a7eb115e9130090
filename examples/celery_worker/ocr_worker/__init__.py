# SPDX-License-Identifier: MIT
"""Example Celery worker that sends OCR work to ocrpc over gRPC or REST.

The migration guide's worker in dual mode, on :mod:`ocrpc_client` and
httpx:

- :mod:`ocr_worker.config`: settings from the environment;
- :mod:`ocr_worker.grpc_client`: the process-wide :class:`OcrClient`
  singleton (``get_ocr_grpc_client()``);
- :mod:`ocr_worker.stage`: ``OCRStage``, dual mode behind ``USE_GRPC`` /
  ``GRPC_CANARY_PERCENT``, with an optional fallback to HTTP;
- :mod:`ocr_worker.paths`: per-path counters (gRPC, HTTP, fallback);
- :mod:`ocr_worker.app`: the Celery app (Redis broker and result backend);
- :mod:`ocr_worker.tasks`: the ``ocr_image(path, language)`` task.

Run (with ``clients/python`` and this directory on ``PYTHONPATH``)::

    celery -A ocr_worker.app worker --pool prefork --concurrency 4
"""
