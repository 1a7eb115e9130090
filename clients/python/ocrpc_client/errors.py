# SPDX-License-Identifier: MIT
"""Typed errors of the ocrpc Python client.

Two kinds of failure reach a caller (see the README's "Failure semantics"):

- transport / protocol failures, carried by a gRPC status code: each code
  maps to one subclass of :class:`OcrRpcError` (``OcrUnavailable`` for
  ``UNAVAILABLE``, ``OcrDeadlineExceeded`` for ``DEADLINE_EXCEEDED``, ...).
  Only those two are *retryable* (``error.retryable is True``), as in the
  migration guide's ``OCRStage``; every other code is final.
- in-band failures: the call succeeded (gRPC status OK) but the engine
  answered ``OCRResponse{status: STATUS_FAILURE, error{code, message,
  details}}``; :class:`OcrFailed` carries that ``code``/``message``/
  ``details`` (``details`` names the cause: ``NOT_FOUND``,
  ``DECODE_ERROR``, ...) and the whole ``response``. It is never retryable.

All of them derive from :class:`OcrError`.
"""

import grpc

__all__ = [
    "OcrError", "OcrRpcError", "OcrFailed",
    "OcrCancelled", "OcrUnknown", "OcrInvalidArgument", "OcrDeadlineExceeded",
    "OcrNotFound", "OcrAlreadyExists", "OcrPermissionDenied",
    "OcrResourceExhausted", "OcrFailedPrecondition", "OcrAborted",
    "OcrOutOfRange", "OcrUnimplemented", "OcrInternal", "OcrUnavailable",
    "OcrDataLoss", "OcrUnauthenticated",
    "RETRYABLE_CODES", "from_rpc_error",
]

#: gRPC status codes the client (and the Celery example) retries.
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE,
                             grpc.StatusCode.DEADLINE_EXCEEDED})


class OcrError(Exception):
    """Base class of every error raised by :mod:`ocrpc_client`.

    Attributes:
        code: for RPC errors the :class:`grpc.StatusCode`; for
            :class:`OcrFailed` the in-band ``ErrorInfo.code`` string
            (``"OCR_ERROR"``).
        message: a human-readable message.
        details: for RPC errors the status details sent by the server; for
            :class:`OcrFailed` the in-band ``ErrorInfo.details`` (the cause,
            e.g. ``"NOT_FOUND"``).
        retryable: whether retrying the same call may succeed.
    """

    retryable = False

    def __init__(self, message, code=None, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __reduce__(self):
        return (type(self), (self.message, self.code, self.details))


class OcrRpcError(OcrError):
    """A call that ended with a non-OK gRPC status.

    Attributes (besides :class:`OcrError`'s):
        attempts: how many attempts were made before giving up (1 when the
            error was not retryable).
        rpc_error: the underlying :class:`grpc.RpcError`, if any (also
            available as ``__cause__``).
    """

    grpc_code = grpc.StatusCode.UNKNOWN

    def __init__(self, message, code=None, details=None, attempts=1,
                 rpc_error=None):
        super().__init__(message, code if code is not None else self.grpc_code,
                         details)
        self.attempts = attempts
        self.rpc_error = rpc_error

    def __reduce__(self):
        # Picklable (Celery's prefork pool pickles exceptions between
        # processes): the grpc.RpcError is not, and is dropped.
        return (type(self), (self.message, self.code, self.details,
                             self.attempts))

    def __str__(self):
        name = self.code.name if isinstance(self.code, grpc.StatusCode) \
            else str(self.code)
        s = "%s: %s" % (name, self.details or self.message)
        if self.attempts > 1:
            s += " (after %d attempts)" % self.attempts
        return s


class OcrFailed(OcrError):
    """The server answered ``STATUS_FAILURE`` in band.

    Attributes (besides :class:`OcrError`'s ``code``, ``message``,
    ``details``, taken from ``response.error``):
        response: the full :class:`OCRResponse`.
    """

    def __init__(self, response):
        err = response.error
        super().__init__(err.message or "OCR failed", err.code or "OCR_ERROR",
                         err.details)
        self.response = response

    def __reduce__(self):
        return (type(self), (self.response,))

    def __str__(self):
        return "OCR failed: %s (%s: %s)" % (self.message, self.code,
                                            self.details)


def _rpc_class(name, grpc_code, retryable=False, doc=None):
    cls = type(name, (OcrRpcError,), {
        "grpc_code": grpc_code,
        "retryable": retryable,
        "__doc__": doc or ("gRPC status %s (%d)." % (grpc_code.name,
                                                     grpc_code.value[0])),
    })
    cls.__module__ = __name__
    return cls


OcrCancelled = _rpc_class("OcrCancelled", grpc.StatusCode.CANCELLED)
OcrUnknown = _rpc_class("OcrUnknown", grpc.StatusCode.UNKNOWN)
OcrInvalidArgument = _rpc_class(
    "OcrInvalidArgument", grpc.StatusCode.INVALID_ARGUMENT,
    doc="INVALID_ARGUMENT (3): the request message did not parse. Final.")
OcrDeadlineExceeded = _rpc_class(
    "OcrDeadlineExceeded", grpc.StatusCode.DEADLINE_EXCEEDED, retryable=True,
    doc="DEADLINE_EXCEEDED (4): the call's deadline passed. Retryable.")
OcrNotFound = _rpc_class(
    "OcrNotFound", grpc.StatusCode.NOT_FOUND,
    doc="NOT_FOUND (5): e.g. GetBatchStatus of an unknown or expired batch.")
OcrAlreadyExists = _rpc_class("OcrAlreadyExists",
                              grpc.StatusCode.ALREADY_EXISTS)
OcrPermissionDenied = _rpc_class("OcrPermissionDenied",
                                 grpc.StatusCode.PERMISSION_DENIED)
OcrResourceExhausted = _rpc_class(
    "OcrResourceExhausted", grpc.StatusCode.RESOURCE_EXHAUSTED,
    doc="RESOURCE_EXHAUSTED (8): a message over a size limit. Final.")
OcrFailedPrecondition = _rpc_class("OcrFailedPrecondition",
                                   grpc.StatusCode.FAILED_PRECONDITION)
OcrAborted = _rpc_class("OcrAborted", grpc.StatusCode.ABORTED)
OcrOutOfRange = _rpc_class("OcrOutOfRange", grpc.StatusCode.OUT_OF_RANGE)
OcrUnimplemented = _rpc_class(
    "OcrUnimplemented", grpc.StatusCode.UNIMPLEMENTED,
    doc="UNIMPLEMENTED (12): unknown method or unsupported encoding. Final.")
OcrInternal = _rpc_class(
    "OcrInternal", grpc.StatusCode.INTERNAL,
    doc="INTERNAL (13): a protocol error. Final.")
OcrUnavailable = _rpc_class(
    "OcrUnavailable", grpc.StatusCode.UNAVAILABLE, retryable=True,
    doc="UNAVAILABLE (14): nothing listening, connection lost, or the "
        "server is stopping. Retryable.")
OcrDataLoss = _rpc_class("OcrDataLoss", grpc.StatusCode.DATA_LOSS)
OcrUnauthenticated = _rpc_class("OcrUnauthenticated",
                                grpc.StatusCode.UNAUTHENTICATED)

_BY_CODE = {cls.grpc_code: cls for cls in (
    OcrCancelled, OcrUnknown, OcrInvalidArgument, OcrDeadlineExceeded,
    OcrNotFound, OcrAlreadyExists, OcrPermissionDenied, OcrResourceExhausted,
    OcrFailedPrecondition, OcrAborted, OcrOutOfRange, OcrUnimplemented,
    OcrInternal, OcrUnavailable, OcrDataLoss, OcrUnauthenticated)}


def from_rpc_error(e, attempts=1):
    """Map a :class:`grpc.RpcError` to the matching :class:`OcrRpcError`."""
    try:
        code = e.code()
        details = e.details()
    except Exception:  # an RpcError that is not a Call
        code, details = grpc.StatusCode.UNKNOWN, str(e)
    cls = _BY_CODE.get(code, OcrUnknown)
    err = cls(details or (code.name if code else "RPC failed"), code=code,
              details=details, attempts=attempts, rpc_error=e)
    return err
