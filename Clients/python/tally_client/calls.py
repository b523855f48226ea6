"""Every typed method of the tally.v1 services, defined once for both clients.

Each function here builds one rpc's request and says how to read its answer: it returns a
:class:`PreparedCall`, which :class:`tally_client.TallyClient` runs and waits for, and
:class:`tally_client.AsyncTallyClient` runs and awaits (``blocking`` and ``awaitable`` turn a
function here into the client's method, with the same parameters and a typed answer). A
PreparedCall can also go into either client's ``pipeline``::

    from tally_client import calls
    balance, spent = tally.pipeline([calls.get_balance("alice"), calls.spend("alice", 5)])
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Generic, List, Mapping, Optional, TypeVar, Union, cast

from google.protobuf.message import Message

from . import pb

if TYPE_CHECKING:
    from typing import Concatenate, ParamSpec, Protocol

    P = ParamSpec("P")

    class _Blocking(Protocol):
        def call(self, method: str, request: Union[Message, bytes] = ..., response_type: Any = ..., timeout_ms: Optional[int] = ...) -> Any: ...

    class _Awaiting(Protocol):
        async def call(self, method: str, request: Union[Message, bytes] = ..., response_type: Any = ..., timeout_ms: Optional[int] = ...) -> Any: ...

T = TypeVar("T")


def _itself(answer: Any) -> Any:
    return answer


@dataclass(frozen=True)
class PreparedCall(Generic[T]):
    """One rpc ready to send: its wire path, its request, the call's ``timeout_ms`` (None: the
    client's default), and ``answer``, which turns the decoded response into what the typed
    method returns (the Balance inside a GetBalanceResponse, for example)."""

    method: str
    request: Message
    timeout_ms: Optional[int] = None
    answer: Callable[[Any], T] = field(default=_itself)


def blocking(build: "Callable[P, PreparedCall[T]]") -> "Callable[Concatenate[_Blocking, P], T]":
    """``build`` as a method of a blocking client: it sends the call and returns its answer."""

    def method(self: "_Blocking", /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        prepared = build(*args, **kwargs)
        return prepared.answer(self.call(prepared.method, prepared.request, timeout_ms=prepared.timeout_ms))

    functools.update_wrapper(method, build)
    return method


def awaitable(build: "Callable[P, PreparedCall[T]]") -> "Callable[Concatenate[_Awaiting, P], Coroutine[Any, Any, T]]":
    """``build`` as a method of an asyncio client: a coroutine that sends the call and returns its answer."""

    async def method(self: "_Awaiting", /, *args: "P.args", **kwargs: "P.kwargs") -> T:
        prepared = build(*args, **kwargs)
        return prepared.answer(await self.call(prepared.method, prepared.request, timeout_ms=prepared.timeout_ms))

    functools.update_wrapper(method, build)
    return method


def _credit_kind(kind: Union[int, str]) -> "pb.CreditKind":
    if isinstance(kind, str):
        name = kind.upper()
        if not name.startswith("CREDIT_KIND_"):
            name = "CREDIT_KIND_" + name
        return cast(pb.CreditKind, pb.CreditKind.Value(name))
    return cast(pb.CreditKind, int(kind))


# -- tally.v1.Ledger -----------------------------------------------------------------------

def get_balance(user_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.Balance]:
    """The user's Balance (all zero, version 0, for a user never credited)."""
    return PreparedCall("/tally.v1.Ledger/GetBalance", pb.GetBalanceRequest(user_id=user_id), timeout_ms, lambda answer: answer.balance)


def credit(
    user_id: str,
    amount: int,
    kind: Union[int, str],
    *,
    reference: str = "",
    memo: str = "",
    idempotency_key: str = "",
    metadata: Optional[Mapping[str, str]] = None,
    timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.CreditResponse]:
    """Adds ``amount`` tokens. ``kind``: "purchase", "grant", "refund", "adjustment" or a
    pb.CREDIT_KIND_* number. ``metadata``: key-value facts kept on the transaction. Returns
    the CreditResponse (transaction, balance, replayed)."""
    request = pb.CreditRequest(
        user_id=user_id, amount=amount, kind=_credit_kind(kind), reference=reference,
        memo=memo, idempotency_key=idempotency_key, metadata=dict(metadata or {}),
    )
    return PreparedCall("/tally.v1.Ledger/Credit", request, timeout_ms)


def spend(
    user_id: str,
    amount: int,
    *,
    reference: str = "",
    memo: str = "",
    idempotency_key: str = "",
    metadata: Optional[Mapping[str, str]] = None,
    timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.SpendResponse]:
    """Takes ``amount`` tokens, or raises FailedPrecondition INSUFFICIENT_TOKENS (details
    available, requested, shortfall). ``metadata`` as for credit. Returns the SpendResponse."""
    request = pb.SpendRequest(
        user_id=user_id, amount=amount, reference=reference, memo=memo, idempotency_key=idempotency_key,
        metadata=dict(metadata or {}),
    )
    return PreparedCall("/tally.v1.Ledger/Spend", request, timeout_ms)


def get_transaction(transaction_id: int, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.Transaction]:
    """One Transaction by id (NotFound TRANSACTION_NOT_FOUND if none)."""
    request = pb.GetTransactionRequest(transaction_id=transaction_id)
    return PreparedCall("/tally.v1.Ledger/GetTransaction", request, timeout_ms, lambda answer: answer.transaction)


def list_transactions(
    user_id: str = "", types: Any = (), since_us: int = 0, until_us: int = 0, limit: int = 0, before_id: int = 0,
    *, timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.ListTransactionsResponse]:
    """A user's transactions (every user's for admins with ``user_id=""``), newest first: the
    ListTransactionsResponse; pass its ``next_before_id`` as ``before_id`` for the next page."""
    request = pb.ListTransactionsRequest(
        user_id=user_id, types=list(types), since_us=since_us, until_us=until_us, limit=limit, before_id=before_id
    )
    return PreparedCall("/tally.v1.Ledger/ListTransactions", request, timeout_ms)


# -- tally.v1.Usage ------------------------------------------------------------------------

def check_usage(user_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.UsageStatus]:
    """Where the user stands today: a UsageStatus (used, reserved, limit, remaining,
    resets_at_us, tier...)."""
    return PreparedCall("/tally.v1.Usage/Check", pb.CheckUsageRequest(user_id=user_id), timeout_ms, lambda answer: answer.status)


def consume(
    user_id: str, tokens: int, *, idempotency_key: str = "", timeout_ms: Optional[int] = None
) -> PreparedCall[pb.ConsumeResponse]:
    """Counts ``tokens`` if they fit today's limit, else raises ResourceExhausted
    DAILY_LIMIT_EXCEEDED (details used, reserved, limit, remaining, requested, resets_at_us,
    day). Returns the ConsumeResponse (status, replayed)."""
    request = pb.ConsumeRequest(user_id=user_id, tokens=tokens, idempotency_key=idempotency_key)
    return PreparedCall("/tally.v1.Usage/Consume", request, timeout_ms)


def reserve(
    user_id: str,
    tokens: int,
    *,
    ttl_ms: int = 0,
    idempotency_key: str = "",
    timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.ReserveResponse]:
    """Holds ``tokens`` of today's quota for a model call (same rule as consume). Returns
    the ReserveResponse; settle or release ``.reservation.id`` within ``ttl_ms`` (0: 60 s)."""
    request = pb.ReserveRequest(user_id=user_id, tokens=tokens, ttl_ms=ttl_ms, idempotency_key=idempotency_key)
    return PreparedCall("/tally.v1.Usage/Reserve", request, timeout_ms)


def settle(
    reservation_id: int, tokens: int, *, idempotency_key: str = "", timeout_ms: Optional[int] = None
) -> PreparedCall[pb.SettleResponse]:
    """Ends a reservation, charging the real ``tokens`` in full. Raises NotFound
    RESERVATION_NOT_FOUND if it is not open (settled, released or expired)."""
    request = pb.SettleRequest(reservation_id=reservation_id, tokens=tokens, idempotency_key=idempotency_key)
    return PreparedCall("/tally.v1.Usage/Settle", request, timeout_ms)


def release(reservation_id: int, *, idempotency_key: str = "", timeout_ms: Optional[int] = None) -> PreparedCall[pb.ReleaseResponse]:
    """Ends a reservation counting nothing (the model call failed)."""
    request = pb.ReleaseRequest(reservation_id=reservation_id, idempotency_key=idempotency_key)
    return PreparedCall("/tally.v1.Usage/Release", request, timeout_ms)


def get_limits(*, timeout_ms: Optional[int] = None) -> PreparedCall[pb.UsageSettings]:
    """The UsageSettings: tiers and their limits, default tier, time zone, retention."""
    return PreparedCall("/tally.v1.Usage/GetLimits", pb.GetLimitsRequest(), timeout_ms, lambda answer: answer.settings)


def set_limits(
    request: Optional[Any] = None, *, timeout_ms: Optional[int] = None, **change: Any
) -> PreparedCall[pb.UsageSettings]:
    """Changes one setting (admin) and returns the new UsageSettings. Pass a
    SetLimitsRequest, or exactly one change by keyword:

    ``tier_limit={"tier": "trial", "limit": 5000}`` (``"remove": True`` drops the tier),
    ``user_limit={"user_id": "bob", "limit": 100}`` (``"clear": True``),
    ``user_tier={"user_id": "bob", "tier": "subscribed"}``,
    ``shadow={"tier": "trial", "on": True}`` (or ``"user_id"``),
    ``default_tier="subscribed"``, ``time_zone="Europe/Paris"``.
    """
    if request is None:
        if len(change) > 1:
            raise ValueError(f"set_limits takes one change at a time, got {sorted(change)}")
        request = pb.SetLimitsRequest(**change)
    elif change:
        raise ValueError("pass either a SetLimitsRequest or one change keyword, not both")
    return PreparedCall("/tally.v1.Usage/SetLimits", request, timeout_ms, lambda answer: answer.settings)


def history(user_id: str, months: int = 0, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.UsageHistoryResponse]:
    """The user's UsageHistoryResponse: today, daily records and monthly aggregates, newest
    first (``months``: how many recent months, 0 for all kept)."""
    request = pb.UsageHistoryRequest(user_id=user_id, months=months)
    return PreparedCall("/tally.v1.Usage/History", request, timeout_ms)


def top_users(date: str = "", limit: int = 0, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.TopUsersResponse]:
    """The users with most tokens on ``date`` ("YYYY-MM-DD", "" for today; ``limit`` 0 for 10,
    at most 1000): a TopUsersResponse."""
    return PreparedCall("/tally.v1.Usage/TopUsers", pb.TopUsersRequest(date=date, limit=limit), timeout_ms)


def month_by_tier(month: str = "", tier: str = "", *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.MonthByTierResponse]:
    """A month's users, total and average per tier ("YYYY-MM", "" for this month)."""
    request = pb.MonthByTierRequest(month=month, tier=tier)
    return PreparedCall("/tally.v1.Usage/MonthByTier", request, timeout_ms)


# -- tally.v1.Purchases --------------------------------------------------------------------

def save_package(package: Any = None, *, timeout_ms: Optional[int] = None, **fields: Any) -> PreparedCall[pb.TokenPackage]:
    """Creates or updates a token package (admin); pass a TokenPackage or its fields by
    keyword (``id``, ``name``, ``tokens``, ``bonus_tokens``, ``price_cents``, ``currency``,
    ``external_price_id``, ``active``, ``sort_order``). Returns the saved TokenPackage."""
    if package is None:
        package = pb.TokenPackage(**fields)
    request = pb.SavePackageRequest(package=package)
    return PreparedCall("/tally.v1.Purchases/SavePackage", request, timeout_ms, lambda answer: answer.package)


def deactivate_package(package_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.TokenPackage]:
    """Takes a package off sale (admin); returns the TokenPackage."""
    request = pb.DeactivatePackageRequest(package_id=package_id)
    return PreparedCall("/tally.v1.Purchases/DeactivatePackage", request, timeout_ms, lambda answer: answer.package)


def list_packages(include_inactive: bool = False, *, timeout_ms: Optional[int] = None) -> PreparedCall[List[pb.TokenPackage]]:
    """The packages in display order (active ones unless ``include_inactive``): a list."""
    request = pb.ListPackagesRequest(include_inactive=include_inactive)
    return PreparedCall("/tally.v1.Purchases/ListPackages", request, timeout_ms, lambda answer: list(answer.packages))


def start_purchase(user_id: str, package_id: str, payment_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.PurchaseResponse]:
    """Opens a pending purchase; the PurchaseResponse (purchase, already_done)."""
    request = pb.StartPurchaseRequest(user_id=user_id, package_id=package_id, payment_id=payment_id)
    return PreparedCall("/tally.v1.Purchases/StartPurchase", request, timeout_ms)


def complete_purchase(payment_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.PurchaseResponse]:
    """Credits the purchase's tokens exactly once; a retry answers the same purchase with
    ``already_done``. The PurchaseResponse."""
    request = pb.CompletePurchaseRequest(payment_id=payment_id)
    return PreparedCall("/tally.v1.Purchases/CompletePurchase", request, timeout_ms)


def fail_purchase(payment_id: str, reason: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.PurchaseResponse]:
    """Fails a pending purchase; the PurchaseResponse."""
    request = pb.FailPurchaseRequest(payment_id=payment_id, reason=reason)
    return PreparedCall("/tally.v1.Purchases/FailPurchase", request, timeout_ms)


def get_purchase(payment_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.Purchase]:
    """The Purchase paid by ``payment_id`` (NotFound PURCHASE_NOT_FOUND if none)."""
    request = pb.GetPurchaseRequest(payment_id=payment_id)
    return PreparedCall("/tally.v1.Purchases/GetPurchase", request, timeout_ms, lambda answer: answer.purchase)


def list_purchases(user_id: str, limit: int = 0, *, timeout_ms: Optional[int] = None) -> PreparedCall[List[pb.Purchase]]:
    """A user's purchases, newest first (``limit`` 0 for 50, at most 1000): a list."""
    request = pb.ListPurchasesRequest(user_id=user_id, limit=limit)
    return PreparedCall("/tally.v1.Purchases/ListPurchases", request, timeout_ms, lambda answer: list(answer.purchases))


# -- tally.v1.Predictions ------------------------------------------------------------------

def commit(
    user_id: str, prediction_id: str, position: Any, stake: int, odds_micros: int, *,
    idempotency_key: str = "", timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.CommitResponse]:
    """Stakes ``stake`` tokens on ``position`` ("yes", "no" or a Position number) at decimal odds
    in millionths (2.5 is 2500000). The CommitResponse (commitment, transaction, balance, replayed)."""
    if isinstance(position, str):
        position = {"yes": pb.POSITION_YES, "no": pb.POSITION_NO}[position]
    request = pb.CommitRequest(
        user_id=user_id, prediction_id=prediction_id, position=position, stake=stake, odds_micros=odds_micros,
        idempotency_key=idempotency_key,
    )
    return PreparedCall("/tally.v1.Predictions/Commit", request, timeout_ms)


def cancel_commitment(commitment_id: int, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.CommitResponse]:
    """Gives an active commitment's stake back; the CommitResponse."""
    request = pb.CancelCommitmentRequest(commitment_id=commitment_id)
    return PreparedCall("/tally.v1.Predictions/CancelCommitment", request, timeout_ms)


def resolve(prediction_id: str, winning: Any, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.SettlePredictionResponse]:
    """Resolves a prediction once (admin); the SettlePredictionResponse (summary, already_done)."""
    if isinstance(winning, str):
        winning = {"yes": pb.POSITION_YES, "no": pb.POSITION_NO}[winning]
    request = pb.ResolvePredictionRequest(prediction_id=prediction_id, winning=winning)
    return PreparedCall("/tally.v1.Predictions/ResolvePrediction", request, timeout_ms)


def void(prediction_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.SettlePredictionResponse]:
    """Voids a prediction once (admin): every active stake back. The SettlePredictionResponse."""
    return PreparedCall("/tally.v1.Predictions/VoidPrediction", pb.VoidPredictionRequest(prediction_id=prediction_id), timeout_ms)


def close_prediction(prediction_id: str, closes_at_us: int, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.Prediction]:
    """Refuses commitments from ``closes_at_us`` on (0 clears it); the Prediction."""
    request = pb.ClosePredictionRequest(prediction_id=prediction_id, closes_at_us=closes_at_us)
    return PreparedCall("/tally.v1.Predictions/ClosePrediction", request, timeout_ms, lambda answer: answer.prediction)


def list_commitments(
    user_id: str = "", prediction_id: str = "", status: int = 0, limit: int = 0, before_id: int = 0, *,
    timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.ListCommitmentsResponse]:
    """Commitments by user and/or prediction (and status), newest first: the
    ListCommitmentsResponse (commitments, next_before_id for the next page)."""
    request = pb.ListCommitmentsRequest(
        user_id=user_id, prediction_id=prediction_id, status=cast(pb.CommitmentStatus, status), limit=limit,
        before_id=before_id,
    )
    return PreparedCall("/tally.v1.Predictions/ListCommitments", request, timeout_ms)


# -- tally.v1.Memberships ------------------------------------------------------------------

def set_membership(
    user_id: str, tier: str, expires_at_us: int = 0, *, timeout_ms: Optional[int] = None
) -> PreparedCall[pb.MembershipResponse]:
    """Puts ``user_id`` on ``tier`` until ``expires_at_us`` (0: no end); an empty tier ends
    the membership (admin). The MembershipResponse."""
    request = pb.SetMembershipRequest(user_id=user_id, tier=tier, expires_at_us=expires_at_us)
    return PreparedCall("/tally.v1.Memberships/SetMembership", request, timeout_ms)


def get_membership(user_id: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.MembershipResponse]:
    """The tier that applies to ``user_id`` now: the MembershipResponse."""
    request = pb.GetMembershipRequest(user_id=user_id)
    return PreparedCall("/tally.v1.Memberships/GetMembership", request, timeout_ms)


# -- tally.v1.Actions ----------------------------------------------------------------------

def set_price(action: str, tier: str, cost: Optional[int], *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.ActionPrice]:
    """Sets ``action``'s price for ``tier``; ``cost=None`` removes it (admin). The
    ActionPrice now."""
    request = pb.SetPriceRequest(action=action, tier=tier, cost=cost or 0, remove=cost is None)
    return PreparedCall("/tally.v1.Actions/SetPrice", request, timeout_ms, lambda answer: answer.price)


def list_prices(*, timeout_ms: Optional[int] = None) -> PreparedCall[List[pb.ActionPrice]]:
    """The price table: a list of ActionPrice (action, costs by tier)."""
    return PreparedCall("/tally.v1.Actions/ListPrices", pb.ListPricesRequest(), timeout_ms, lambda answer: list(answer.prices))


def spend_action(
    user_id: str, action: str, *, reference: str = "", memo: str = "", idempotency_key: str = "",
    metadata: Optional[Mapping[str, str]] = None, timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.SpendResponse]:
    """Spends ``action``'s price for the user's tier now; raises NotFound ACTION_NOT_FOUND
    for an action without a price. The SpendResponse (its transaction names the action and
    the tier charged)."""
    request = pb.SpendActionRequest(
        user_id=user_id, action=action, reference=reference, memo=memo, idempotency_key=idempotency_key,
        metadata=dict(metadata or {}),
    )
    return PreparedCall("/tally.v1.Actions/Spend", request, timeout_ms)


# -- tally.v1.Audit ------------------------------------------------------------------------

def list_audit(
    user_id: str = "", status: int = 0, reason: str = "", since_us: int = 0, until_us: int = 0, limit: int = 0,
    before_id: int = 0, *, timeout_ms: Optional[int] = None,
) -> PreparedCall[pb.ListAuditResponse]:
    """Audit entries newest first (admin): every mutation attempt, accepted or refused. The
    ListAuditResponse (entries, next_before_id for the next page)."""
    request = pb.ListAuditRequest(
        user_id=user_id, status=cast(pb.AuditStatus, status), reason=reason, since_us=since_us, until_us=until_us,
        limit=limit, before_id=before_id,
    )
    return PreparedCall("/tally.v1.Audit/List", request, timeout_ms)


# -- tally.v1.Admin ------------------------------------------------------------------------

def snapshot(*, timeout_ms: Optional[int] = None) -> PreparedCall[pb.SnapshotResponse]:
    """Writes a snapshot into tallyd's data directory now. Returns the SnapshotResponse."""
    return PreparedCall("/tally.v1.Admin/Snapshot", pb.SnapshotRequest(), timeout_ms)


def backup(path: str, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.BackupResponse]:
    """Writes a snapshot of the durable state to ``path`` (absolute, new, on tallyd's host)."""
    return PreparedCall("/tally.v1.Admin/Backup", pb.BackupRequest(path=path), timeout_ms)


def health(check_invariants: bool = False, *, digest: bool = False, timeout_ms: Optional[int] = None) -> PreparedCall[pb.HealthResponse]:
    """How tallyd is doing (HealthResponse); answered even while it is overloaded. ``digest``
    adds ``state_digest``, SHA-256 of the durable state as of ``digest_sequence``."""
    return PreparedCall("/tally.v1.Admin/Health", pb.HealthRequest(check_invariants=check_invariants, digest=digest), timeout_ms)


def stats(days: int = 0, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.StatsResponse]:
    """The admin's StatsResponse: tokens, volume per type, revenue per day (``days`` back) and month."""
    return PreparedCall("/tally.v1.Admin/Stats", pb.StatsRequest(days=days), timeout_ms)


def metrics(*, timeout_ms: Optional[int] = None) -> PreparedCall[pb.MetricsResponse]:
    """The figures ``GET /metrics`` serves (MetricsResponse): one sample per line of its text."""
    return PreparedCall("/tally.v1.Admin/Metrics", pb.MetricsRequest(), timeout_ms)


def reconcile(repair: bool = False, *, timeout_ms: Optional[int] = None) -> PreparedCall[pb.ReconcileResponse]:
    """Every balance recomputed from history (admin); ``repair`` writes what history is
    missing. The ReconcileResponse (mismatches, repairs, unrepairable)."""
    return PreparedCall("/tally.v1.Admin/Reconcile", pb.ReconcileRequest(repair=repair), timeout_ms)
