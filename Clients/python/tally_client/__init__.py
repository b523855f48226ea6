"""tally_client: Python clients for tallyd (docs/protocol.md), blocking and asyncio.

    from tally_client import TallyClient, errors

    with TallyClient("/run/tally/tally.sock", timeout_ms=2000) as tally:
        tally.credit("alice", 500, "grant", idempotency_key="signup-alice")
        print(tally.get_balance("alice").available)

A TallyClient is one connection and is not thread-safe: use one per thread.
AsyncTallyClient has the same methods as coroutines, on one connection that many tasks share:

    async with await AsyncTallyClient.connect("/run/tally/tally.sock", timeout_ms=2000) as tally:
        print((await tally.get_balance("alice")).available)
"""

from . import calls, errors, pb
from .aio import AsyncTallyClient
from .calls import PreparedCall
from .client import (
    DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_TIMEOUT_GRACE_MS,
    MAX_FRAME_BYTES,
    METHODS,
    STREAM_METHODS,
    PROTOCOL_VERSION,
    Call,
    Method,
    TallyClient,
)
from .errors import (
    AlreadyExists,
    CallTimeout,
    Code,
    ConnectError,
    ConnectionClosed,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ProtocolError,
    ResourceExhausted,
    TallyError,
    Unavailable,
    Unimplemented,
)

__version__ = "0.1.0"

__all__ = [
    "TallyClient", "AsyncTallyClient", "calls", "PreparedCall", "Call", "Method", "METHODS", "STREAM_METHODS", "MAX_FRAME_BYTES", "PROTOCOL_VERSION",
    "DEFAULT_CONNECT_TIMEOUT_MS", "DEFAULT_TIMEOUT_GRACE_MS", "errors", "pb", "Code",
    "TallyError", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
    "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "OutOfRange", "Unimplemented",
    "Internal", "Unavailable", "ConnectError", "ConnectionClosed", "CallTimeout", "ProtocolError",
]
