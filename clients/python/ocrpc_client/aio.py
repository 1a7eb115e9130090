# SPDX-License-Identifier: MIT
"""An asyncio client of ocrpc's ``ocr.OCRService`` (``grpc.aio``).

:class:`AsyncOcrClient` is :class:`~ocrpc_client.OcrClient` for
``async def`` code such as the guide's ``OCRStage`` and gRPC client: the
same methods (awaited), the same channel options (100 MB messages, 10 s
keepalive), the same typed errors and the same retry policy: calls that
fail with ``UNAVAILABLE`` or ``DEADLINE_EXCEEDED`` are retried with
exponential backoff and full jitter, up to ``max_attempts`` attempts, each
retry sent with ``wait_for_ready`` so that it waits (within its
``timeout``) for the channel's next connection to a server that came back;
a retry that ran out of time while the channel still could not connect is
reported as ``OcrUnavailable``. Batches and ``analyze_stream`` token
streams are async iterators.

Create it inside the event loop that uses it (``grpc.aio`` channels belong
to one loop), and close it with ``await client.close()`` or
``async with``.
"""

import asyncio
import contextlib
import random

import grpc
import grpc.aio

from . import _requests, errors
from ._gen import common_pb2, ocr_pb2, ocr_pb2_grpc
from .client import OcrClient, RetryEvent, configure

__all__ = ["AsyncOcrClient"]


class AsyncOcrClient:
    """Asyncio client of one ocrpc server (``ocr.OCRService``).

    Arguments as :class:`~ocrpc_client.OcrClient`: ``target``, ``timeout``
    (deadline of one attempt, s), ``max_attempts``, ``initial_backoff``,
    ``max_backoff``, ``options`` (extra channel options), ``retry_hook``
    (called with a :class:`~ocrpc_client.RetryEvent` after every failed
    attempt; may be a plain function or a coroutine function),
    ``credentials``, ``token`` (bearer token; default ``$OCRPC_TOKEN``).
    """

    def __init__(self, target, *, timeout=300.0, max_attempts=5,
                 initial_backoff=0.1, max_backoff=5.0, options=None,
                 retry_hook=None, credentials=None, token=None):
        channel_target_ = configure(self, target, timeout, max_attempts,
                                    initial_backoff, max_backoff, options,
                                    retry_hook, token)
        if credentials is not None:
            self._channel = grpc.aio.secure_channel(channel_target_, credentials,
                                                    options=self.options)
        else:
            self._channel = grpc.aio.insecure_channel(channel_target_,
                                                      options=self.options)
        self._stub = ocr_pb2_grpc.OCRServiceStub(self._channel)
        self._random = random.Random()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    async def close(self):
        """Close the channel; calls in flight are cancelled. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._channel.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        await self.close()
        return False

    @property
    def channel(self):
        """The underlying :class:`grpc.aio.Channel`."""
        return self._channel

    # -- retry machinery ---------------------------------------------------

    # The sync client's: it reads only the backoffs configure() set.
    backoff_bound = OcrClient.backoff_bound

    def _channel_failing(self):
        try:
            return (self._channel.get_state(try_to_connect=False)
                    is grpc.ChannelConnectivity.TRANSIENT_FAILURE)
        except Exception:  # a channel that cannot say
            return False

    async def _failed_attempt(self, method, attempt, rpc_error, waited):
        if (waited and rpc_error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                and self._channel_failing()):
            msg = ("no connection to %s within the attempt's deadline "
                   "(server down or unreachable)" % self.target)
            err = errors.OcrUnavailable(msg, details=msg, attempts=attempt,
                                        rpc_error=rpc_error)
        else:
            err = errors.from_rpc_error(rpc_error, attempts=attempt)
        delay = None
        if err.retryable and attempt < self.max_attempts:
            delay = self._random.uniform(0.0, self.backoff_bound(attempt))
        await self._report(RetryEvent(method, attempt, err, delay))
        return err, delay

    async def _report(self, event):
        if self.retry_hook is not None:
            r = self.retry_hook(event)
            if asyncio.iscoroutine(r):
                await r

    async def _call_unary(self, method, fn, request, timeout, metadata):
        timeout = self.timeout if timeout is None else timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                return await fn(request, timeout=timeout, metadata=metadata,
                                wait_for_ready=attempt > 1)
            except grpc.RpcError as e:
                err, delay = await self._failed_attempt(method, attempt, e,
                                                        attempt > 1)
                if delay is None:
                    raise err from e
            await asyncio.sleep(delay)

    def _metadata(self, request_id=None):
        md = self._auth
        if request_id:
            md += (("x-request-id", str(request_id)),)
        return md or None

    # -- RPCs --------------------------------------------------------------

    async def extract(self, path=None, image_data=None, language=None,
                      confidence_threshold=None, use_angle_cls=False,
                      options=None, timeout=None, request_id=None,
                      raise_on_failure=True):
        """``ExtractText``, as :meth:`OcrClient.extract
        <ocrpc_client.OcrClient.extract>`: returns the ``OCRResponse``;
        raises ``OcrFailed`` for an in-band failure (if
        ``raise_on_failure``), ``OcrRpcError`` subclasses for gRPC
        statuses, ValueError for a bad or empty image argument."""
        req = _requests.extract_request(path, image_data, language,
                                        confidence_threshold, use_angle_cls,
                                        options)
        resp = await self._call_unary("ExtractText", self._stub.ExtractText,
                                      req, timeout,
                                      self._metadata(request_id))
        if raise_on_failure and resp.status != common_pb2.STATUS_SUCCESS:
            raise errors.OcrFailed(resp)
        return resp

    def extract_batch(self, images, language=None, batch_id=None,
                      timeout=None, confidence_threshold=None,
                      use_angle_cls=False, request_id=None, options=None,
                      completion_order=True):
        """``ExtractTextBatch`` as an async iterator of
        ``OCRBatchProgress``::

            async for p in client.extract_batch(["a.png", "b.png"]):
                print(p.index, p.current_result.text)

        Same arguments and retry rule as :meth:`OcrClient.extract_batch
        <ocrpc_client.OcrClient.extract_batch>`: retried only until the
        first message arrives; ``timeout`` is the whole stream's deadline.
        Leaving the loop early cancels the call. The request is built (and
        bad images refused with TypeError / ValueError) here, before
        iteration starts."""
        req = _requests.batch_request(images, language, batch_id,
                                      confidence_threshold, use_angle_cls,
                                      options, completion_order)
        return self._stream(req, self.timeout if timeout is None else timeout,
                            self._metadata(request_id))

    async def _stream(self, req, timeout, metadata):
        async with contextlib.aclosing(self._server_stream(
                "ExtractTextBatch",
                lambda ready: self._stub.ExtractTextBatch(
                    req, timeout=timeout, metadata=metadata,
                    wait_for_ready=ready))) as msgs:
            async for msg in msgs:
                yield msg

    async def _server_stream(self, method, start):
        """Yields the messages of a server-streaming call. ``start(ready)``
        opens one attempt (``ready``: wait_for_ready); attempts are retried
        by the policy until the first message arrives, never after it (the
        caller has already seen results)."""
        attempt = 0
        while True:
            attempt += 1
            call = start(attempt > 1)
            try:
                msg = await call.read()
            except grpc.RpcError as e:
                err, delay = await self._failed_attempt(
                    method, attempt, e, attempt > 1)
                if delay is None:
                    raise err from e
                await asyncio.sleep(delay)
                continue
            break
        try:
            while msg is not grpc.aio.EOF:
                yield msg
                try:
                    msg = await call.read()
                except grpc.RpcError as e:
                    err = errors.from_rpc_error(e, attempts=attempt)
                    await self._report(RetryEvent(method, attempt, err, None))
                    raise err from e
        finally:
            call.cancel()  # no-op once the call has ended

    # llm.LLMService: await analyze() and async for ... in analyze_stream()
    # (ocrpc_client/aio_analysis.py).
    from .aio_analysis import analyze, analyze_stream  # noqa: E402

    async def health(self, service_name="OCRService", timeout=None):
        """``CheckHealth``: the ``HealthCheckResponse``; retried like
        :meth:`extract`."""
        return await self._call_unary(
            "CheckHealth", self._stub.CheckHealth,
            ocr_pb2.HealthCheckRequest(service_name=service_name), timeout,
            self._metadata())

    async def batch_status(self, batch_id, timeout=None):
        """``GetBatchStatus``: the ``BatchStatusResponse`` (results by
        index). Raises ``OcrNotFound`` for an unknown or expired id."""
        return await self._call_unary(
            "GetBatchStatus", self._stub.GetBatchStatus,
            ocr_pb2.BatchStatusRequest(batch_id=batch_id), timeout,
            self._metadata())
