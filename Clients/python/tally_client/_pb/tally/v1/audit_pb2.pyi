from tally_client._pb.tally.v1 import envelope_pb2 as _envelope_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

AUDIT_STATUS_ACCEPTED: AuditStatus
AUDIT_STATUS_ANY: AuditStatus
AUDIT_STATUS_REFUSED: AuditStatus
DESCRIPTOR: _descriptor.FileDescriptor

class AuditEntry(_message.Message):
    __slots__ = ["at_us", "code", "gid", "id", "message", "method", "reason", "replayed", "role", "transaction_ids", "uid", "user_id"]
    AT_US_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    at_us: int
    code: _envelope_pb2.Code
    gid: int
    id: int
    message: str
    method: str
    reason: str
    replayed: bool
    role: str
    transaction_ids: _containers.RepeatedScalarFieldContainer[int]
    uid: int
    user_id: str
    def __init__(self, id: _Optional[int] = ..., at_us: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., role: _Optional[str] = ..., method: _Optional[str] = ..., user_id: _Optional[str] = ..., code: _Optional[_Union[_envelope_pb2.Code, str]] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., replayed: bool = ..., transaction_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ListAuditRequest(_message.Message):
    __slots__ = ["before_id", "limit", "reason", "since_us", "status", "until_us", "user_id"]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SINCE_US_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_US_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    before_id: int
    limit: int
    reason: str
    since_us: int
    status: AuditStatus
    until_us: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., status: _Optional[_Union[AuditStatus, str]] = ..., reason: _Optional[str] = ..., since_us: _Optional[int] = ..., until_us: _Optional[int] = ..., limit: _Optional[int] = ..., before_id: _Optional[int] = ...) -> None: ...

class ListAuditResponse(_message.Message):
    __slots__ = ["entries", "next_before_id"]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    next_before_id: int
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., next_before_id: _Optional[int] = ...) -> None: ...

class AuditStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
