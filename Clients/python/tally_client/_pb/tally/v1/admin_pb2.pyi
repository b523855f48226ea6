from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class BackupRequest(_message.Message):
    __slots__ = ["path"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class BackupResponse(_message.Message):
    __slots__ = ["accounts", "bytes", "journal_sequence", "path"]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    accounts: int
    bytes: int
    journal_sequence: int
    path: str
    def __init__(self, path: _Optional[str] = ..., journal_sequence: _Optional[int] = ..., bytes: _Optional[int] = ..., accounts: _Optional[int] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ["check_invariants"]
    CHECK_INVARIANTS_FIELD_NUMBER: _ClassVar[int]
    check_invariants: bool
    def __init__(self, check_invariants: bool = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ["accepting_mutations", "accounts", "connections", "durable_sequence", "invariant_violations", "invariants_checked", "queued_calls", "queued_calls_limit", "refusal_reason", "snapshot_age_ms", "snapshot_sequence", "transactions", "uptime_ms"]
    ACCEPTING_MUTATIONS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    DURABLE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    INVARIANTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    INVARIANT_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_CALLS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_CALLS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    accepting_mutations: bool
    accounts: int
    connections: int
    durable_sequence: int
    invariant_violations: _containers.RepeatedScalarFieldContainer[str]
    invariants_checked: bool
    queued_calls: int
    queued_calls_limit: int
    refusal_reason: str
    snapshot_age_ms: int
    snapshot_sequence: int
    transactions: int
    uptime_ms: int
    def __init__(self, accepting_mutations: bool = ..., refusal_reason: _Optional[str] = ..., uptime_ms: _Optional[int] = ..., connections: _Optional[int] = ..., queued_calls: _Optional[int] = ..., queued_calls_limit: _Optional[int] = ..., durable_sequence: _Optional[int] = ..., snapshot_sequence: _Optional[int] = ..., snapshot_age_ms: _Optional[int] = ..., accounts: _Optional[int] = ..., transactions: _Optional[int] = ..., invariants_checked: bool = ..., invariant_violations: _Optional[_Iterable[str]] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ["accounts", "bytes", "journal_sequence", "path"]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    accounts: int
    bytes: int
    journal_sequence: int
    path: str
    def __init__(self, path: _Optional[str] = ..., journal_sequence: _Optional[int] = ..., bytes: _Optional[int] = ..., accounts: _Optional[int] = ...) -> None: ...
