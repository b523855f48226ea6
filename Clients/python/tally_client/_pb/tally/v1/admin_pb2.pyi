from tally_client._pb.tally.v1 import envelope_pb2 as _envelope_pb2
from tally_client._pb.tally.v1 import ledger_pb2 as _ledger_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

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

class BalanceMismatch(_message.Message):
    __slots__ = ["account", "field", "from_history", "stored"]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    FROM_HISTORY_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    account: str
    field: str
    from_history: int
    stored: int
    def __init__(self, account: _Optional[str] = ..., field: _Optional[str] = ..., stored: _Optional[int] = ..., from_history: _Optional[int] = ...) -> None: ...

class ChangesRequest(_message.Message):
    __slots__ = ["after_sequence"]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    def __init__(self, after_sequence: _Optional[int] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ["check_invariants", "digest"]
    CHECK_INVARIANTS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    check_invariants: bool
    digest: bool
    def __init__(self, check_invariants: bool = ..., digest: bool = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ["accepting_mutations", "accounts", "audit_entries", "connections", "digest_sequence", "durable_sequence", "invariant_violations", "invariants_checked", "journal_bytes", "journal_segments", "log_head", "log_node", "queued_calls", "queued_calls_limit", "refusal_reason", "snapshot_age_ms", "snapshot_sequence", "state_digest", "transactions", "uptime_ms", "usage_refusals"]
    class UsageRefusalsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACCEPTING_MUTATIONS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    DIGEST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DURABLE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    INVARIANTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    INVARIANT_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    JOURNAL_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    LOG_HEAD_FIELD_NUMBER: _ClassVar[int]
    LOG_NODE_FIELD_NUMBER: _ClassVar[int]
    QUEUED_CALLS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_CALLS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STATE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_REFUSALS_FIELD_NUMBER: _ClassVar[int]
    accepting_mutations: bool
    accounts: int
    audit_entries: int
    connections: int
    digest_sequence: int
    durable_sequence: int
    invariant_violations: _containers.RepeatedScalarFieldContainer[str]
    invariants_checked: bool
    journal_bytes: int
    journal_segments: int
    log_head: int
    log_node: str
    queued_calls: int
    queued_calls_limit: int
    refusal_reason: str
    snapshot_age_ms: int
    snapshot_sequence: int
    state_digest: str
    transactions: int
    uptime_ms: int
    usage_refusals: _containers.ScalarMap[str, int]
    def __init__(self, accepting_mutations: bool = ..., refusal_reason: _Optional[str] = ..., uptime_ms: _Optional[int] = ..., connections: _Optional[int] = ..., queued_calls: _Optional[int] = ..., queued_calls_limit: _Optional[int] = ..., durable_sequence: _Optional[int] = ..., snapshot_sequence: _Optional[int] = ..., snapshot_age_ms: _Optional[int] = ..., accounts: _Optional[int] = ..., transactions: _Optional[int] = ..., invariants_checked: bool = ..., invariant_violations: _Optional[_Iterable[str]] = ..., journal_segments: _Optional[int] = ..., journal_bytes: _Optional[int] = ..., audit_entries: _Optional[int] = ..., usage_refusals: _Optional[_Mapping[str, int]] = ..., state_digest: _Optional[str] = ..., digest_sequence: _Optional[int] = ..., log_node: _Optional[str] = ..., log_head: _Optional[int] = ...) -> None: ...

class JournalChange(_message.Message):
    __slots__ = ["at_us", "gid", "internal", "live", "method", "request", "result", "role", "sequence", "uid", "usage_day"]
    AT_US_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    USAGE_DAY_FIELD_NUMBER: _ClassVar[int]
    at_us: int
    gid: int
    internal: str
    live: bool
    method: str
    request: bytes
    result: _envelope_pb2.Response
    role: str
    sequence: int
    uid: int
    usage_day: str
    def __init__(self, sequence: _Optional[int] = ..., at_us: _Optional[int] = ..., method: _Optional[str] = ..., request: _Optional[bytes] = ..., internal: _Optional[str] = ..., result: _Optional[_Union[_envelope_pb2.Response, _Mapping]] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., role: _Optional[str] = ..., usage_day: _Optional[str] = ..., live: bool = ...) -> None: ...

class MetricLabel(_message.Message):
    __slots__ = ["name", "value"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class MetricSample(_message.Message):
    __slots__ = ["labels", "name", "value"]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[MetricLabel]
    name: str
    value: float
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[_Iterable[_Union[MetricLabel, _Mapping]]] = ..., value: _Optional[float] = ...) -> None: ...

class MetricsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class MetricsResponse(_message.Message):
    __slots__ = ["samples", "uptime_ms"]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[MetricSample]
    uptime_ms: int
    def __init__(self, samples: _Optional[_Iterable[_Union[MetricSample, _Mapping]]] = ..., uptime_ms: _Optional[int] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ["repair"]
    REPAIR_FIELD_NUMBER: _ClassVar[int]
    repair: bool
    def __init__(self, repair: bool = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ["accounts_checked", "mismatches", "repairs", "transactions_checked", "unrepairable"]
    ACCOUNTS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    MISMATCHES_FIELD_NUMBER: _ClassVar[int]
    REPAIRS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    UNREPAIRABLE_FIELD_NUMBER: _ClassVar[int]
    accounts_checked: int
    mismatches: _containers.RepeatedCompositeFieldContainer[BalanceMismatch]
    repairs: _containers.RepeatedCompositeFieldContainer[_ledger_pb2.Transaction]
    transactions_checked: int
    unrepairable: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, accounts_checked: _Optional[int] = ..., transactions_checked: _Optional[int] = ..., mismatches: _Optional[_Iterable[_Union[BalanceMismatch, _Mapping]]] = ..., repairs: _Optional[_Iterable[_Union[_ledger_pb2.Transaction, _Mapping]]] = ..., unrepairable: _Optional[_Iterable[str]] = ...) -> None: ...

class Revenue(_message.Message):
    __slots__ = ["cents", "currency", "period", "purchases", "tokens"]
    CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PURCHASES_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    cents: int
    currency: str
    period: str
    purchases: int
    tokens: int
    def __init__(self, period: _Optional[str] = ..., currency: _Optional[str] = ..., cents: _Optional[int] = ..., purchases: _Optional[int] = ..., tokens: _Optional[int] = ...) -> None: ...

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

class StatsRequest(_message.Message):
    __slots__ = ["days"]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    days: int
    def __init__(self, days: _Optional[int] = ...) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ["active_commitments", "house_net", "open_predictions", "revenue_by_day", "revenue_by_month", "tokens_burned", "tokens_committed", "tokens_in_circulation", "tokens_minted", "transactions", "users", "volume"]
    ACTIVE_COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    HOUSE_NET_FIELD_NUMBER: _ClassVar[int]
    OPEN_PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_BY_DAY_FIELD_NUMBER: _ClassVar[int]
    REVENUE_BY_MONTH_FIELD_NUMBER: _ClassVar[int]
    TOKENS_BURNED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_IN_CIRCULATION_FIELD_NUMBER: _ClassVar[int]
    TOKENS_MINTED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    active_commitments: int
    house_net: int
    open_predictions: int
    revenue_by_day: _containers.RepeatedCompositeFieldContainer[Revenue]
    revenue_by_month: _containers.RepeatedCompositeFieldContainer[Revenue]
    tokens_burned: int
    tokens_committed: int
    tokens_in_circulation: int
    tokens_minted: int
    transactions: int
    users: int
    volume: _containers.RepeatedCompositeFieldContainer[TypeVolume]
    def __init__(self, users: _Optional[int] = ..., tokens_in_circulation: _Optional[int] = ..., tokens_committed: _Optional[int] = ..., tokens_minted: _Optional[int] = ..., tokens_burned: _Optional[int] = ..., house_net: _Optional[int] = ..., transactions: _Optional[int] = ..., active_commitments: _Optional[int] = ..., open_predictions: _Optional[int] = ..., volume: _Optional[_Iterable[_Union[TypeVolume, _Mapping]]] = ..., revenue_by_day: _Optional[_Iterable[_Union[Revenue, _Mapping]]] = ..., revenue_by_month: _Optional[_Iterable[_Union[Revenue, _Mapping]]] = ...) -> None: ...

class TypeVolume(_message.Message):
    __slots__ = ["tokens", "transactions", "type"]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    tokens: int
    transactions: int
    type: _ledger_pb2.TransactionType
    def __init__(self, type: _Optional[_Union[_ledger_pb2.TransactionType, str]] = ..., transactions: _Optional[int] = ..., tokens: _Optional[int] = ...) -> None: ...
