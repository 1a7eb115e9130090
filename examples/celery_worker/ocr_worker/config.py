# SPDX-License-Identifier: MIT
"""Settings of the example worker, read from the environment.

| variable | default | meaning |
|---|---|---|
| ``CELERY_BROKER_URL`` | ``redis://localhost:6379/0`` | Redis broker |
| ``CELERY_RESULT_BACKEND`` | the broker URL | Redis result backend |
| ``ML_SERVER_GRPC_ADDRESS`` | ``localhost:50051`` | ocrpc's gRPC address |
| ``USE_GRPC`` | ``false`` | ``true``: every task uses gRPC; ``false``: REST |
| ``GRPC_CANARY_PERCENT`` | unset | 0-100: share of tasks sent over gRPC, picked per task (overrides ``USE_GRPC``) |
| ``GRPC_FALLBACK_TO_HTTP`` | ``false`` | a task whose gRPC call stays UNAVAILABLE after the client's retries is sent over REST |
| ``MODEL_SERVER_URL`` | ``http://localhost:8000`` | the REST server (ocrpc's REST port, or the gRPC port, which also speaks HTTP/1.1) |
| ``OCR_HTTP_TIMEOUT`` | ``300`` | REST call timeout, s |
| ``OCR_PATH_COUNTER_KEY`` | unset (off) | Redis hash in the result backend counting calls per path, e.g. ``ocr_worker:paths`` |
| ``OCR_LANGUAGE`` | ``korean`` | language when a task names none |
| ``OCR_GRPC_TIMEOUT`` | ``300`` | deadline of one gRPC attempt, s |
| ``OCR_GRPC_MAX_ATTEMPTS`` | ``5`` | client attempts per task run |
| ``OCR_GRPC_MAX_BACKOFF`` | ``5`` | cap of the client's backoff, s |
| ``OCR_TASK_MAX_RETRIES`` | ``5`` | Celery retries of a task |
| ``OCR_TASK_RETRY_BASE`` | ``1`` | first Celery retry countdown, s |
| ``OCR_TASK_RETRY_MAX`` | ``30`` | cap of the Celery countdown, s |

The migration phases of the guide map onto these: phase 2 (dual mode) is
``USE_GRPC=false`` with ``GRPC_CANARY_PERCENT=10``, then ``50``, ``90``;
phase 3 is ``USE_GRPC=true`` with ``GRPC_FALLBACK_TO_HTTP=true``; phase 4
drops the fallback. ocrpc serves both protocols throughout.
"""

import os


def _bool(name, default):
    return os.getenv(name, default).strip().lower() in ("1", "true", "yes",
                                                        "on")


def use_grpc():
    """``USE_GRPC``, read at call time so that it can change per process."""
    return _bool("USE_GRPC", "false")


def canary_percent():
    """``GRPC_CANARY_PERCENT`` as a float in [0, 100], or None when unset.
    Raises ValueError for anything else (a typo must not silently send all
    traffic one way)."""
    v = os.getenv("GRPC_CANARY_PERCENT", "").strip()
    if not v:
        return None
    p = float(v)
    if not 0.0 <= p <= 100.0:
        raise ValueError("GRPC_CANARY_PERCENT must be between 0 and 100, "
                         "not %r" % v)
    return p


def fallback_to_http():
    """``GRPC_FALLBACK_TO_HTTP`` (default false)."""
    return _bool("GRPC_FALLBACK_TO_HTTP", "false")


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
OCR_HTTP_TIMEOUT = float(os.getenv("OCR_HTTP_TIMEOUT", "300"))
OCR_PATH_COUNTER_KEY = os.getenv("OCR_PATH_COUNTER_KEY", "")
