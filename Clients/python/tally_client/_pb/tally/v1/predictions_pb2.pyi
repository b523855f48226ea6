from tally_client._pb.tally.v1 import ledger_pb2 as _ledger_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

COMMITMENT_STATUS_ACTIVE: CommitmentStatus
COMMITMENT_STATUS_LOST: CommitmentStatus
COMMITMENT_STATUS_REFUNDED: CommitmentStatus
COMMITMENT_STATUS_UNSPECIFIED: CommitmentStatus
COMMITMENT_STATUS_WON: CommitmentStatus
DESCRIPTOR: _descriptor.FileDescriptor
POSITION_NO: Position
POSITION_UNSPECIFIED: Position
POSITION_YES: Position
PREDICTION_STATUS_OPEN: PredictionStatus
PREDICTION_STATUS_RESOLVED: PredictionStatus
PREDICTION_STATUS_UNSPECIFIED: PredictionStatus
PREDICTION_STATUS_VOIDED: PredictionStatus

class CancelCommitmentRequest(_message.Message):
    __slots__ = ["commitment_id"]
    COMMITMENT_ID_FIELD_NUMBER: _ClassVar[int]
    commitment_id: int
    def __init__(self, commitment_id: _Optional[int] = ...) -> None: ...

class ClosePredictionRequest(_message.Message):
    __slots__ = ["closes_at_us", "prediction_id"]
    CLOSES_AT_US_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    closes_at_us: int
    prediction_id: str
    def __init__(self, prediction_id: _Optional[str] = ..., closes_at_us: _Optional[int] = ...) -> None: ...

class ClosePredictionResponse(_message.Message):
    __slots__ = ["prediction"]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    prediction: Prediction
    def __init__(self, prediction: _Optional[_Union[Prediction, _Mapping]] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ["idempotency_key", "odds_micros", "position", "prediction_id", "stake", "user_id"]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ODDS_MICROS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    STAKE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    odds_micros: int
    position: Position
    prediction_id: str
    stake: int
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., prediction_id: _Optional[str] = ..., position: _Optional[_Union[Position, str]] = ..., stake: _Optional[int] = ..., odds_micros: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ["balance", "commitment", "replayed", "transaction"]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    balance: _ledger_pb2.Balance
    commitment: Commitment
    replayed: bool
    transaction: _ledger_pb2.Transaction
    def __init__(self, commitment: _Optional[_Union[Commitment, _Mapping]] = ..., transaction: _Optional[_Union[_ledger_pb2.Transaction, _Mapping]] = ..., balance: _Optional[_Union[_ledger_pb2.Balance, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class Commitment(_message.Message):
    __slots__ = ["created_at_us", "id", "odds_micros", "position", "potential_winning", "prediction_id", "settled_at_us", "stake", "status", "user_id"]
    CREATED_AT_US_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    ODDS_MICROS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    POTENTIAL_WINNING_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_US_FIELD_NUMBER: _ClassVar[int]
    STAKE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    created_at_us: int
    id: int
    odds_micros: int
    position: Position
    potential_winning: int
    prediction_id: str
    settled_at_us: int
    stake: int
    status: CommitmentStatus
    user_id: str
    def __init__(self, id: _Optional[int] = ..., user_id: _Optional[str] = ..., prediction_id: _Optional[str] = ..., position: _Optional[_Union[Position, str]] = ..., stake: _Optional[int] = ..., odds_micros: _Optional[int] = ..., potential_winning: _Optional[int] = ..., status: _Optional[_Union[CommitmentStatus, str]] = ..., created_at_us: _Optional[int] = ..., settled_at_us: _Optional[int] = ...) -> None: ...

class ListCommitmentsRequest(_message.Message):
    __slots__ = ["before_id", "limit", "prediction_id", "status", "user_id"]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    before_id: int
    limit: int
    prediction_id: str
    status: CommitmentStatus
    user_id: str
    def __init__(self, user_id: _Optional[str] = ..., prediction_id: _Optional[str] = ..., status: _Optional[_Union[CommitmentStatus, str]] = ..., limit: _Optional[int] = ..., before_id: _Optional[int] = ...) -> None: ...

class ListCommitmentsResponse(_message.Message):
    __slots__ = ["commitments", "next_before_id"]
    COMMITMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    commitments: _containers.RepeatedCompositeFieldContainer[Commitment]
    next_before_id: int
    def __init__(self, commitments: _Optional[_Iterable[_Union[Commitment, _Mapping]]] = ..., next_before_id: _Optional[int] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ["closes_at_us", "commitment_ids", "id", "status", "summary", "winning"]
    CLOSES_AT_US_FIELD_NUMBER: _ClassVar[int]
    COMMITMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    WINNING_FIELD_NUMBER: _ClassVar[int]
    closes_at_us: int
    commitment_ids: _containers.RepeatedScalarFieldContainer[int]
    id: str
    status: PredictionStatus
    summary: PredictionSummary
    winning: Position
    def __init__(self, id: _Optional[str] = ..., status: _Optional[_Union[PredictionStatus, str]] = ..., closes_at_us: _Optional[int] = ..., winning: _Optional[_Union[Position, str]] = ..., commitment_ids: _Optional[_Iterable[int]] = ..., summary: _Optional[_Union[PredictionSummary, _Mapping]] = ...) -> None: ...

class PredictionSummary(_message.Message):
    __slots__ = ["losers", "prediction_id", "refunded", "settled_at_us", "status", "tokens_collected", "tokens_paid", "tokens_refunded", "winners", "winning"]
    LOSERS_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_US_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_COLLECTED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PAID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    WINNERS_FIELD_NUMBER: _ClassVar[int]
    WINNING_FIELD_NUMBER: _ClassVar[int]
    losers: int
    prediction_id: str
    refunded: int
    settled_at_us: int
    status: PredictionStatus
    tokens_collected: int
    tokens_paid: int
    tokens_refunded: int
    winners: int
    winning: Position
    def __init__(self, prediction_id: _Optional[str] = ..., status: _Optional[_Union[PredictionStatus, str]] = ..., winning: _Optional[_Union[Position, str]] = ..., winners: _Optional[int] = ..., losers: _Optional[int] = ..., refunded: _Optional[int] = ..., tokens_paid: _Optional[int] = ..., tokens_collected: _Optional[int] = ..., tokens_refunded: _Optional[int] = ..., settled_at_us: _Optional[int] = ...) -> None: ...

class ResolvePredictionRequest(_message.Message):
    __slots__ = ["prediction_id", "winning"]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    WINNING_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    winning: Position
    def __init__(self, prediction_id: _Optional[str] = ..., winning: _Optional[_Union[Position, str]] = ...) -> None: ...

class SettlePredictionResponse(_message.Message):
    __slots__ = ["already_done", "summary"]
    ALREADY_DONE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    already_done: bool
    summary: PredictionSummary
    def __init__(self, summary: _Optional[_Union[PredictionSummary, _Mapping]] = ..., already_done: bool = ...) -> None: ...

class VoidPredictionRequest(_message.Message):
    __slots__ = ["prediction_id"]
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    def __init__(self, prediction_id: _Optional[str] = ...) -> None: ...

class Position(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class CommitmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class PredictionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
