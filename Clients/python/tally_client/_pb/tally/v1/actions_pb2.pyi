from tally_client._pb.tally.v1 import ledger_pb2 as _ledger_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActionPrice(_message.Message):
    __slots__ = ["action", "costs"]
    class CostsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COSTS_FIELD_NUMBER: _ClassVar[int]
    action: str
    costs: _containers.ScalarMap[str, int]
    def __init__(self, action: _Optional[str] = ..., costs: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ListPricesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListPricesResponse(_message.Message):
    __slots__ = ["prices"]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    prices: _containers.RepeatedCompositeFieldContainer[ActionPrice]
    def __init__(self, prices: _Optional[_Iterable[_Union[ActionPrice, _Mapping]]] = ...) -> None: ...

class SetPriceRequest(_message.Message):
    __slots__ = ["action", "cost", "remove", "tier"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    action: str
    cost: int
    remove: bool
    tier: str
    def __init__(self, action: _Optional[str] = ..., tier: _Optional[str] = ..., cost: _Optional[int] = ..., remove: bool = ...) -> None: ...

class SetPriceResponse(_message.Message):
    __slots__ = ["price"]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    price: ActionPrice
    def __init__(self, price: _Optional[_Union[ActionPrice, _Mapping]] = ...) -> None: ...

class SpendActionRequest(_message.Message):
    __slots__ = ["action", "idempotency_key", "memo", "metadata", "reference", "user_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    idempotency_key: str
    memo: str
    metadata: _containers.ScalarMap[str, str]
    reference: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., action: _Optional[str] = ..., reference: _Optional[str] = ..., memo: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...
