"""A blocking client for tallyd over its Unix domain socket (docs/protocol.md).

One :class:`TallyClient` is one connection. It is **not thread-safe**: use one client per
thread (or guard it with a lock). Using it from two threads at once raises RuntimeError rather
than mixing up frames.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Type, Union, cast

from google.protobuf.message import DecodeError, Message

from . import pb
from .errors import (
    CallTimeout,
    Code,
    ConnectError,
    ConnectionClosed,
    InvalidArgument,
    ProtocolError,
    TallyError,
    error_from_response,
)

#: Largest frame body tallyd accepts by default (its --max-frame-bytes), prefix not counted.
MAX_FRAME_BYTES = 4 * 1024 * 1024
#: The protocol version every Request carries.
PROTOCOL_VERSION = 1
#: How long connect() retries while tallyd's accept backlog is full, by default.
DEFAULT_CONNECT_TIMEOUT_MS = 2000
#: How much longer than a call's timeout_ms the client waits for tallyd's answer: tallyd counts
#: the deadline from when it read the frame and answers DEADLINE_EXCEEDED itself, which says
#: the call did not run; only past the grace does the client give up (CallTimeout).
DEFAULT_TIMEOUT_GRACE_MS = 1000

_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1
_READ_CHUNK = 256 * 1024
_WRITE_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Method:
    """One rpc of tally.v1: its wire path and its request and answer message types."""

    path: str  # "/tally.v1.Ledger/Credit"
    request_type: Type[Message]
    response_type: Type[Message]


def _methods() -> Dict[str, Method]:
    # Read from the generated descriptors, so a new rpc in a .proto is callable through
    # TallyClient.call() as soon as the modules are regenerated.
    table: Dict[str, Method] = {}
    for module in pb.MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                table[f"/{service.full_name}/{m.name}"] = Method(
                    f"/{service.full_name}/{m.name}",
                    getattr(pb, m.input_type.name),
                    getattr(pb, m.output_type.name),
                )
    return table


#: Every method tallyd's protos define, by wire path.
METHODS: Dict[str, Method] = _methods()


class Call(NamedTuple):
    """One call of a :meth:`TallyClient.pipeline`.

    ``request`` is a message or its serialized bytes; ``response_type`` defaults to the one
    METHODS names for ``method`` (bytes are returned for a method it does not know).
    """

    method: str
    request: Union[Message, bytes] = b""
    response_type: Optional[Type[Message]] = None


def _credit_kind(kind: Union[int, str]) -> "pb.CreditKind":
    if isinstance(kind, str):
        name = kind.upper()
        if not name.startswith("CREDIT_KIND_"):
            name = "CREDIT_KIND_" + name
        return cast(pb.CreditKind, pb.CreditKind.Value(name))
    return cast(pb.CreditKind, int(kind))


class TallyClient:
    """A connection to tallyd.

    ``TallyClient(socket_path, timeout_ms=None)`` connects at once (retrying for up to
    ``connect_timeout_ms`` while tallyd's accept backlog is full). ``timeout_ms`` is the default
    deadline of every call (None or 0: none); each method takes its own ``timeout_ms`` too.
    A deadline goes into the envelope, so tallyd refuses the call with DEADLINE_EXCEEDED if it
    could not start it in time, and the client stops waiting ``timeout_grace_ms`` later
    (CallTimeout, outcome unknown).

    Use it as a context manager, or call :meth:`close`. Not thread-safe.
    """

    def __init__(
        self,
        socket_path: Union[str, os.PathLike],
        timeout_ms: Optional[int] = None,
        *,
        connect_timeout_ms: Optional[int] = None,
        timeout_grace_ms: int = DEFAULT_TIMEOUT_GRACE_MS,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self.socket_path = os.fspath(socket_path)
        self.timeout_ms = self._check_timeout(timeout_ms)
        self.timeout_grace_ms = int(timeout_grace_ms)
        self.max_frame_bytes = int(max_frame_bytes)
        #: Answers that arrived for calls nobody waits for any more (after a CallTimeout).
        self.stale_answers = 0
        self._next_id = 1
        self._rbuf = bytearray()
        self._closed: Optional[ConnectionClosed] = None
        self._busy = threading.Lock()
        if connect_timeout_ms is None:
            connect_timeout_ms = self.timeout_ms or DEFAULT_CONNECT_TIMEOUT_MS
        self._sock = self._connect(connect_timeout_ms / 1000.0)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._sock, selectors.EVENT_READ)

    # -- connection ---------------------------------------------------------------------

    def _connect(self, timeout_s: float) -> socket.socket:
        give_up = time.monotonic() + timeout_s
        pause = 0.002
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                sock.connect(self.socket_path)
                return sock
            except (BlockingIOError, InterruptedError) as e:
                sock.close()
                # EAGAIN: the accept backlog is full (docs/protocol.md §1). Retry with backoff.
                if time.monotonic() + pause >= give_up:
                    raise self._connect_error(e) from e
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
            except OSError as e:
                sock.close()
                raise self._connect_error(e) from e

    def _connect_error(self, e: OSError) -> ConnectError:
        name = errno.errorcode.get(e.errno or 0, str(e.errno))
        return ConnectError(
            Code.UNAVAILABLE,
            "CONNECT_FAILED",
            f"cannot connect to {self.socket_path}: {e.strerror or e}",
            {"path": self.socket_path, "errno": name},
        )

    def close(self) -> None:
        """Closes the connection. Calls already sent still run in tallyd; their answers are lost."""
        if self._closed is None:
            self._closed = ConnectionClosed(Code.UNAVAILABLE, "CLIENT_CLOSED", "the client closed this connection")
        self._shut()

    def _shut(self) -> None:
        sock = getattr(self, "_sock", None)
        self._sock = None  # type: ignore[assignment]  # closed: every use checks _closed first
        if sock is not None:
            try:
                self._sel.unregister(sock)
            except (KeyError, ValueError):
                pass
            self._sel.close()
            sock.close()

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def __enter__(self) -> "TallyClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self._shut()
        except Exception:
            pass

    # -- generic calls --------------------------------------------------------------------

    def call(
        self,
        method: str,
        request: Union[Message, bytes] = b"",
        response_type: Optional[Type[Message]] = None,
        timeout_ms: Optional[int] = None,
    ) -> Any:
        """Calls ``method`` (a full path such as ``"/tally.v1.Ledger/Credit"``) and returns its
        decoded answer, or raises the TallyError for a refusal.

        ``response_type`` defaults to the one METHODS names; for a method it does not know the
        answer payload is returned as bytes. ``request`` may be a message or its bytes.
        """
        [result] = self._calls([Call(method, request, response_type)], timeout_ms, raise_first=True)
        return result

    def pipeline(
        self,
        calls: Iterable[Union[Call, Tuple[Any, ...]]],
        *,
        timeout_ms: Optional[int] = None,
        return_exceptions: bool = True,
    ) -> List[Any]:
        """Sends every call in one write (tallyd reads them as one batch), then reads the
        answers, and returns them in the order of ``calls``, matched by call id whatever order
        they arrive in. Each item is a :class:`Call` or a tuple ``(method, request[,
        response_type])``.

        With ``return_exceptions`` (the default) a refused call's TallyError takes its place in
        the list; otherwise the first one is raised once every answer has been read. A lost
        connection or a CallTimeout is raised either way, with ``partial_results``.
        Calls run in order, but do not pipeline a call that depends on another's outcome.
        """
        items = [c if isinstance(c, Call) else Call(*c) for c in calls]
        return self._calls(items, timeout_ms, raise_first=not return_exceptions)

    def exchange(self, requests: Sequence[Any], *, timeout_ms: Optional[int] = None) -> List[Any]:
        """Low level: sends tally.v1.Request envelopes as they are (a call_id of 0 is replaced by
        the next free id, so answers can be matched) and returns the tally.v1.Response
        envelopes in request order, refusals included. For tools and tests."""
        frames: List[bytes] = []
        ids: List[int] = []
        for request in requests:
            envelope = pb.Request()
            envelope.CopyFrom(request)
            if envelope.call_id == 0:
                envelope.call_id = self._take_id()
            ids.append(envelope.call_id)
            frames.append(self._frame(envelope.SerializeToString()))
        return self._exchange(frames, ids, self._local_timeout(timeout_ms, requests))

    # -- Ledger ---------------------------------------------------------------------------

    def get_balance(self, user_id: str, *, timeout_ms: Optional[int] = None) -> pb.Balance:
        """The user's Balance (all zero, version 0, for a user never credited)."""
        return self.call("/tally.v1.Ledger/GetBalance", pb.GetBalanceRequest(user_id=user_id), timeout_ms=timeout_ms).balance

    def credit(
        self,
        user_id: str,
        amount: int,
        kind: Union[int, str],
        *,
        reference: str = "",
        memo: str = "",
        idempotency_key: str = "",
        metadata: Optional[Mapping[str, str]] = None,
        timeout_ms: Optional[int] = None,
    ) -> pb.CreditResponse:
        """Adds ``amount`` tokens. ``kind``: "purchase", "grant", "refund", "adjustment" or a
        pb.CREDIT_KIND_* number. ``metadata``: key-value facts kept on the transaction. Returns
        the CreditResponse (transaction, balance, replayed)."""
        request = pb.CreditRequest(
            user_id=user_id, amount=amount, kind=_credit_kind(kind), reference=reference,
            memo=memo, idempotency_key=idempotency_key, metadata=dict(metadata or {}),
        )
        return self.call("/tally.v1.Ledger/Credit", request, timeout_ms=timeout_ms)

    def spend(
        self,
        user_id: str,
        amount: int,
        *,
        reference: str = "",
        memo: str = "",
        idempotency_key: str = "",
        metadata: Optional[Mapping[str, str]] = None,
        timeout_ms: Optional[int] = None,
    ) -> pb.SpendResponse:
        """Takes ``amount`` tokens, or raises FailedPrecondition INSUFFICIENT_TOKENS (details
        available, requested, shortfall). ``metadata`` as for credit. Returns the SpendResponse."""
        request = pb.SpendRequest(
            user_id=user_id, amount=amount, reference=reference, memo=memo, idempotency_key=idempotency_key,
            metadata=dict(metadata or {}),
        )
        return self.call("/tally.v1.Ledger/Spend", request, timeout_ms=timeout_ms)

    # -- Admin ----------------------------------------------------------------------------

    def snapshot(self, *, timeout_ms: Optional[int] = None) -> pb.SnapshotResponse:
        """Writes a snapshot into tallyd's data directory now. Returns the SnapshotResponse."""
        return self.call("/tally.v1.Admin/Snapshot", pb.SnapshotRequest(), timeout_ms=timeout_ms)

    def backup(self, path: str, *, timeout_ms: Optional[int] = None) -> pb.BackupResponse:
        """Writes a snapshot of the durable state to ``path`` (absolute, new, on tallyd's host)."""
        return self.call("/tally.v1.Admin/Backup", pb.BackupRequest(path=path), timeout_ms=timeout_ms)

    def health(self, check_invariants: bool = False, *, timeout_ms: Optional[int] = None) -> pb.HealthResponse:
        """How tallyd is doing (HealthResponse); answered even while it is overloaded."""
        return self.call(
            "/tally.v1.Admin/Health", pb.HealthRequest(check_invariants=check_invariants), timeout_ms=timeout_ms
        )

    # -- Usage ----------------------------------------------------------------------------

    def check_usage(self, user_id: str, *, timeout_ms: Optional[int] = None) -> pb.UsageStatus:
        """Where the user stands today: a UsageStatus (used, reserved, limit, remaining,
        resets_at_us, tier...)."""
        return self.call("/tally.v1.Usage/Check", pb.CheckUsageRequest(user_id=user_id), timeout_ms=timeout_ms).status

    def consume(
        self, user_id: str, tokens: int, *, idempotency_key: str = "", timeout_ms: Optional[int] = None
    ) -> pb.ConsumeResponse:
        """Counts ``tokens`` if they fit today's limit, else raises ResourceExhausted
        DAILY_LIMIT_EXCEEDED (details used, reserved, limit, remaining, requested, resets_at_us,
        day). Returns the ConsumeResponse (status, replayed)."""
        request = pb.ConsumeRequest(user_id=user_id, tokens=tokens, idempotency_key=idempotency_key)
        return self.call("/tally.v1.Usage/Consume", request, timeout_ms=timeout_ms)

    def reserve(
        self,
        user_id: str,
        tokens: int,
        *,
        ttl_ms: int = 0,
        idempotency_key: str = "",
        timeout_ms: Optional[int] = None,
    ) -> pb.ReserveResponse:
        """Holds ``tokens`` of today's quota for a model call (same rule as consume). Returns
        the ReserveResponse; settle or release ``.reservation.id`` within ``ttl_ms`` (0: 60 s)."""
        request = pb.ReserveRequest(user_id=user_id, tokens=tokens, ttl_ms=ttl_ms, idempotency_key=idempotency_key)
        return self.call("/tally.v1.Usage/Reserve", request, timeout_ms=timeout_ms)

    def settle(
        self, reservation_id: int, tokens: int, *, idempotency_key: str = "", timeout_ms: Optional[int] = None
    ) -> pb.SettleResponse:
        """Ends a reservation, charging the real ``tokens`` in full. Raises NotFound
        RESERVATION_NOT_FOUND if it is not open (settled, released or expired)."""
        request = pb.SettleRequest(reservation_id=reservation_id, tokens=tokens, idempotency_key=idempotency_key)
        return self.call("/tally.v1.Usage/Settle", request, timeout_ms=timeout_ms)

    def release(self, reservation_id: int, *, idempotency_key: str = "", timeout_ms: Optional[int] = None) -> pb.ReleaseResponse:
        """Ends a reservation counting nothing (the model call failed)."""
        request = pb.ReleaseRequest(reservation_id=reservation_id, idempotency_key=idempotency_key)
        return self.call("/tally.v1.Usage/Release", request, timeout_ms=timeout_ms)

    def get_limits(self, *, timeout_ms: Optional[int] = None) -> pb.UsageSettings:
        """The UsageSettings: tiers and their limits, default tier, time zone, retention."""
        return self.call("/tally.v1.Usage/GetLimits", pb.GetLimitsRequest(), timeout_ms=timeout_ms).settings

    def set_limits(
        self, request: Optional[Any] = None, *, timeout_ms: Optional[int] = None, **change: Any
    ) -> pb.UsageSettings:
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
        return self.call("/tally.v1.Usage/SetLimits", request, timeout_ms=timeout_ms).settings

    def history(self, user_id: str, months: int = 0, *, timeout_ms: Optional[int] = None) -> pb.UsageHistoryResponse:
        """The user's UsageHistoryResponse: today, daily records and monthly aggregates, newest
        first (``months``: how many recent months, 0 for all kept)."""
        request = pb.UsageHistoryRequest(user_id=user_id, months=months)
        return self.call("/tally.v1.Usage/History", request, timeout_ms=timeout_ms)

    def top_users(self, date: str = "", limit: int = 0, *, timeout_ms: Optional[int] = None) -> pb.TopUsersResponse:
        """The users with most tokens on ``date`` ("YYYY-MM-DD", "" for today; ``limit`` 0 for 10,
        at most 1000): a TopUsersResponse."""
        return self.call("/tally.v1.Usage/TopUsers", pb.TopUsersRequest(date=date, limit=limit), timeout_ms=timeout_ms)

    def month_by_tier(self, month: str = "", tier: str = "", *, timeout_ms: Optional[int] = None) -> pb.MonthByTierResponse:
        """A month's users, total and average per tier ("YYYY-MM", "" for this month)."""
        request = pb.MonthByTierRequest(month=month, tier=tier)
        return self.call("/tally.v1.Usage/MonthByTier", request, timeout_ms=timeout_ms)

    def stats(self, days: int = 0, *, timeout_ms: Optional[int] = None) -> pb.StatsResponse:
        """The admin's StatsResponse: tokens, volume per type, revenue per day (``days`` back) and month."""
        return self.call("/tally.v1.Admin/Stats", pb.StatsRequest(days=days), timeout_ms=timeout_ms)

    def get_transaction(self, transaction_id: int, *, timeout_ms: Optional[int] = None) -> pb.Transaction:
        """One Transaction by id (NotFound TRANSACTION_NOT_FOUND if none)."""
        request = pb.GetTransactionRequest(transaction_id=transaction_id)
        return self.call("/tally.v1.Ledger/GetTransaction", request, timeout_ms=timeout_ms).transaction

    def list_transactions(
        self, user_id: str = "", types: Any = (), since_us: int = 0, until_us: int = 0, limit: int = 0, before_id: int = 0,
        *, timeout_ms: Optional[int] = None,
    ) -> pb.ListTransactionsResponse:
        """A user's transactions (every user's for admins with ``user_id=""``), newest first: the
        ListTransactionsResponse; pass its ``next_before_id`` as ``before_id`` for the next page."""
        request = pb.ListTransactionsRequest(
            user_id=user_id, types=list(types), since_us=since_us, until_us=until_us, limit=limit, before_id=before_id
        )
        return self.call("/tally.v1.Ledger/ListTransactions", request, timeout_ms=timeout_ms)

    # -- tally.v1.Purchases -----------------------------------------------------------------

    def save_package(self, package: Any = None, *, timeout_ms: Optional[int] = None, **fields: Any) -> pb.TokenPackage:
        """Creates or updates a token package (admin); pass a TokenPackage or its fields by
        keyword (``id``, ``name``, ``tokens``, ``bonus_tokens``, ``price_cents``, ``currency``,
        ``external_price_id``, ``active``, ``sort_order``). Returns the saved TokenPackage."""
        if package is None:
            package = pb.TokenPackage(**fields)
        request = pb.SavePackageRequest(package=package)
        return self.call("/tally.v1.Purchases/SavePackage", request, timeout_ms=timeout_ms).package

    def deactivate_package(self, package_id: str, *, timeout_ms: Optional[int] = None) -> pb.TokenPackage:
        """Takes a package off sale (admin); returns the TokenPackage."""
        request = pb.DeactivatePackageRequest(package_id=package_id)
        return self.call("/tally.v1.Purchases/DeactivatePackage", request, timeout_ms=timeout_ms).package

    def list_packages(self, include_inactive: bool = False, *, timeout_ms: Optional[int] = None) -> List[pb.TokenPackage]:
        """The packages in display order (active ones unless ``include_inactive``): a list."""
        request = pb.ListPackagesRequest(include_inactive=include_inactive)
        return list(self.call("/tally.v1.Purchases/ListPackages", request, timeout_ms=timeout_ms).packages)

    def start_purchase(self, user_id: str, package_id: str, payment_id: str, *, timeout_ms: Optional[int] = None) -> pb.PurchaseResponse:
        """Opens a pending purchase; the PurchaseResponse (purchase, already_done)."""
        request = pb.StartPurchaseRequest(user_id=user_id, package_id=package_id, payment_id=payment_id)
        return self.call("/tally.v1.Purchases/StartPurchase", request, timeout_ms=timeout_ms)

    def complete_purchase(self, payment_id: str, *, timeout_ms: Optional[int] = None) -> pb.PurchaseResponse:
        """Credits the purchase's tokens exactly once; a retry answers the same purchase with
        ``already_done``. The PurchaseResponse."""
        request = pb.CompletePurchaseRequest(payment_id=payment_id)
        return self.call("/tally.v1.Purchases/CompletePurchase", request, timeout_ms=timeout_ms)

    def fail_purchase(self, payment_id: str, reason: str, *, timeout_ms: Optional[int] = None) -> pb.PurchaseResponse:
        """Fails a pending purchase; the PurchaseResponse."""
        request = pb.FailPurchaseRequest(payment_id=payment_id, reason=reason)
        return self.call("/tally.v1.Purchases/FailPurchase", request, timeout_ms=timeout_ms)

    def get_purchase(self, payment_id: str, *, timeout_ms: Optional[int] = None) -> pb.Purchase:
        """The Purchase paid by ``payment_id`` (NotFound PURCHASE_NOT_FOUND if none)."""
        request = pb.GetPurchaseRequest(payment_id=payment_id)
        return self.call("/tally.v1.Purchases/GetPurchase", request, timeout_ms=timeout_ms).purchase

    def list_purchases(self, user_id: str, limit: int = 0, *, timeout_ms: Optional[int] = None) -> List[pb.Purchase]:
        """A user's purchases, newest first (``limit`` 0 for 50, at most 1000): a list."""
        request = pb.ListPurchasesRequest(user_id=user_id, limit=limit)
        return list(self.call("/tally.v1.Purchases/ListPurchases", request, timeout_ms=timeout_ms).purchases)

    # -- tally.v1.Predictions ---------------------------------------------------------------

    def commit(
        self, user_id: str, prediction_id: str, position: Any, stake: int, odds_micros: int, *,
        idempotency_key: str = "", timeout_ms: Optional[int] = None,
    ) -> pb.CommitResponse:
        """Stakes ``stake`` tokens on ``position`` ("yes", "no" or a Position number) at decimal odds
        in millionths (2.5 is 2500000). The CommitResponse (commitment, transaction, balance, replayed)."""
        if isinstance(position, str):
            position = {"yes": pb.POSITION_YES, "no": pb.POSITION_NO}[position]
        request = pb.CommitRequest(
            user_id=user_id, prediction_id=prediction_id, position=position, stake=stake, odds_micros=odds_micros,
            idempotency_key=idempotency_key,
        )
        return self.call("/tally.v1.Predictions/Commit", request, timeout_ms=timeout_ms)

    def cancel_commitment(self, commitment_id: int, *, timeout_ms: Optional[int] = None) -> pb.CommitResponse:
        """Gives an active commitment's stake back; the CommitResponse."""
        request = pb.CancelCommitmentRequest(commitment_id=commitment_id)
        return self.call("/tally.v1.Predictions/CancelCommitment", request, timeout_ms=timeout_ms)

    def resolve(self, prediction_id: str, winning: Any, *, timeout_ms: Optional[int] = None) -> pb.SettlePredictionResponse:
        """Resolves a prediction once (admin); the SettlePredictionResponse (summary, already_done)."""
        if isinstance(winning, str):
            winning = {"yes": pb.POSITION_YES, "no": pb.POSITION_NO}[winning]
        request = pb.ResolvePredictionRequest(prediction_id=prediction_id, winning=winning)
        return self.call("/tally.v1.Predictions/ResolvePrediction", request, timeout_ms=timeout_ms)

    def void(self, prediction_id: str, *, timeout_ms: Optional[int] = None) -> pb.SettlePredictionResponse:
        """Voids a prediction once (admin): every active stake back. The SettlePredictionResponse."""
        return self.call("/tally.v1.Predictions/VoidPrediction", pb.VoidPredictionRequest(prediction_id=prediction_id), timeout_ms=timeout_ms)

    def close_prediction(self, prediction_id: str, closes_at_us: int, *, timeout_ms: Optional[int] = None) -> pb.Prediction:
        """Refuses commitments from ``closes_at_us`` on (0 clears it); the Prediction."""
        request = pb.ClosePredictionRequest(prediction_id=prediction_id, closes_at_us=closes_at_us)
        return self.call("/tally.v1.Predictions/ClosePrediction", request, timeout_ms=timeout_ms).prediction

    def list_commitments(
        self, user_id: str = "", prediction_id: str = "", status: int = 0, limit: int = 0, before_id: int = 0, *,
        timeout_ms: Optional[int] = None,
    ) -> pb.ListCommitmentsResponse:
        """Commitments by user and/or prediction (and status), newest first: the
        ListCommitmentsResponse (commitments, next_before_id for the next page)."""
        request = pb.ListCommitmentsRequest(
            user_id=user_id, prediction_id=prediction_id, status=cast(pb.CommitmentStatus, status), limit=limit,
            before_id=before_id,
        )
        return self.call("/tally.v1.Predictions/ListCommitments", request, timeout_ms=timeout_ms)

    # -- memberships and priced actions ---------------------------------------------------

    def set_membership(
        self, user_id: str, tier: str, expires_at_us: int = 0, *, timeout_ms: Optional[int] = None
    ) -> pb.MembershipResponse:
        """Puts ``user_id`` on ``tier`` until ``expires_at_us`` (0: no end); an empty tier ends
        the membership (admin). The MembershipResponse."""
        request = pb.SetMembershipRequest(user_id=user_id, tier=tier, expires_at_us=expires_at_us)
        return self.call("/tally.v1.Memberships/SetMembership", request, timeout_ms=timeout_ms)

    def get_membership(self, user_id: str, *, timeout_ms: Optional[int] = None) -> pb.MembershipResponse:
        """The tier that applies to ``user_id`` now: the MembershipResponse."""
        request = pb.GetMembershipRequest(user_id=user_id)
        return self.call("/tally.v1.Memberships/GetMembership", request, timeout_ms=timeout_ms)

    def set_price(self, action: str, tier: str, cost: Optional[int], *, timeout_ms: Optional[int] = None) -> pb.ActionPrice:
        """Sets ``action``'s price for ``tier``; ``cost=None`` removes it (admin). The
        ActionPrice now."""
        request = pb.SetPriceRequest(action=action, tier=tier, cost=cost or 0, remove=cost is None)
        return self.call("/tally.v1.Actions/SetPrice", request, timeout_ms=timeout_ms).price

    def list_prices(self, *, timeout_ms: Optional[int] = None) -> List[pb.ActionPrice]:
        """The price table: a list of ActionPrice (action, costs by tier)."""
        return list(self.call("/tally.v1.Actions/ListPrices", pb.ListPricesRequest(), timeout_ms=timeout_ms).prices)

    def spend_action(
        self, user_id: str, action: str, *, reference: str = "", memo: str = "", idempotency_key: str = "",
        metadata: Optional[Mapping[str, str]] = None, timeout_ms: Optional[int] = None,
    ) -> pb.SpendResponse:
        """Spends ``action``'s price for the user's tier now; raises NotFound ACTION_NOT_FOUND
        for an action without a price. The SpendResponse (its transaction names the action and
        the tier charged)."""
        request = pb.SpendActionRequest(
            user_id=user_id, action=action, reference=reference, memo=memo, idempotency_key=idempotency_key,
            metadata=dict(metadata or {}),
        )
        return self.call("/tally.v1.Actions/Spend", request, timeout_ms=timeout_ms)

    def list_audit(
        self, user_id: str = "", status: int = 0, reason: str = "", since_us: int = 0, until_us: int = 0, limit: int = 0,
        before_id: int = 0, *, timeout_ms: Optional[int] = None,
    ) -> pb.ListAuditResponse:
        """Audit entries newest first (admin): every mutation attempt, accepted or refused. The
        ListAuditResponse (entries, next_before_id for the next page)."""
        request = pb.ListAuditRequest(
            user_id=user_id, status=cast(pb.AuditStatus, status), reason=reason, since_us=since_us, until_us=until_us,
            limit=limit, before_id=before_id,
        )
        return self.call("/tally.v1.Audit/List", request, timeout_ms=timeout_ms)

    def reconcile(self, repair: bool = False, *, timeout_ms: Optional[int] = None) -> pb.ReconcileResponse:
        """Every balance recomputed from history (admin); ``repair`` writes what history is
        missing. The ReconcileResponse (mismatches, repairs, unrepairable)."""
        return self.call("/tally.v1.Admin/Reconcile", pb.ReconcileRequest(repair=repair), timeout_ms=timeout_ms)

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _check_timeout(timeout_ms: Optional[int]) -> int:
        if timeout_ms is None:
            return 0
        timeout_ms = int(timeout_ms)
        if not 0 <= timeout_ms <= _UINT32_MAX:
            raise ValueError(f"timeout_ms must be 0 … {_UINT32_MAX}, got {timeout_ms}")
        return timeout_ms

    def _effective_timeout(self, timeout_ms: Optional[int]) -> int:
        return self.timeout_ms if timeout_ms is None else self._check_timeout(timeout_ms)

    def _local_timeout(self, timeout_ms: Optional[int], requests: Sequence[Any]) -> Optional[float]:
        # exchange(): the envelopes carry their own deadlines unless timeout_ms overrides the wait.
        budgets = [self._effective_timeout(timeout_ms)] if timeout_ms is not None else [r.timeout_ms for r in requests]
        if not budgets or 0 in budgets:
            return None
        return (max(budgets) + self.timeout_grace_ms) / 1000.0

    def _take_id(self) -> int:
        call_id = self._next_id
        self._next_id = 1 if call_id >= _UINT64_MAX else call_id + 1
        return call_id

    def _frame(self, body: bytes) -> bytes:
        if len(body) > self.max_frame_bytes:
            raise InvalidArgument(
                Code.INVALID_ARGUMENT,
                "FRAME_TOO_LARGE",
                f"request of {len(body)} bytes is over the {self.max_frame_bytes}-byte frame limit; not sent",
                {"length": str(len(body)), "limit": str(self.max_frame_bytes)},
            )
        return len(body).to_bytes(4, "big") + body

    def _calls(self, calls: Sequence[Call], timeout_ms: Optional[int], raise_first: bool) -> List[Any]:
        budget = self._effective_timeout(timeout_ms)
        frames: List[bytes] = []
        ids: List[int] = []
        decoders: List[Tuple[str, Optional[Type[Message]]]] = []
        for c in calls:
            payload = c.request if isinstance(c.request, (bytes, bytearray, memoryview)) else c.request.SerializeToString()
            response_type = c.response_type
            if response_type is None and c.method in METHODS:
                response_type = METHODS[c.method].response_type
            call_id = self._take_id()
            envelope = pb.Request(
                call_id=call_id, protocol_version=PROTOCOL_VERSION, method=c.method,
                timeout_ms=budget, payload=bytes(payload),
            )
            frames.append(self._frame(envelope.SerializeToString()))
            ids.append(call_id)
            decoders.append((c.method, response_type))
        local = None if budget == 0 else (budget + self.timeout_grace_ms) / 1000.0
        try:
            responses = self._exchange(frames, ids, local)
        except (ConnectionClosed, CallTimeout) as e:
            if e.partial_results is not None:
                e.partial_results = [
                    None if r is None else self._result(r, *d) for r, d in zip(e.partial_results, decoders)
                ]
            raise
        results = [self._result(r, *d) for r, d in zip(responses, decoders)]
        if raise_first:
            for r in results:
                if isinstance(r, TallyError):
                    raise r
        return results

    def _result(self, response: Any, method: str, response_type: Optional[Type[Message]]) -> Any:
        if response.code != 0:
            return error_from_response(response, method)
        if response_type is None:
            return response.payload
        try:
            return response_type.FromString(response.payload)
        except DecodeError as e:
            return ProtocolError(
                Code.INTERNAL, "BAD_ANSWER_PAYLOAD",
                f"answer to {method} does not decode as {response_type.DESCRIPTOR.full_name}: {e}",
                call_id=response.call_id, method=method,
            )

    def _raise_closed(self) -> None:
        c = self._closed
        assert c is not None
        raise ConnectionClosed(c.code, c.reason, c.message, c.details, final_frame=c.final_frame)

    def _exchange(self, frames: List[bytes], ids: List[int], local_timeout: Optional[float]) -> List[Any]:
        """Writes ``frames`` and reads until every id in ``ids`` is answered. Reads while it
        writes, so a large batch cannot deadlock against tallyd's flow control (§10)."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("TallyClient is not thread-safe: it is already in a call (use one client per thread)")
        try:
            if self._closed is not None:
                self._raise_closed()
            return self._exchange_locked(frames, ids, local_timeout)
        finally:
            self._busy.release()

    def _exchange_locked(self, frames: List[bytes], ids: List[int], local_timeout: Optional[float]) -> List[Any]:
        sock = self._sock
        out = memoryview(b"".join(frames))
        sent = 0
        can_write = True
        waiting = {call_id: i for i, call_id in enumerate(ids)}
        answers: List[Any] = [None] * len(ids)
        deadline = None if local_timeout is None else time.monotonic() + local_timeout

        def fail(error: TallyError) -> None:
            error.partial_results = list(answers)
            raise error

        while waiting:
            # Write as much as the socket takes now; then wait for either direction.
            while can_write and sent < len(out):
                try:
                    n = sock.send(out[sent : sent + _WRITE_CHUNK])
                except (BlockingIOError, InterruptedError):
                    break
                except (BrokenPipeError, ConnectionResetError):
                    can_write = False  # tallyd closed; its final frame may still be readable
                    break
                sent += n
            timeout = None
            if deadline is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    self._timed_out(sent < len(out), local_timeout, ids, waiting, fail)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if can_write and sent < len(out) else 0)
            self._sel.modify(sock, events)
            ready = self._sel.select(timeout)
            if not any(mask & selectors.EVENT_READ for _, mask in ready):
                continue
            try:
                chunk = sock.recv(_READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self._lose(None)
                fail(self._closed_copy())
            self._rbuf += chunk
            for response in self._parse_frames():
                if response.call_id == 0:  # connection-level error: tallyd's last frame
                    self._lose(response)
                    fail(self._closed_copy())
                i = waiting.pop(response.call_id, None)
                if i is None:
                    self.stale_answers += 1  # a call we gave up on (CallTimeout)
                else:
                    answers[i] = response
        return answers

    def _timed_out(self, unsent: bool, local_timeout: Optional[float], ids: List[int], waiting: Dict[int, int], fail: Any) -> None:
        pending = len(waiting)
        error = CallTimeout(
            Code.DEADLINE_EXCEEDED,
            "CLIENT_TIMEOUT",
            f"no answer within {local_timeout:.3f} s for {pending} of {len(ids)} call(s); "
            "the outcome is unknown: retry mutations with the same idempotency key",
            {"unanswered": str(pending), "waited_ms": str(int((local_timeout or 0) * 1000))},
            call_id=ids[0] if len(ids) == 1 else 0,
        )
        if unsent:
            # Part of a frame may be on the wire: the stream cannot be continued.
            self._lose(None, reason="CLIENT_TIMEOUT", message="closed after a CallTimeout in the middle of a write")
        fail(error)

    def _lose(self, final: Any, reason: str = "CONNECTION_CLOSED", message: str = "") -> None:
        if final is not None:
            self._closed = ConnectionClosed(
                final.code, final.reason, final.message, dict(final.details), final_frame=final
            )
        else:
            self._closed = ConnectionClosed(
                Code.UNAVAILABLE, reason, message or "tallyd closed the connection without a final frame"
            )
        self._shut()

    def _closed_copy(self) -> ConnectionClosed:
        c = self._closed
        assert c is not None
        return ConnectionClosed(c.code, c.reason, c.message, c.details, final_frame=c.final_frame)

    def _parse_frames(self) -> List[Any]:
        buf, pos, out = self._rbuf, 0, []
        while len(buf) - pos >= 4:
            n = int.from_bytes(buf[pos : pos + 4], "big")
            if n > self.max_frame_bytes:
                self._lose(None, reason="BAD_FRAME", message=f"tallyd sent a frame of {n} bytes")
                raise ProtocolError(
                    Code.INTERNAL, "ANSWER_TOO_LARGE",
                    f"answer frame of {n} bytes is over max_frame_bytes={self.max_frame_bytes}",
                    {"length": str(n), "limit": str(self.max_frame_bytes)},
                )
            if len(buf) - pos - 4 < n:
                break
            body = bytes(buf[pos + 4 : pos + 4 + n])
            pos += 4 + n
            try:
                out.append(pb.Response.FromString(body))
            except DecodeError as e:
                self._lose(None, reason="BAD_FRAME", message="tallyd sent a frame that is not a Response")
                raise ProtocolError(Code.INTERNAL, "MALFORMED_ANSWER", f"answer frame is not a tally.v1.Response: {e}")
        if pos:
            del buf[:pos]
        return out
