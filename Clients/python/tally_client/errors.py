"""Exceptions raised by tally_client.

Every failure is a :class:`TallyError` carrying the gRPC status ``code``, tallyd's stable
``reason`` word (branch on this), its ``message`` (for people; do not parse it) and the
``details`` map (facts for programs; numbers are decimal strings). The class is picked by the
code, so ``except ResourceExhausted`` catches DAILY_LIMIT_EXCEEDED, and ``e.reason`` tells it
apart from RATE_LIMITED. docs/protocol.md §8 lists every code, reason and details key.

Errors made by the client itself, not answered by tallyd:

* :class:`ConnectError` (an :class:`Unavailable`): the socket could not be connected.
* :class:`ConnectionClosed`: the connection ended. ``reason`` is the reason of tallyd's final
  call-id-0 frame (``FRAME_TOO_LARGE``, ``MALFORMED_FRAME``, ``CALL_ID_MISSING``,
  ``FRAME_INCOMPLETE``, ``NO_ROLE``, ``TOO_MANY_CONNECTIONS``...), or ``CONNECTION_CLOSED``
  when tallyd closed without one, or ``CLIENT_CLOSED`` after :meth:`TallyClient.close`.
* :class:`CallTimeout` (a :class:`DeadlineExceeded`): no answer within the call's deadline plus
  the client's grace. Unlike tallyd's own DEADLINE_EXCEEDED this does not say the call did not
  run.
* :class:`ProtocolError` (an :class:`Internal`): tallyd sent something the client cannot read.

Where ``outcome_unknown`` is true, a mutation may or may not have been applied: retry it with
the same idempotency key and the identical request (docs/protocol.md §6, §9).
"""

from __future__ import annotations

import enum
from typing import Any, Dict, Mapping, Optional, Type


class Code(enum.IntEnum):
    """gRPC status codes, with gRPC's numbers (tally.v1.Code without the CODE_ prefix)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


def _code(value: int) -> Any:
    try:
        return Code(value)
    except ValueError:  # a code this client does not know: keep the number
        return int(value)


class TallyError(Exception):
    """A call that did not succeed. Base class of every error this package raises."""

    #: The gRPC code the class stands for (None: any, see ``code``).
    grpc_code: Optional[Code] = None
    #: True when a mutation may or may not have been applied.
    outcome_unknown: bool = False

    def __init__(
        self,
        code: int,
        reason: str = "",
        message: str = "",
        details: Optional[Mapping[str, str]] = None,
        *,
        call_id: int = 0,
        method: str = "",
    ) -> None:
        self.code = _code(code)
        #: The answers a pipeline did get before this error (None: not a pipeline's error).
        self.partial_results: Optional[list] = None
        self.reason = reason
        self.message = message
        self.details: Dict[str, str] = dict(details or {})
        self.call_id = call_id
        self.method = method
        super().__init__(self.code, reason, message, self.details)

    @property
    def code_name(self) -> str:
        return self.code.name if isinstance(self.code, Code) else f"CODE_{self.code}"

    def detail_int(self, key: str, default: Optional[int] = None) -> Optional[int]:
        """``details[key]`` as an int (tallyd sends numbers as decimal strings)."""
        value = self.details.get(key)
        return default if value is None else int(value)

    def __str__(self) -> str:
        text = self.code_name
        if self.reason:
            text += f" {self.reason}"
        if self.message:
            text += f": {self.message}"
        if self.details:
            text += " " + ", ".join(f"{k}={v}" for k, v in sorted(self.details.items()))
        if self.method:
            text += f" [{self.method}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code_name}, reason={self.reason!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )

    # Exceptions are pickled by re-calling __init__ with self.args; keep every field.
    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: Type[TallyError], state: Dict[str, Any]) -> TallyError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("code"), state.get("reason"), state.get("message"), state.get("details"))
    error.__dict__.update(state)
    return error


class Cancelled(TallyError):
    grpc_code = Code.CANCELLED


class Unknown(TallyError):
    grpc_code = Code.UNKNOWN


class InvalidArgument(TallyError):
    grpc_code = Code.INVALID_ARGUMENT


class DeadlineExceeded(TallyError):
    grpc_code = Code.DEADLINE_EXCEEDED


class NotFound(TallyError):
    grpc_code = Code.NOT_FOUND


class AlreadyExists(TallyError):
    grpc_code = Code.ALREADY_EXISTS


class PermissionDenied(TallyError):
    grpc_code = Code.PERMISSION_DENIED


class ResourceExhausted(TallyError):
    grpc_code = Code.RESOURCE_EXHAUSTED


class FailedPrecondition(TallyError):
    grpc_code = Code.FAILED_PRECONDITION


class Aborted(TallyError):
    grpc_code = Code.ABORTED


class OutOfRange(TallyError):
    grpc_code = Code.OUT_OF_RANGE


class Unimplemented(TallyError):
    grpc_code = Code.UNIMPLEMENTED


class Internal(TallyError):
    grpc_code = Code.INTERNAL


class Unavailable(TallyError):
    grpc_code = Code.UNAVAILABLE


class DataLoss(TallyError):
    grpc_code = Code.DATA_LOSS


class Unauthenticated(TallyError):
    grpc_code = Code.UNAUTHENTICATED


_BY_CODE: Dict[int, Type[TallyError]] = {
    cls.grpc_code: cls
    for cls in (
        Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
        PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange,
        Unimplemented, Internal, Unavailable, DataLoss, Unauthenticated,
    )
    if cls.grpc_code is not None
}


class ConnectError(Unavailable):
    """The socket could not be connected (missing, refused, no permission, backlog full).

    ``reason`` is ``CONNECT_FAILED``; ``details`` has ``path`` and ``errno`` (a name such as
    ``ENOENT``); the OSError is chained as ``__cause__``. Nothing was sent.
    """


class ConnectionClosed(TallyError):
    """The connection is gone; every call still unanswered has an unknown outcome.

    ``code``/``reason``/``message``/``details`` are those of tallyd's final call-id-0 frame
    (``final_frame``, a tally.v1.Response) when it sent one, else ``UNAVAILABLE
    CONNECTION_CLOSED`` (or ``CLIENT_CLOSED`` after close()). A pipeline that was cut off sets
    ``partial_results``: the answers that did arrive, None for the others.
    """

    outcome_unknown = True

    def __init__(self, *args: Any, final_frame: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.final_frame = final_frame
        self.partial_results: Optional[list] = None


class CallTimeout(DeadlineExceeded):
    """No answer arrived in time (the call's ``timeout_ms`` plus the client's grace).

    ``reason`` is ``CLIENT_TIMEOUT``. tallyd may still run the call: the outcome is unknown,
    so retry a mutation with the same idempotency key. A late answer is discarded when it
    arrives, and the connection stays usable, unless the request was still being written (then
    it is closed). A pipeline sets ``partial_results`` like :class:`ConnectionClosed`.
    """

    outcome_unknown = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.partial_results: Optional[list] = None


class ProtocolError(Internal):
    """tallyd sent a frame the client cannot read (too large, not a tally.v1.Response, or an
    answer payload that does not decode); the connection is closed."""

    outcome_unknown = True


def error_from_response(response: Any, method: str = "") -> TallyError:
    """The exception for a tally.v1.Response whose code is not OK."""
    cls = _BY_CODE.get(int(response.code), TallyError)
    return cls(
        response.code,
        response.reason,
        response.message,
        dict(response.details),
        call_id=response.call_id,
        method=method,
    )


__all__ = [
    "Code", "TallyError", "Cancelled", "Unknown", "InvalidArgument", "DeadlineExceeded",
    "NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
    "Unauthenticated", "ConnectError", "ConnectionClosed", "CallTimeout", "ProtocolError",
    "error_from_response",
]
