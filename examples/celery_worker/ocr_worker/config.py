# SPDX-License-Identifier: MIT
"""Settings of the example worker, read from the environment.

| variable | default | meaning |
|---|---|---|
| ``CELERY_BROKER_URL`` | ``redis://localhost:6379/0`` | Redis broker |
| ``CELERY_RESULT_BACKEND`` | the broker URL | Redis result backend |
| ``ML_SERVER_GRPC_ADDRESS`` | ``localhost:50051`` | ocrpc's gRPC address |
| ``USE_GRPC`` | ``true`` | ``false`` selects the legacy REST path |
| ``MODEL_SERVER_URL`` | ``http://localhost:8000`` | legacy REST server |
| ``OCR_LANGUAGE`` | ``korean`` | language when a task names none |
| ``OCR_GRPC_TIMEOUT`` | ``300`` | deadline of one gRPC attempt, s |
| ``OCR_GRPC_MAX_ATTEMPTS`` | ``5`` | client attempts per task run |
| ``OCR_GRPC_MAX_BACKOFF`` | ``5`` | cap of the client's backoff, s |
| ``OCR_TASK_MAX_RETRIES`` | ``5`` | Celery retries of a task |
| ``OCR_TASK_RETRY_BASE`` | ``1`` | first Celery retry countdown, s |
| ``OCR_TASK_RETRY_MAX`` | ``30`` | cap of the Celery countdown, s |

``USE_GRPC`` defaults to ``true`` here (the guide's phase 3), not to the
guide's phase-2 ``false``: ocrpc does not serve the REST endpoint yet.
"""

import os


def _bool(name, default):
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes",
                                                        "on")


def use_grpc():
    """``USE_GRPC``, read at call time so that it can change per process."""
    return _bool("USE_GRPC", "true")


BROKER_URL = os.getenv("CELERY_BROKER_URL", "redis://localhost:6379/0")
RESULT_BACKEND = os.getenv("CELERY_RESULT_BACKEND", BROKER_URL)
ML_SERVER_GRPC_ADDRESS = os.getenv("ML_SERVER_GRPC_ADDRESS", "localhost:50051")
MODEL_SERVER_URL = os.getenv("MODEL_SERVER_URL", "http://localhost:8000")
OCR_LANGUAGE = os.getenv("OCR_LANGUAGE", "korean")
OCR_GRPC_TIMEOUT = float(os.getenv("OCR_GRPC_TIMEOUT", "300"))
OCR_GRPC_MAX_ATTEMPTS = int(os.getenv("OCR_GRPC_MAX_ATTEMPTS", "5"))
OCR_GRPC_MAX_BACKOFF = float(os.getenv("OCR_GRPC_MAX_BACKOFF", "5"))
OCR_TASK_MAX_RETRIES = int(os.getenv("OCR_TASK_MAX_RETRIES", "5"))
OCR_TASK_RETRY_BASE = float(os.getenv("OCR_TASK_RETRY_BASE", "1"))
OCR_TASK_RETRY_MAX = float(os.getenv("OCR_TASK_RETRY_MAX", "30"))
