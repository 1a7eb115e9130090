# SPDX-License-Identifier: MIT
"""Example Celery worker that sends OCR work to ocrpc over gRPC.

The migration guide's worker, rewritten on :mod:`ocrpc_client`:

- :mod:`ocr_worker.config`: settings from the environment;
- :mod:`ocr_worker.grpc_client`: the process-wide :class:`OcrClient`
  singleton (``get_ocr_grpc_client()``);
- :mod:`ocr_worker.stage`: ``OCRStage``, dual mode behind ``USE_GRPC``;
- :mod:`ocr_worker.app`: the Celery app (Redis broker and result backend);
- :mod:`ocr_worker.tasks`: the ``ocr_image(path, language)`` task.

Run (with ``clients/python`` and this directory on ``PYTHONPATH``)::

    celery -A ocr_worker.app worker --pool prefork --concurrency 4
"""
