# SPDX-License-Identifier: MIT
"""Per-path counters: how many OCR calls went over gRPC, over REST, and
over REST as a fallback after gRPC stayed UNAVAILABLE.

Counted in this process (:func:`counts`, for in-process use and tests)
and, for a fleet, when ``OCR_PATH_COUNTER_KEY`` is set (e.g.
``ocr_worker:paths``), in that Redis hash of the result backend, shared
by every worker (fields ``grpc``, ``http``, ``http_fallback``), so that a
canary's split can be read with ``HGETALL ocr_worker:paths``. A
counter that cannot be written is logged, never fails the task.
"""

import collections
import logging
import threading

from . import config

logger = logging.getLogger(__name__)

GRPC, HTTP, HTTP_FALLBACK = "grpc", "http", "http_fallback"

_lock = threading.Lock()
_counts = collections.Counter()
_redis = None


def _store():
    global _redis
    if not config.OCR_PATH_COUNTER_KEY or \
            not config.RESULT_BACKEND.startswith("redis://"):
        return None
    if _redis is None:
        import redis
        _redis = redis.Redis.from_url(config.RESULT_BACKEND,
                                      socket_timeout=5)
    return _redis


def record(path):
    """Count one call over ``path`` (GRPC, HTTP or HTTP_FALLBACK)."""
    with _lock:
        _counts[path] += 1
    try:
        r = _store()
        if r is not None:
            r.hincrby(config.OCR_PATH_COUNTER_KEY, path, 1)
    except Exception as e:  # counting must never fail the task
        logger.warning("path counter not written: %s", e)


def counts():
    """This process's counts, a dict path -> int."""
    with _lock:
        return dict(_counts)
