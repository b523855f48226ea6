from tally_client._pb.tally.v1 import ledger_pb2 as _ledger_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
PURCHASE_STATUS_COMPLETED: PurchaseStatus
PURCHASE_STATUS_FAILED: PurchaseStatus
PURCHASE_STATUS_PENDING: PurchaseStatus
PURCHASE_STATUS_UNSPECIFIED: PurchaseStatus

class CompletePurchaseRequest(_message.Message):
    __slots__ = ["payment_id"]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    def __init__(self, payment_id: _Optional[str] = ...) -> None: ...

class DeactivatePackageRequest(_message.Message):
    __slots__ = ["package_id"]
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    def __init__(self, package_id: _Optional[str] = ...) -> None: ...

class DeactivatePackageResponse(_message.Message):
    __slots__ = ["package"]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    package: TokenPackage
    def __init__(self, package: _Optional[_Union[TokenPackage, _Mapping]] = ...) -> None: ...

class FailPurchaseRequest(_message.Message):
    __slots__ = ["payment_id", "reason"]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    reason: str
    def __init__(self, payment_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetPurchaseRequest(_message.Message):
    __slots__ = ["payment_id"]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    payment_id: str
    def __init__(self, payment_id: _Optional[str] = ...) -> None: ...

class ListPackagesRequest(_message.Message):
    __slots__ = ["include_inactive"]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    include_inactive: bool
    def __init__(self, include_inactive: bool = ...) -> None: ...

class ListPackagesResponse(_message.Message):
    __slots__ = ["packages"]
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    packages: _containers.RepeatedCompositeFieldContainer[TokenPackage]
    def __init__(self, packages: _Optional[_Iterable[_Union[TokenPackage, _Mapping]]] = ...) -> None: ...

class ListPurchasesRequest(_message.Message):
    __slots__ = ["limit", "user_id"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    limit: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListPurchasesResponse(_message.Message):
    __slots__ = ["purchases"]
    PURCHASES_FIELD_NUMBER: _ClassVar[int]
    purchases: _containers.RepeatedCompositeFieldContainer[Purchase]
    def __init__(self, purchases: _Optional[_Iterable[_Union[Purchase, _Mapping]]] = ...) -> None: ...

class Purchase(_message.Message):
    __slots__ = ["balance", "bonus_tokens", "created_at_us", "currency", "failure_reason", "id", "package_id", "payment_id", "price_cents", "settled_at_us", "status", "tokens", "transaction", "user_id"]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    BONUS_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_CENTS_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_US_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    balance: _ledger_pb2.Balance
    bonus_tokens: int
    created_at_us: int
    currency: str
    failure_reason: str
    id: int
    package_id: str
    payment_id: str
    price_cents: int
    settled_at_us: int
    status: PurchaseStatus
    tokens: int
    transaction: _ledger_pb2.Transaction
    user_id: str
    def __init__(self, id: _Optional[int] = ..., user_id: _Optional[str] = ..., package_id: _Optional[str] = ..., payment_id: _Optional[str] = ..., tokens: _Optional[int] = ..., bonus_tokens: _Optional[int] = ..., price_cents: _Optional[int] = ..., currency: _Optional[str] = ..., status: _Optional[_Union[PurchaseStatus, str]] = ..., failure_reason: _Optional[str] = ..., created_at_us: _Optional[int] = ..., settled_at_us: _Optional[int] = ..., transaction: _Optional[_Union[_ledger_pb2.Transaction, _Mapping]] = ..., balance: _Optional[_Union[_ledger_pb2.Balance, _Mapping]] = ...) -> None: ...

class PurchaseResponse(_message.Message):
    __slots__ = ["already_done", "purchase"]
    ALREADY_DONE_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    already_done: bool
    purchase: Purchase
    def __init__(self, purchase: _Optional[_Union[Purchase, _Mapping]] = ..., already_done: bool = ...) -> None: ...

class SavePackageRequest(_message.Message):
    __slots__ = ["package"]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    package: TokenPackage
    def __init__(self, package: _Optional[_Union[TokenPackage, _Mapping]] = ...) -> None: ...

class SavePackageResponse(_message.Message):
    __slots__ = ["package"]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    package: TokenPackage
    def __init__(self, package: _Optional[_Union[TokenPackage, _Mapping]] = ...) -> None: ...

class StartPurchaseRequest(_message.Message):
    __slots__ = ["package_id", "payment_id", "user_id"]
    PACKAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    package_id: str
    payment_id: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., package_id: _Optional[str] = ..., payment_id: _Optional[str] = ...) -> None: ...

class TokenPackage(_message.Message):
    __slots__ = ["active", "bonus_tokens", "created_at_us", "currency", "external_price_id", "id", "name", "price_cents", "sort_order", "tokens", "updated_at_us"]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    BONUS_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_PRICE_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PRICE_CENTS_FIELD_NUMBER: _ClassVar[int]
    SORT_ORDER_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    active: bool
    bonus_tokens: int
    created_at_us: int
    currency: str
    external_price_id: str
    id: str
    name: str
    price_cents: int
    sort_order: int
    tokens: int
    updated_at_us: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., tokens: _Optional[int] = ..., bonus_tokens: _Optional[int] = ..., price_cents: _Optional[int] = ..., currency: _Optional[str] = ..., external_price_id: _Optional[str] = ..., active: bool = ..., sort_order: _Optional[int] = ..., created_at_us: _Optional[int] = ..., updated_at_us: _Optional[int] = ...) -> None: ...

class PurchaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
