from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetMembershipRequest(_message.Message):
    __slots__ = ["user_id"]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class MembershipResponse(_message.Message):
    __slots__ = ["active", "default_tier", "expires_at_us", "membership_tier", "tier", "updated_at_us", "user_id"]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TIER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_US_FIELD_NUMBER: _ClassVar[int]
    MEMBERSHIP_TIER_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    active: bool
    default_tier: str
    expires_at_us: int
    membership_tier: str
    tier: str
    updated_at_us: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., tier: _Optional[str] = ..., active: bool = ..., membership_tier: _Optional[str] = ..., expires_at_us: _Optional[int] = ..., updated_at_us: _Optional[int] = ..., default_tier: _Optional[str] = ...) -> None: ...

class SetMembershipRequest(_message.Message):
    __slots__ = ["expires_at_us", "tier", "user_id"]
    EXPIRES_AT_US_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    expires_at_us: int
    tier: str
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., tier: _Optional[str] = ..., expires_at_us: _Optional[int] = ...) -> None: ...
