from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
USAGE_CHANGE_CAUSE_CONSUME: UsageChangeCause
USAGE_CHANGE_CAUSE_CURRENT: UsageChangeCause
USAGE_CHANGE_CAUSE_DAY_START: UsageChangeCause
USAGE_CHANGE_CAUSE_EXPIRE: UsageChangeCause
USAGE_CHANGE_CAUSE_RELEASE: UsageChangeCause
USAGE_CHANGE_CAUSE_RESERVE: UsageChangeCause
USAGE_CHANGE_CAUSE_SETTLE: UsageChangeCause
USAGE_CHANGE_CAUSE_UNSPECIFIED: UsageChangeCause

class CheckUsageRequest(_message.Message):
    __slots__ = ["user_id"]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class CheckUsageResponse(_message.Message):
    __slots__ = ["status"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: UsageStatus
    def __init__(self, status: _Optional[_Union[UsageStatus, _Mapping]] = ...) -> None: ...

class ConsumeRequest(_message.Message):
    __slots__ = ["idempotency_key", "tokens", "user_id"]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    tokens: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., tokens: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ConsumeResponse(_message.Message):
    __slots__ = ["replayed", "status"]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    replayed: bool
    status: UsageStatus
    def __init__(self, status: _Optional[_Union[UsageStatus, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class DayTokens(_message.Message):
    __slots__ = ["date", "tokens"]
    DATE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    date: str
    tokens: int
    def __init__(self, date: _Optional[str] = ..., tokens: _Optional[int] = ...) -> None: ...

class GetLimitsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetLimitsResponse(_message.Message):
    __slots__ = ["settings"]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: UsageSettings
    def __init__(self, settings: _Optional[_Union[UsageSettings, _Mapping]] = ...) -> None: ...

class MonthByTierRequest(_message.Message):
    __slots__ = ["month", "tier"]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    month: str
    tier: str
    def __init__(self, month: _Optional[str] = ..., tier: _Optional[str] = ...) -> None: ...

class MonthByTierResponse(_message.Message):
    __slots__ = ["month", "tiers"]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    month: str
    tiers: _containers.RepeatedCompositeFieldContainer[TierMonth]
    def __init__(self, month: _Optional[str] = ..., tiers: _Optional[_Iterable[_Union[TierMonth, _Mapping]]] = ...) -> None: ...

class MonthUsage(_message.Message):
    __slots__ = ["average_per_day", "days", "month", "peak_date", "peak_tokens", "tier", "total"]
    AVERAGE_PER_DAY_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    PEAK_DATE_FIELD_NUMBER: _ClassVar[int]
    PEAK_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    average_per_day: int
    days: _containers.RepeatedCompositeFieldContainer[DayTokens]
    month: str
    peak_date: str
    peak_tokens: int
    tier: str
    total: int
    def __init__(self, month: _Optional[str] = ..., days: _Optional[_Iterable[_Union[DayTokens, _Mapping]]] = ..., total: _Optional[int] = ..., average_per_day: _Optional[int] = ..., peak_date: _Optional[str] = ..., peak_tokens: _Optional[int] = ..., tier: _Optional[str] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ["idempotency_key", "reservation_id"]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    reservation_id: int
    def __init__(self, reservation_id: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ["replayed", "reservation", "status"]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    replayed: bool
    reservation: Reservation
    status: UsageStatus
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ..., status: _Optional[_Union[UsageStatus, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class Reservation(_message.Message):
    __slots__ = ["created_at_us", "date", "expires_at_us", "id", "tokens", "user_id"]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_US_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    created_at_us: int
    date: str
    expires_at_us: int
    id: int
    tokens: int
    user_id: str
    def __init__(self, id: _Optional[int] = ..., user_id: _Optional[str] = ..., tokens: _Optional[int] = ..., date: _Optional[str] = ..., created_at_us: _Optional[int] = ..., expires_at_us: _Optional[int] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ["idempotency_key", "tokens", "ttl_ms", "user_id"]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    tokens: int
    ttl_ms: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., tokens: _Optional[int] = ..., ttl_ms: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ["replayed", "reservation", "status"]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    replayed: bool
    reservation: Reservation
    status: UsageStatus
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ..., status: _Optional[_Union[UsageStatus, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class SetLimitsRequest(_message.Message):
    __slots__ = ["default_tier", "shadow", "tier_limit", "time_zone", "user_limit", "user_tier"]
    class ShadowChange(_message.Message):
        __slots__ = ["on", "tier", "user_id"]
        ON_FIELD_NUMBER: _ClassVar[int]
        TIER_FIELD_NUMBER: _ClassVar[int]
        USER_ID_FIELD_NUMBER: _ClassVar[int]
        on: bool
        tier: str
        user_id: str
        def __init__(self, tier: _Optional[str] = ..., user_id: _Optional[str] = ..., on: bool = ...) -> None: ...
    class TierLimitChange(_message.Message):
        __slots__ = ["limit", "remove", "tier"]
        LIMIT_FIELD_NUMBER: _ClassVar[int]
        REMOVE_FIELD_NUMBER: _ClassVar[int]
        TIER_FIELD_NUMBER: _ClassVar[int]
        limit: int
        remove: bool
        tier: str
        def __init__(self, tier: _Optional[str] = ..., limit: _Optional[int] = ..., remove: bool = ...) -> None: ...
    class UserLimitChange(_message.Message):
        __slots__ = ["clear", "limit", "user_id"]
        CLEAR_FIELD_NUMBER: _ClassVar[int]
        LIMIT_FIELD_NUMBER: _ClassVar[int]
        USER_ID_FIELD_NUMBER: _ClassVar[int]
        clear: bool
        limit: int
        user_id: str
        def __init__(self, user_id: _Optional[str] = ..., limit: _Optional[int] = ..., clear: bool = ...) -> None: ...
    class UserTierChange(_message.Message):
        __slots__ = ["tier", "user_id"]
        TIER_FIELD_NUMBER: _ClassVar[int]
        USER_ID_FIELD_NUMBER: _ClassVar[int]
        tier: str
        user_id: str
        def __init__(self, user_id: _Optional[str] = ..., tier: _Optional[str] = ...) -> None: ...
    DEFAULT_TIER_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    TIER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    USER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    USER_TIER_FIELD_NUMBER: _ClassVar[int]
    default_tier: str
    shadow: SetLimitsRequest.ShadowChange
    tier_limit: SetLimitsRequest.TierLimitChange
    time_zone: str
    user_limit: SetLimitsRequest.UserLimitChange
    user_tier: SetLimitsRequest.UserTierChange
    def __init__(self, tier_limit: _Optional[_Union[SetLimitsRequest.TierLimitChange, _Mapping]] = ..., user_limit: _Optional[_Union[SetLimitsRequest.UserLimitChange, _Mapping]] = ..., user_tier: _Optional[_Union[SetLimitsRequest.UserTierChange, _Mapping]] = ..., shadow: _Optional[_Union[SetLimitsRequest.ShadowChange, _Mapping]] = ..., default_tier: _Optional[str] = ..., time_zone: _Optional[str] = ...) -> None: ...

class SetLimitsResponse(_message.Message):
    __slots__ = ["settings"]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: UsageSettings
    def __init__(self, settings: _Optional[_Union[UsageSettings, _Mapping]] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ["idempotency_key", "reservation_id", "tokens"]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    reservation_id: int
    tokens: int
    def __init__(self, reservation_id: _Optional[int] = ..., tokens: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ["replayed", "reservation", "status"]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    replayed: bool
    reservation: Reservation
    status: UsageStatus
    def __init__(self, reservation: _Optional[_Union[Reservation, _Mapping]] = ..., status: _Optional[_Union[UsageStatus, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class TierLimit(_message.Message):
    __slots__ = ["limit", "shadow", "tier"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    limit: int
    shadow: bool
    tier: str
    def __init__(self, tier: _Optional[str] = ..., limit: _Optional[int] = ..., shadow: bool = ...) -> None: ...

class TierMonth(_message.Message):
    __slots__ = ["average_per_user", "tier", "total", "users"]
    AVERAGE_PER_USER_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    average_per_user: int
    tier: str
    total: int
    users: int
    def __init__(self, tier: _Optional[str] = ..., users: _Optional[int] = ..., total: _Optional[int] = ..., average_per_user: _Optional[int] = ...) -> None: ...

class TopUsersRequest(_message.Message):
    __slots__ = ["date", "limit"]
    DATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    date: str
    limit: int
    def __init__(self, date: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class TopUsersResponse(_message.Message):
    __slots__ = ["date", "users"]
    DATE_FIELD_NUMBER: _ClassVar[int]
    USERS_FIELD_NUMBER: _ClassVar[int]
    date: str
    users: _containers.RepeatedCompositeFieldContainer[UserTokens]
    def __init__(self, date: _Optional[str] = ..., users: _Optional[_Iterable[_Union[UserTokens, _Mapping]]] = ...) -> None: ...

class UsageChange(_message.Message):
    __slots__ = ["cause", "live", "status"]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    LIVE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    cause: UsageChangeCause
    live: bool
    status: UsageStatus
    def __init__(self, status: _Optional[_Union[UsageStatus, _Mapping]] = ..., cause: _Optional[_Union[UsageChangeCause, str]] = ..., live: bool = ...) -> None: ...

class UsageHistoryRequest(_message.Message):
    __slots__ = ["months", "user_id"]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    months: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., months: _Optional[int] = ...) -> None: ...

class UsageHistoryResponse(_message.Message):
    __slots__ = ["days", "months", "today"]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    TODAY_FIELD_NUMBER: _ClassVar[int]
    days: _containers.RepeatedCompositeFieldContainer[DayTokens]
    months: _containers.RepeatedCompositeFieldContainer[MonthUsage]
    today: UsageStatus
    def __init__(self, today: _Optional[_Union[UsageStatus, _Mapping]] = ..., days: _Optional[_Iterable[_Union[DayTokens, _Mapping]]] = ..., months: _Optional[_Iterable[_Union[MonthUsage, _Mapping]]] = ...) -> None: ...

class UsageSettings(_message.Message):
    __slots__ = ["default_tier", "retention_days", "retention_months", "tiers", "time_zone"]
    DEFAULT_TIER_FIELD_NUMBER: _ClassVar[int]
    RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MONTHS_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    default_tier: str
    retention_days: int
    retention_months: int
    tiers: _containers.RepeatedCompositeFieldContainer[TierLimit]
    time_zone: str
    def __init__(self, tiers: _Optional[_Iterable[_Union[TierLimit, _Mapping]]] = ..., default_tier: _Optional[str] = ..., time_zone: _Optional[str] = ..., retention_days: _Optional[int] = ..., retention_months: _Optional[int] = ...) -> None: ...

class UsageStatus(_message.Message):
    __slots__ = ["date", "limit", "remaining", "reserved", "resets_at_us", "shadow", "shadow_refusals", "tier", "used", "user_id"]
    DATE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    RESETS_AT_US_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    SHADOW_REFUSALS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    date: str
    limit: int
    remaining: int
    reserved: int
    resets_at_us: int
    shadow: bool
    shadow_refusals: int
    tier: str
    used: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., date: _Optional[str] = ..., used: _Optional[int] = ..., reserved: _Optional[int] = ..., limit: _Optional[int] = ..., remaining: _Optional[int] = ..., resets_at_us: _Optional[int] = ..., tier: _Optional[str] = ..., shadow: bool = ..., shadow_refusals: _Optional[int] = ...) -> None: ...

class UserTokens(_message.Message):
    __slots__ = ["tokens", "user_id"]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    tokens: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., tokens: _Optional[int] = ...) -> None: ...

class WatchUsageRequest(_message.Message):
    __slots__ = ["all_users", "user_ids"]
    ALL_USERS_FIELD_NUMBER: _ClassVar[int]
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    all_users: bool
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ..., all_users: bool = ...) -> None: ...

class UsageChangeCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
