# SPDX-License-Identifier: MIT
"""The Celery app: Redis broker and result backend from the environment
(``CELERY_BROKER_URL``, ``CELERY_RESULT_BACKEND``)."""

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

from . import config
from .grpc_client import close_ocr_grpc_client

app = Celery("ocr_worker", broker=config.BROKER_URL,
             backend=config.RESULT_BACKEND, include=["ocr_worker.tasks"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # Acknowledge after the task ran: a worker killed mid-task leaves the
    # message to be redelivered (OCR is idempotent).
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    result_expires=24 * 3600,
)


@worker_shutdown.connect
@worker_process_shutdown.connect
def _close_client(**_):
    close_ocr_grpc_client()
