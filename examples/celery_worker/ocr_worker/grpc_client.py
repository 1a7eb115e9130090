# SPDX-License-Identifier: MIT
"""The worker's gRPC client: one :class:`ocrpc_client.OcrClient` per process.

As in the guide (``get_ocr_grpc_client()``), every task of a worker process
shares one channel (HTTP/2 multiplexes the calls). The singleton is made
lazily and re-made after a ``fork()`` (Celery's prefork pool forks children
after importing this module; gRPC channels do not survive a fork), so it
works with both ``--pool threads`` and ``--pool prefork``.
"""

import logging
import os
import threading

from ocrpc_client import OcrClient

from . import config

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_client = None
_client_pid = None


def _log_retry(ev):
    if ev.delay is None:
        logger.warning("gRPC %s attempt %d failed, giving up: %s",
                       ev.method, ev.attempt, ev.error)
    else:
        logger.warning("gRPC %s attempt %d failed: %s; retrying in %.2fs",
                       ev.method, ev.attempt, ev.error, ev.delay)


def get_ocr_grpc_client():
    """Return this process's :class:`OcrClient` (created on first use).

    Target ``ML_SERVER_GRPC_ADDRESS``; 100 MB message limits; deadline of
    one attempt ``OCR_GRPC_TIMEOUT`` (300 s); ``OCR_GRPC_MAX_ATTEMPTS``
    attempts for UNAVAILABLE / DEADLINE_EXCEEDED, each retry logged.
    """
    global _client, _client_pid
    pid = os.getpid()
    with _lock:
        if _client is None or _client_pid != pid:
            # After a fork the inherited client is unusable: drop it without
            # closing (closing would touch the parent's gRPC state).
            _client = OcrClient(config.ML_SERVER_GRPC_ADDRESS,
                                timeout=config.OCR_GRPC_TIMEOUT,
                                max_attempts=config.OCR_GRPC_MAX_ATTEMPTS,
                                max_backoff=config.OCR_GRPC_MAX_BACKOFF,
                                retry_hook=_log_retry)
            _client_pid = pid
            logger.info("gRPC client for %s", config.ML_SERVER_GRPC_ADDRESS)
        return _client


def close_ocr_grpc_client():
    """Close this process's client, if any (e.g. at worker shutdown)."""
    global _client, _client_pid
    with _lock:
        if _client is not None and _client_pid == os.getpid():
            _client.close()
        _client = None
        _client_pid = None
