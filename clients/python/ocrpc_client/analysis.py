# SPDX-License-Identifier: MIT
"""``llm.LLMService`` calls of :class:`~ocrpc_client.OcrClient`:
:func:`analyze` (``AnalyzeText``) and :func:`analyze_stream`
(``AnalyzeTextStream``), with the client's retry policy (``UNAVAILABLE``
and ``DEADLINE_EXCEEDED`` retried with backoff; a stream only until its
first token). They are also the client's methods ``client.analyze(...)``
and ``client.analyze_stream(...)``.
"""

import time

import grpc

from . import errors
from ._gen import common_pb2, llm_pb2, llm_pb2_grpc

__all__ = ["analyze", "analyze_stream", "LlmFailed"]


class LlmFailed(errors.OcrError):
    """``AnalyzeText`` answered ``STATUS_FAILURE`` in band (``code``
    ``LLM_ERROR``; ``details`` e.g. ``INVALID_ARGUMENT``,
    ``BACKEND_REJECTED``, ``CONTEXT_TOO_LONG``). ``response``: the whole
    :class:`LLMResponse`."""

    def __init__(self, response):
        err = response.error
        super().__init__(err.message or "analysis failed", err.code or "LLM_ERROR",
                         err.details)
        self.response = response

    def __reduce__(self):
        return (type(self), (self.response,))

    def __str__(self):
        return "analysis failed: %s (%s: %s)" % (self.message, self.code, self.details)


def _stub(client):
    stub = getattr(client, "_llm_stub", None)
    if stub is None:
        stub = client._llm_stub = llm_pb2_grpc.LLMServiceStub(client.channel)
    return stub


def _request(text, prompt, engine, model, temperature, max_tokens, options):
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    opts = {}
    for k, v in (("engine", engine), ("model", model), ("temperature", temperature),
                 ("max_tokens", max_tokens)):
        if v is not None:
            opts[k] = str(v)
    for k, v in (options or {}).items():
        opts[str(k)] = str(v)
    return llm_pb2.LLMRequest(text=text, prompt=prompt or "",
                              options=common_pb2.Metadata(data=opts))


def analyze(client, text, prompt="", *, engine=None, model=None, temperature=None,
            max_tokens=None, options=None, timeout=None, request_id=None,
            raise_on_failure=True):
    """``AnalyzeText``: returns ``llm_pb2.LLMResponse`` (``analysis``,
    ``confidence``, ``entities`` map, ``metadata``).

    ``engine`` (``"rules"`` or ``"openai"``), ``model``, ``temperature``
    and ``max_tokens`` become the request's ``options``; ``options`` adds
    any other entries.

    Raises:
        LlmFailed: in-band ``STATUS_FAILURE`` (unless
            ``raise_on_failure=False``, which returns the response).
        OcrRpcError: a gRPC error, after the retries
            (``OcrUnavailable``: backend unreachable or overloaded;
            ``OcrDeadlineExceeded``; ``OcrResourceExhausted``: text over
            the message limit).
    """
    req = _request(text, prompt, engine, model, temperature, max_tokens, options)
    r = client._call_unary("AnalyzeText", _stub(client).AnalyzeText, req, timeout,
                           client._metadata(request_id))
    if raise_on_failure and r.status == common_pb2.STATUS_FAILURE:
        raise LlmFailed(r)
    return r


def analyze_stream(client, text, prompt="", *, engine=None, model=None,
                   temperature=None, max_tokens=None, options=None, timeout=None,
                   request_id=None):
    """``AnalyzeTextStream``: yields the tokens (``str``) as the server
    sends them and returns after the ``is_complete`` message. Retried (with
    the client's backoff) only until the first message; a failure after
    that raises. Closing the generator cancels the call, which aborts the
    backend request."""
    req = _request(text, prompt, engine, model, temperature, max_tokens, options)
    timeout = client.timeout if timeout is None else timeout
    metadata = client._metadata(request_id)
    stub = _stub(client)
    attempt = 0
    while True:
        attempt += 1
        call = stub.AnalyzeTextStream(req, timeout=timeout, metadata=metadata)
        try:
            first = next(call)
        except StopIteration:
            return
        except grpc.RpcError as e:
            err, delay = client._failed_attempt("AnalyzeTextStream", attempt, e)
            if delay is None:
                raise err from e
            time.sleep(delay)
            continue
        break
    try:
        msg = first
        while True:
            if msg.token:
                yield msg.token
            if msg.is_complete:
                return
            try:
                msg = next(call)
            except StopIteration:
                return
            except grpc.RpcError as e:
                # After the first message: never retried (delay None).
                err = errors.from_rpc_error(e, attempts=attempt)
                if client.retry_hook is not None:
                    from .client import RetryEvent
                    client.retry_hook(RetryEvent("AnalyzeTextStream", attempt, err, None))
                raise err from e
    finally:
        call.cancel()  # no-op once the call has ended
