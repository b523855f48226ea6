from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

CREDIT_KIND_ADJUSTMENT: CreditKind
CREDIT_KIND_GRANT: CreditKind
CREDIT_KIND_PURCHASE: CreditKind
CREDIT_KIND_REFUND: CreditKind
CREDIT_KIND_UNSPECIFIED: CreditKind
DESCRIPTOR: _descriptor.FileDescriptor
TRANSACTION_STATUS_COMPLETED: TransactionStatus
TRANSACTION_STATUS_UNSPECIFIED: TransactionStatus
TRANSACTION_TYPE_ADJUSTMENT: TransactionType
TRANSACTION_TYPE_COMMIT: TransactionType
TRANSACTION_TYPE_COMMITMENT_REFUND: TransactionType
TRANSACTION_TYPE_GRANT: TransactionType
TRANSACTION_TYPE_LOSS: TransactionType
TRANSACTION_TYPE_PURCHASE: TransactionType
TRANSACTION_TYPE_REFUND: TransactionType
TRANSACTION_TYPE_SPEND: TransactionType
TRANSACTION_TYPE_UNSPECIFIED: TransactionType
TRANSACTION_TYPE_WIN: TransactionType

class Balance(_message.Message):
    __slots__ = ["available", "committed", "created_at_us", "total_earned", "total_spent", "updated_at_us", "user_id", "version"]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EARNED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SPENT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    available: int
    committed: int
    created_at_us: int
    total_earned: int
    total_spent: int
    updated_at_us: int
    user_id: str
    version: int
    def __init__(self, user_id: _Optional[str] = ..., available: _Optional[int] = ..., committed: _Optional[int] = ..., total_earned: _Optional[int] = ..., total_spent: _Optional[int] = ..., version: _Optional[int] = ..., created_at_us: _Optional[int] = ..., updated_at_us: _Optional[int] = ...) -> None: ...

class BalanceChange(_message.Message):
    __slots__ = ["live", "position", "transaction"]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    live: bool
    position: int
    transaction: Transaction
    def __init__(self, position: _Optional[int] = ..., transaction: _Optional[_Union[Transaction, _Mapping]] = ..., live: bool = ...) -> None: ...

class CreditRequest(_message.Message):
    __slots__ = ["amount", "idempotency_key", "kind", "memo", "metadata", "reference", "user_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    amount: int
    idempotency_key: str
    kind: CreditKind
    memo: str
    metadata: _containers.ScalarMap[str, str]
    reference: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., amount: _Optional[int] = ..., kind: _Optional[_Union[CreditKind, str]] = ..., reference: _Optional[str] = ..., memo: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreditResponse(_message.Message):
    __slots__ = ["balance", "replayed", "transaction"]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    replayed: bool
    transaction: Transaction
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ["user_id"]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ["balance"]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class GetTransactionRequest(_message.Message):
    __slots__ = ["transaction_id"]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: int
    def __init__(self, transaction_id: _Optional[int] = ...) -> None: ...

class GetTransactionResponse(_message.Message):
    __slots__ = ["transaction"]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ...) -> None: ...

class ListTransactionsRequest(_message.Message):
    __slots__ = ["before_id", "limit", "since_us", "types", "until_us", "user_id"]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SINCE_US_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    UNTIL_US_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    before_id: int
    limit: int
    since_us: int
    types: _containers.RepeatedScalarFieldContainer[TransactionType]
    until_us: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., types: _Optional[_Iterable[_Union[TransactionType, str]]] = ..., since_us: _Optional[int] = ..., until_us: _Optional[int] = ..., limit: _Optional[int] = ..., before_id: _Optional[int] = ...) -> None: ...

class ListTransactionsResponse(_message.Message):
    __slots__ = ["next_before_id", "transactions"]
    NEXT_BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    next_before_id: int
    transactions: _containers.RepeatedCompositeFieldContainer[Transaction]
    def __init__(self, transactions: _Optional[_Iterable[_Union[Transaction, _Mapping]]] = ..., next_before_id: _Optional[int] = ...) -> None: ...

class SpendRequest(_message.Message):
    __slots__ = ["amount", "idempotency_key", "memo", "metadata", "reference", "user_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    amount: int
    idempotency_key: str
    memo: str
    metadata: _containers.ScalarMap[str, str]
    reference: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., amount: _Optional[int] = ..., reference: _Optional[str] = ..., memo: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SpendResponse(_message.Message):
    __slots__ = ["balance", "replayed", "transaction"]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    replayed: bool
    transaction: Transaction
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class Transaction(_message.Message):
    __slots__ = ["action", "amount", "balance_after", "balance_before", "committed_after", "committed_before", "created_at_us", "id", "idempotency_key", "memo", "metadata", "reference", "status", "tier", "type", "user_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AFTER_FIELD_NUMBER: _ClassVar[int]
    BALANCE_BEFORE_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AFTER_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    amount: int
    balance_after: int
    balance_before: int
    committed_after: int
    committed_before: int
    created_at_us: int
    id: int
    idempotency_key: str
    memo: str
    metadata: _containers.ScalarMap[str, str]
    reference: str
    status: TransactionStatus
    tier: str
    type: TransactionType
    user_id: str
    def __init__(self, id: _Optional[int] = ..., user_id: _Optional[str] = ..., type: _Optional[_Union[TransactionType, str]] = ..., amount: _Optional[int] = ..., balance_before: _Optional[int] = ..., balance_after: _Optional[int] = ..., status: _Optional[_Union[TransactionStatus, str]] = ..., reference: _Optional[str] = ..., memo: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., created_at_us: _Optional[int] = ..., committed_before: _Optional[int] = ..., committed_after: _Optional[int] = ..., action: _Optional[str] = ..., tier: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class WatchBalanceRequest(_message.Message):
    __slots__ = ["after_position", "all_users", "resume", "user_ids"]
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    ALL_USERS_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    after_position: int
    all_users: bool
    resume: bool
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ..., all_users: bool = ..., resume: bool = ..., after_position: _Optional[int] = ...) -> None: ...

class CreditKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class TransactionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class TransactionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
