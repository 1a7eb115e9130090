# SPDX-License-Identifier: MIT
"""``llm.LLMService`` calls of :class:`~ocrpc_client.AsyncOcrClient`:
``await client.analyze(...)`` (``AnalyzeText``) and ``async for token in
client.analyze_stream(...)`` (``AnalyzeTextStream``), with the same
arguments, errors (:class:`~ocrpc_client.LlmFailed`, typed gRPC errors)
and retry policy as the sync client's (:mod:`ocrpc_client.analysis`): a
stream is retried only until its first message.
"""

import contextlib

from ._gen import common_pb2, llm_pb2_grpc
from .analysis import LlmFailed, _request

__all__ = ["analyze", "analyze_stream"]


def _stub(client):
    stub = getattr(client, "_llm_stub", None)
    if stub is None:
        stub = client._llm_stub = llm_pb2_grpc.LLMServiceStub(client.channel)
    return stub


async def analyze(client, text, prompt="", *, engine=None, model=None,
                  temperature=None, max_tokens=None, options=None,
                  timeout=None, request_id=None, raise_on_failure=True):
    """``AnalyzeText``: the ``llm_pb2.LLMResponse``; as
    :func:`ocrpc_client.analysis.analyze`."""
    req = _request(text, prompt, engine, model, temperature, max_tokens,
                   options)
    r = await client._call_unary("AnalyzeText", _stub(client).AnalyzeText,
                                 req, timeout, client._metadata(request_id))
    if raise_on_failure and r.status == common_pb2.STATUS_FAILURE:
        raise LlmFailed(r)
    return r


async def analyze_stream(client, text, prompt="", *, engine=None, model=None,
                         temperature=None, max_tokens=None, options=None,
                         timeout=None, request_id=None):
    """``AnalyzeTextStream``: an async iterator of the tokens (``str``),
    ending after the ``is_complete`` message. Leaving the loop early
    cancels the call (and the backend request)."""
    req = _request(text, prompt, engine, model, temperature, max_tokens,
                   options)
    timeout = client.timeout if timeout is None else timeout
    metadata = client._metadata(request_id)
    stub = _stub(client)
    # aclosing: leaving early cancels the call now, not when collected.
    async with contextlib.aclosing(client._server_stream(
            "AnalyzeTextStream",
            lambda ready: stub.AnalyzeTextStream(req, timeout=timeout,
                                                 metadata=metadata,
                                                 wait_for_ready=ready))) as msgs:
        async for msg in msgs:
            if msg.token:
                yield msg.token
            if msg.is_complete:
                return
