# SPDX-License-Identifier: MIT
"""A synchronous client of ocrpc's ``ocr.OCRService``.

:class:`OcrClient` wraps one gRPC channel (100 MB send/receive limits and
10 s keepalive, as in the migration guide's worker client) and adds the
guide's retry policy: calls that fail with ``UNAVAILABLE`` or
``DEADLINE_EXCEEDED`` are retried with exponential backoff and full jitter,
up to ``max_attempts`` attempts in all; every other failure is raised at once
as a typed :class:`~ocrpc_client.errors.OcrError`.

Reconnects: after a refused or lost connection grpcio's channel waits out a
reconnect backoff of its own, during which calls fail at once without
touching the network. Two things keep the retries from being spent there:
the channel's reconnect backoff is bounded by the client's own
(``initial_backoff`` .. ``max_backoff``), and every retry is sent with
``wait_for_ready``, so it waits (within its ``timeout``) for the channel's
next connection instead of failing on the stale error. A server that comes
back is therefore reached by the first retry after it listens, at most one
reconnect interval (``max_backoff``, +20 % jitter) after it started.

The client is thread-safe (one channel, shared by every thread); create it
after ``fork()``, never before (gRPC channels do not survive a fork).
"""

import collections
import os
import random
import socket
import threading
import time

import grpc

from . import _requests, errors
from ._gen import common_pb2, ocr_pb2, ocr_pb2_grpc

__all__ = ["OcrClient", "RetryEvent", "DEFAULT_OPTIONS", "MB", "channel_target"]

MB = 1024 * 1024

#: Channel options of every client, as in the guide; ``options=`` passed to
#: :class:`OcrClient` are added after these and win on equal keys.
DEFAULT_OPTIONS = (
    ("grpc.max_send_message_length", 100 * MB),
    ("grpc.max_receive_message_length", 100 * MB),
    ("grpc.keepalive_time_ms", 10000),
    ("grpc.keepalive_timeout_ms", 5000),
)

#: Passed to ``retry_hook`` after every failed attempt of a call (a gRPC
#: error; in-band ``STATUS_FAILURE`` answers are not reported).
#:
#: - ``method``: the RPC's name (``"ExtractText"``, ``"ExtractTextBatch"``,
#:   ``"CheckHealth"``, ``"GetBatchStatus"``);
#: - ``attempt``: 1 for the first attempt, 2 for the first retry, ...;
#: - ``error``: the typed :class:`~ocrpc_client.errors.OcrRpcError`;
#: - ``delay``: seconds the client will sleep before the next attempt, or
#:   ``None`` when it gives up (error not retryable, or no attempts left).
RetryEvent = collections.namedtuple("RetryEvent",
                                    "method attempt error delay")


def channel_target(target):
    """The gRPC target and load-balancing options for ``target``.

    - ``"host:port"`` (or any gRPC target string): unchanged, one server.
    - a list (or comma-separated string) of ``"host:port"``: one channel
      balancing calls round robin over all of them (gRPC's
      ``round_robin`` policy over an ``ipv4:``/``ipv6:`` address list);
      host names are resolved once, here.
    - ``"dns:///name:port"``: round robin over every address the name
      resolves to (gRPC re-resolves it when a connection fails).

    Round robin sends each call to a server whose connection is ready; a
    server that stops is skipped once its connection fails, and a call
    that was on it fails UNAVAILABLE and is retried by the client's policy.
    """
    if isinstance(target, str) and "," not in target:
        if target.startswith("dns:"):
            return target, [("grpc.lb_policy_name", "round_robin")]
        return target, []
    items = target.split(",") if isinstance(target, str) else list(target)
    v4, v6 = [], []
    for item in items:
        host, _, port = item.strip().rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise ValueError("target %r is not host:port" % item)
        for fam, _, _, _, sa in socket.getaddrinfo(host, int(port),
                                                   type=socket.SOCK_STREAM):
            if fam == socket.AF_INET:
                v4.append("%s:%d" % (sa[0], sa[1]))
            elif fam == socket.AF_INET6:
                v6.append("[%s]:%d" % (sa[0], sa[1]))
    if not v4 and not v6:
        raise ValueError("no address for %r" % (target,))
    # One URI holds one address family; IPv4 wins when both resolve.
    uri = "ipv4:" + ",".join(dict.fromkeys(v4)) if v4 else \
        "ipv6:" + ",".join(dict.fromkeys(v6))
    return uri, [("grpc.lb_policy_name", "round_robin")]


def _channel_failing(channel):
    """Whether ``channel`` is in TRANSIENT_FAILURE now, i.e. its last
    connection attempt failed (asked without starting a connection): True
    or False, or None when this grpcio cannot say.

    grpcio's public API only offers ``subscribe()``, whose polling thread
    races ``close()`` (it then raises "Cannot monitor channel state: Channel
    closed!" on its own thread), so the channel is asked directly.
    """
    try:
        from grpc import _common
        state = channel._channel.check_connectivity_state(False)
        return (_common.CYGRPC_CONNECTIVITY_STATE_TO_CHANNEL_CONNECTIVITY[
            state] is grpc.ChannelConnectivity.TRANSIENT_FAILURE)
    except Exception:  # another grpcio, or a channel of another kind
        return None


def configure(client, target, timeout, max_attempts, initial_backoff,
              max_backoff, options, retry_hook, token):
    """Validates and stores the settings the sync and asyncio clients share
    (retry policy, bearer token, channel options) on ``client``; returns the
    target string to open the channel on. The channel's own reconnect backoff
    is held within the client's backoff bounds, so that a retry reaches a
    server that came back instead of failing on grpcio's stale error."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    if initial_backoff < 0 or max_backoff < 0:
        raise ValueError("backoffs must be >= 0")
    client.target = target
    client.timeout = timeout
    client.max_attempts = int(max_attempts)
    client.initial_backoff = float(initial_backoff)
    client.max_backoff = float(max_backoff)
    client.retry_hook = retry_hook
    if token is None:
        token = os.environ.get("OCRPC_TOKEN") or None
    client._auth = (("authorization", "Bearer " + token),) if token else ()
    opts = dict(DEFAULT_OPTIONS)
    opts["grpc.initial_reconnect_backoff_ms"] = max(
        1, int(client.initial_backoff * 1000))
    opts["grpc.max_reconnect_backoff_ms"] = max(
        1, int(max(client.max_backoff, client.initial_backoff) * 1000))
    # Several targets: round robin (channel_target).
    target_, lb_options = channel_target(target)
    for k, v in list(lb_options) + list(options or ()):
        opts[k] = v
    client.options = list(opts.items())
    return target_


class OcrClient:
    """Client of one ocrpc server (``ocr.OCRService``).

    Args:
        target: ``"host:port"`` of the server (any gRPC target string), or
            several servers to balance over: a list of ``"host:port"`` or
            ``"dns:///name:port"`` (see :func:`channel_target`).
        timeout: default deadline of *one attempt*, in seconds (the guide's
            300 s). A call therefore takes at most about
            ``max_attempts * timeout`` plus the backoff sleeps, which are
            each at most ``max_backoff``. It also bounds how long a retry
            waits for the channel to reconnect: against a server that stays
            down, the first attempt fails at once and each retry after
            ``timeout`` seconds (raised as ``OcrUnavailable``).
        max_attempts: attempts in all (first call included) for calls that
            fail with ``UNAVAILABLE`` or ``DEADLINE_EXCEEDED``; ``1``
            disables retries.
        initial_backoff: upper bound of the sleep before the first retry;
            it doubles with every retry, capped at ``max_backoff``. The
            actual sleep is uniform in ``[0, bound]`` ("full jitter").
            These bounds also set the channel's own reconnect backoff
            (``grpc.initial_reconnect_backoff_ms`` /
            ``grpc.max_reconnect_backoff_ms``; grpcio's defaults are 1 s
            growing to 120 s), so that a server that came back is
            reconnected to within ``max_backoff`` (+20 % jitter).
        max_backoff: cap of the backoff bound, in seconds.
        options: extra gRPC channel options, a list of ``(key, value)``;
            they override the defaults with the same key.
        retry_hook: optional callable given a :class:`RetryEvent` after
            every failed attempt of a call that raised a gRPC error (useful
            for logging and metrics). Exceptions it raises propagate.
        credentials: optional :class:`grpc.ChannelCredentials`; when given
            the channel is secure.
        token: bearer token for a server started with ``--auth-token-file``,
            sent as ``authorization: Bearer TOKEN`` on every call; ``None``
            (the default) takes ``$OCRPC_TOKEN``, and no header is sent when
            that is unset or empty. A refused token raises
            :class:`~ocrpc_client.errors.OcrUnauthenticated` (not retried).
    """

    def __init__(self, target, *, timeout=300.0, max_attempts=5,
                 initial_backoff=0.1, max_backoff=5.0, options=None,
                 retry_hook=None, credentials=None, token=None):
        channel_target_ = configure(self, target, timeout, max_attempts,
                                    initial_backoff, max_backoff, options,
                                    retry_hook, token)
        if credentials is not None:
            self._channel = grpc.secure_channel(channel_target_, credentials,
                                                options=self.options)
        else:
            self._channel = grpc.insecure_channel(channel_target_,
                                                  options=self.options)
        self._stub = ocr_pb2_grpc.OCRServiceStub(self._channel)
        self._closed = False
        self._lock = threading.Lock()
        self._random = random.Random()

    # -- lifecycle ---------------------------------------------------------

    def close(self):
        """Close the channel; calls in flight are cancelled. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    @property
    def channel(self):
        """The underlying :class:`grpc.Channel`."""
        return self._channel

    # -- retry machinery ---------------------------------------------------

    def backoff_bound(self, attempt):
        """Upper bound of the sleep after failed attempt number ``attempt``
        (1-based): ``min(max_backoff, initial_backoff * 2**(attempt-1))``."""
        return min(self.max_backoff,
                   self.initial_backoff * (2.0 ** (attempt - 1)))

    def _sleep_for(self, attempt):
        return self._random.uniform(0.0, self.backoff_bound(attempt))

    def _failed_attempt(self, method, attempt, rpc_error, waited=False):
        """Map the error, report it, and return (typed_error, delay|None).

        ``waited``: the attempt was sent with ``wait_for_ready``. Such an
        attempt that ran out of time while the channel's connection attempts
        still fail waited for a server that never came back: it is reported
        as UNAVAILABLE (what it means to the caller), not as
        DEADLINE_EXCEEDED."""
        if (waited and rpc_error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                and _channel_failing(self._channel)):
            msg = ("no connection to %s within the attempt's deadline "
                   "(server down or unreachable)" % self.target)
            err = errors.OcrUnavailable(msg, details=msg, attempts=attempt,
                                        rpc_error=rpc_error)
        else:
            err = errors.from_rpc_error(rpc_error, attempts=attempt)
        delay = None
        if err.retryable and attempt < self.max_attempts:
            delay = self._sleep_for(attempt)
        if self.retry_hook is not None:
            self.retry_hook(RetryEvent(method, attempt, err, delay))
        return err, delay

    def _call_unary(self, method, fn, request, timeout, metadata):
        timeout = self.timeout if timeout is None else timeout
        attempt = 0
        while True:
            attempt += 1
            # The first attempt fails fast (nothing listening: UNAVAILABLE at
            # once); retries wait for the channel's reconnection.
            try:
                return fn(request, timeout=timeout, metadata=metadata,
                          wait_for_ready=attempt > 1)
            except grpc.RpcError as e:
                err, delay = self._failed_attempt(method, attempt, e,
                                                  attempt > 1)
                if delay is None:
                    raise err from e
            time.sleep(delay)

    def _metadata(self, request_id=None):
        md = self._auth
        if request_id:
            md += (("x-request-id", str(request_id)),)
        return md or None

    # -- RPCs --------------------------------------------------------------

    def extract(self, path=None, image_data=None, language=None,
                confidence_threshold=None, use_angle_cls=False, options=None,
                timeout=None, request_id=None, raise_on_failure=True):
        """Recognise the text of one image (``ExtractText``).

        Exactly one of ``path`` (resolved by the server inside its image
        root) and ``image_data`` (the image file's bytes) must be given.

        Args:
            path: image path on the server's side (``private_image_path``).
            image_data: the image itself, as bytes.
            language: ``"korean"``, ``"english"``, ... or Tesseract codes
                (``"kor+eng"``); ``None`` lets the server pick its default.
            confidence_threshold: lines below it are dropped; ``None`` lets
                the server use 0.5.
            use_angle_cls: detect the page orientation and rotate first.
            options: ``dict`` of engine options (e.g. ``{"psm": "6"}``).
            timeout: deadline of one attempt (default: the client's).
            request_id: sent as ``x-request-id`` (logged by the server).
            raise_on_failure: when true (the default, as the guide's
                ``OCRStage`` does) an in-band ``STATUS_FAILURE`` raises
                :class:`~ocrpc_client.errors.OcrFailed`; when false the
                response is returned as is.

        Returns:
            the ``ocr_pb2.OCRResponse``.

        Raises:
            OcrFailed: in-band failure (``details``: ``NOT_FOUND``,
                ``DECODE_ERROR``, ...), if ``raise_on_failure``.
            OcrUnavailable, OcrDeadlineExceeded: after ``max_attempts``.
            OcrRpcError subclasses: any other gRPC status, at once.
            ValueError: not exactly one of path and image_data, or
                image_data empty (refused here: the server cannot tell
                empty bytes from no image).
        """
        req = _requests.extract_request(path, image_data, language,
                                        confidence_threshold, use_angle_cls,
                                        options)
        resp = self._call_unary("ExtractText", self._stub.ExtractText, req,
                                timeout, self._metadata(request_id))
        if raise_on_failure and resp.status != common_pb2.STATUS_SUCCESS:
            raise errors.OcrFailed(resp)
        return resp

    def extract_batch(self, images, language=None, batch_id=None,
                      timeout=None, confidence_threshold=None,
                      use_angle_cls=False, request_id=None, options=None,
                      completion_order=True):
        """Recognise several images (``ExtractTextBatch``), streaming.

        Yields one ``ocr_pb2.OCRBatchProgress`` per image as it completes
        (``completion_order``, the default here: ``index`` says which input
        image ``current_result`` belongs to; ``processed_images`` counts
        1..N). With ``completion_order=False`` the server sends them in
        input order, as clients built from the guide's ``.proto`` expect.
        A failed image comes as a progress message whose
        ``current_result.status`` is ``STATUS_FAILURE``; it does not raise.

        Retries: the stream is retried (``UNAVAILABLE`` /
        ``DEADLINE_EXCEEDED``, same policy as unary calls) only until its
        first message arrives. Once a message was yielded, a failure is
        raised as a typed error and never retried, since a retry would
        recognise the images again from the start. ``timeout`` is the
        deadline of the whole stream.

        Args:
            images: iterable of image paths (``str`` / ``os.PathLike``,
                resolved by the server inside its image root), image bytes
                (``bytes`` / ``bytearray`` / ``memoryview``), or
                ``ocr_pb2.ImagePath`` messages.
            language: as in :meth:`extract`.
            batch_id: client-chosen id (the server makes a UUID when
                empty); usable with :meth:`batch_status`.
            timeout: deadline of the whole stream (default: the client's).
            confidence_threshold, use_angle_cls, request_id, options: as
                in :meth:`extract` (``options`` apply to every image).
            completion_order: see above.

        Raises (at the call, before anything is sent):
            TypeError: an image of another type; ValueError: empty bytes.

        Closing the iterator early (``close()`` or dropping it) cancels the
        call.
        """
        req = _requests.batch_request(images, language, batch_id,
                                      confidence_threshold, use_angle_cls,
                                      options, completion_order)
        return self._stream(req, self.timeout if timeout is None else timeout,
                            self._metadata(request_id))

    def _stream(self, req, timeout, metadata):
        attempt = 0
        while True:
            attempt += 1
            call = self._stub.ExtractTextBatch(req, timeout=timeout,
                                               metadata=metadata,
                                               wait_for_ready=attempt > 1)
            try:
                first = next(call)
            except StopIteration:
                return
            except grpc.RpcError as e:
                err, delay = self._failed_attempt("ExtractTextBatch",
                                                  attempt, e, attempt > 1)
                if delay is None:
                    raise err from e
                time.sleep(delay)
                continue
            break
        try:
            yield first
            while True:
                try:
                    msg = next(call)
                except StopIteration:
                    return
                except grpc.RpcError as e:
                    # After the first message: never retried (delay None).
                    err = errors.from_rpc_error(e, attempts=attempt)
                    if self.retry_hook is not None:
                        self.retry_hook(RetryEvent("ExtractTextBatch",
                                                   attempt, err, None))
                    raise err from e
                yield msg
        finally:
            call.cancel()  # no-op once the call has ended

    # llm.LLMService: analyze() and analyze_stream() (ocrpc_client/analysis.py)
    from .analysis import analyze, analyze_stream  # noqa: E402

    def health(self, service_name="OCRService", timeout=None):
        """``CheckHealth``: returns ``ocr_pb2.HealthCheckResponse``
        (``status``, ``engine_type``, ``model_loaded``, ``version``).
        Retried like :meth:`extract`."""
        return self._call_unary("CheckHealth", self._stub.CheckHealth,
                                ocr_pb2.HealthCheckRequest(
                                    service_name=service_name),
                                timeout, self._metadata())

    def batch_status(self, batch_id, timeout=None):
        """``GetBatchStatus``: the job store's view of a batch
        (``ocr_pb2.BatchStatusResponse``: ``state``, ``total_images``,
        ``processed_images``, ``failed_images``, ``results``...).

        Raises:
            OcrNotFound: unknown or expired batch id.
        """
        return self._call_unary("GetBatchStatus", self._stub.GetBatchStatus,
                                ocr_pb2.BatchStatusRequest(batch_id=batch_id),
                                timeout, self._metadata())
