"""tally_client: a blocking Python client for tallyd (docs/protocol.md).

    from tally_client import TallyClient, errors

    with TallyClient("/run/tally/tally.sock", timeout_ms=2000) as tally:
        tally.credit("alice", 500, "grant", idempotency_key="signup-alice")
        print(tally.get_balance("alice").available)

A TallyClient is one connection and is not thread-safe: use one per thread.
"""

from . import errors, pb
from .client import (
    DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_TIMEOUT_GRACE_MS,
    MAX_FRAME_BYTES,
    METHODS,
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
    "TallyClient", "Call", "Method", "METHODS", "MAX_FRAME_BYTES", "PROTOCOL_VERSION",
    "DEFAULT_CONNECT_TIMEOUT_MS", "DEFAULT_TIMEOUT_GRACE_MS", "errors", "pb", "Code",
    "TallyError", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
    "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "OutOfRange", "Unimplemented",
    "Internal", "Unavailable", "ConnectError", "ConnectionClosed", "CallTimeout", "ProtocolError",
]
