"""Ledger and Admin methods against a real tallyd."""

import os
import uuid

import pytest

from tally_client import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    TallyClient,
    TallyError,
    Unimplemented,
    pb,
)
from tally_client.errors import Code


def test_credit_spend_balance(client, user):
    fresh = client.get_balance(user)
    assert (fresh.user_id, fresh.available, fresh.version) == (user, 0, 0)

    credit = client.credit(user, 500, "grant", reference="signup", memo="welcome")
    assert credit.transaction.type == pb.TRANSACTION_TYPE_GRANT
    assert credit.transaction.amount == 500
    assert (credit.transaction.balance_before, credit.transaction.balance_after) == (0, 500)
    assert credit.transaction.status == pb.TRANSACTION_STATUS_COMPLETED
    assert (credit.transaction.reference, credit.transaction.memo) == ("signup", "welcome")
    assert credit.balance.available == 500 and not credit.replayed

    purchase = client.credit(user, 25, pb.CREDIT_KIND_PURCHASE)
    assert purchase.transaction.type == pb.TRANSACTION_TYPE_PURCHASE
    assert purchase.transaction.id > credit.transaction.id

    spend = client.spend(user, 120, reference="chat-1")
    assert spend.transaction.type == pb.TRANSACTION_TYPE_SPEND
    assert spend.balance.available == 405

    balance = client.get_balance(user)
    assert (balance.available, balance.total_earned, balance.total_spent, balance.version) == (405, 525, 120, 3)
    assert balance.created_at_us > 0 and balance.updated_at_us >= balance.created_at_us


def test_metadata_is_kept_on_the_transaction(client, user):
    credit = client.credit(user, 50, "purchase", metadata={"order": "o-17", "channel": "ios"})
    assert dict(credit.transaction.metadata) == {"order": "o-17", "channel": "ios"}
    spend = client.spend(user, 5, metadata={"feature": "chat"})
    assert dict(spend.transaction.metadata) == {"feature": "chat"}
    assert dict(client.get_transaction(spend.transaction.id).metadata) == {"feature": "chat"}


def test_insufficient_tokens_carries_details(client, user):
    client.credit(user, 10, "grant")
    with pytest.raises(FailedPrecondition) as caught:
        client.spend(user, 25)
    e = caught.value
    assert e.code == Code.FAILED_PRECONDITION and e.code_name == "FAILED_PRECONDITION"
    assert e.reason == "INSUFFICIENT_TOKENS"
    assert e.details == {"available": "10", "requested": "25", "shortfall": "15"}
    assert e.detail_int("shortfall") == 15
    assert e.method == "/tally.v1.Ledger/Spend" and e.call_id > 0
    assert not e.outcome_unknown
    assert "INSUFFICIENT_TOKENS" in str(e)
    # Spending from a user never credited is the same refusal, and creates no account.
    other = user + "-never"
    with pytest.raises(FailedPrecondition) as caught:
        client.spend(other, 5)
    assert caught.value.details["available"] == "0"
    assert client.get_balance(other).version == 0


def test_idempotent_retry_is_replayed(client, user):
    key = f"order-{uuid.uuid4()}"
    first = client.credit(user, 70, "purchase", reference="order-1", idempotency_key=key)
    again = client.credit(user, 70, "purchase", reference="order-1", idempotency_key=key)
    assert not first.replayed and again.replayed
    assert again.transaction.id == first.transaction.id
    assert again.balance == first.balance
    assert client.get_balance(user).available == 70  # applied once

    # The same key for a different request is a conflict; nothing changes.
    with pytest.raises(AlreadyExists) as caught:
        client.credit(user, 71, "purchase", reference="order-1", idempotency_key=key)
    assert caught.value.reason == "IDEMPOTENCY_KEY_CONFLICT"
    assert caught.value.details == {"idempotency_key": key}

    # Refusals are remembered too, even after the balance changed.
    spend_key = f"spend-{uuid.uuid4()}"
    with pytest.raises(FailedPrecondition) as fresh:
        client.spend(user, 100, idempotency_key=spend_key)
    assert "replayed" not in fresh.value.details
    client.credit(user, 1000, "grant")
    with pytest.raises(FailedPrecondition) as replayed:
        client.spend(user, 100, idempotency_key=spend_key)
    assert replayed.value.details["replayed"] == "true"
    assert replayed.value.details["shortfall"] == "30"


@pytest.mark.parametrize(
    "call, reason, details",
    [
        (lambda c, u: c.credit(u, 0, "grant"), "AMOUNT_NOT_POSITIVE", {"field": "amount", "amount": "0"}),
        (lambda c, u: c.spend(u, -5), "AMOUNT_NOT_POSITIVE", {"field": "amount", "amount": "-5"}),
        (lambda c, u: c.credit(u, 5, pb.CREDIT_KIND_UNSPECIFIED), "CREDIT_KIND_MISSING", {"field": "kind"}),
        (lambda c, u: c.credit(u, 5, 99), "CREDIT_KIND_MISSING", {"field": "kind"}),
        (lambda c, u: c.get_balance(""), "USER_ID_EMPTY", {"field": "user_id"}),
        (lambda c, u: c.credit("", 5, "grant"), "USER_ID_EMPTY", {"field": "user_id"}),
        (lambda c, u: c.get_balance("x" * 129), "FIELD_TOO_LONG", {"field": "user_id", "limit": "128", "length": "129"}),
        (lambda c, u: c.get_balance("bad\u0007id"), "USER_ID_INVALID", {"field": "user_id"}),
        (lambda c, u: c.credit(u, 5, "grant", memo="é" * 513), "FIELD_TOO_LONG", {"field": "memo", "limit": "1024", "length": "1026"}),
        (lambda c, u: c.spend(u, 5, idempotency_key="k" * 129), "FIELD_TOO_LONG", {"field": "idempotency_key", "limit": "128", "length": "129"}),
    ],
)
def test_bad_input_has_exact_reason(client, user, call, reason, details):
    with pytest.raises(InvalidArgument) as caught:
        call(client, user)
    assert caught.value.code == Code.INVALID_ARGUMENT
    assert caught.value.reason == reason
    assert caught.value.details == details
    # The connection stays usable after a refusal.
    assert client.get_balance(user).user_id == user


def test_unknown_method_through_generic_call(client):
    with pytest.raises(Unimplemented) as caught:
        client.call("/tally.v1.Ledger/Refund", pb.GetBalanceRequest(user_id="u"), pb.GetBalanceResponse)
    assert caught.value.reason == "UNKNOWN_METHOD"
    assert caught.value.details == {"method": "/tally.v1.Ledger/Refund"}
    # Without a response type, and for a method METHODS does not know, the same refusal.
    with pytest.raises(Unimplemented):
        client.call("/tally.v2.Ledger/GetBalance", b"")


def test_generic_call_known_method_bytes_and_messages(client, user):
    # response_type is looked up in METHODS; request may be bytes.
    answer = client.call("/tally.v1.Ledger/GetBalance", pb.GetBalanceRequest(user_id=user).SerializeToString())
    assert isinstance(answer, pb.GetBalanceResponse) and answer.balance.user_id == user
    # In a pipeline too, a response_type of None means: the one METHODS names.
    raw = client.pipeline([("/tally.v1.Ledger/GetBalance", pb.GetBalanceRequest(user_id=user), None)])
    assert isinstance(raw[0], pb.GetBalanceResponse)


def test_malformed_payload_keeps_connection(client, user):
    with pytest.raises(InvalidArgument) as caught:
        client.call("/tally.v1.Ledger/GetBalance", b"\x0a\x05ab")  # truncated string field
    assert caught.value.reason == "MALFORMED_PAYLOAD"
    assert client.get_balance(user).user_id == user


def test_protocol_version_unsupported_through_exchange(client):
    [answer] = client.exchange([pb.Request(protocol_version=7, method="/tally.v1.Admin/Health")])
    assert answer.code == pb.CODE_FAILED_PRECONDITION
    assert answer.reason == "PROTOCOL_VERSION_UNSUPPORTED"
    assert dict(answer.details) == {"requested": "7", "supported": "1"}
    assert client.health().accepting_mutations


def test_health(client):
    h = client.health()
    assert h.accepting_mutations and h.refusal_reason == ""
    assert h.connections >= 1 and h.queued_calls_limit > 0 and h.uptime_ms >= 0
    assert not h.invariants_checked
    checked = client.health(check_invariants=True)
    assert checked.invariants_checked and list(checked.invariant_violations) == []


def test_snapshot_and_backup(client, user, tallyd, tmp_path):
    client.credit(user, 3, "grant")
    snap = client.snapshot()
    assert snap.path and snap.bytes > 0 and snap.accounts >= 1
    target = os.path.join(tallyd.dir, f"backup-{uuid.uuid4().hex[:6]}.snap")
    backup = client.backup(target)
    assert backup.path == target and os.path.getsize(target) == backup.bytes
    with pytest.raises(InvalidArgument) as caught:
        client.backup(target)  # exists already
    assert caught.value.reason == "BACKUP_PATH_INVALID"
    with pytest.raises(InvalidArgument) as caught:
        client.backup("relative/path")
    assert caught.value.reason == "BACKUP_PATH_INVALID"


def test_every_method_has_a_typed_wrapper():
    from tally_client import METHODS

    wrappers = {
        "GetBalance": "get_balance", "Credit": "credit", "Spend": "spend", "Snapshot": "snapshot",
        "Backup": "backup", "Health": "health", "Metrics": "metrics", "Check": "check_usage", "Consume": "consume",
        "Reserve": "reserve", "Settle": "settle", "Release": "release", "GetLimits": "get_limits",
        "SetLimits": "set_limits", "History": "history", "TopUsers": "top_users",
        "MonthByTier": "month_by_tier", "SavePackage": "save_package", "DeactivatePackage": "deactivate_package",
        "ListPackages": "list_packages", "StartPurchase": "start_purchase", "CompletePurchase": "complete_purchase",
        "FailPurchase": "fail_purchase", "GetPurchase": "get_purchase", "ListPurchases": "list_purchases",
        "Commit": "commit", "CancelCommitment": "cancel_commitment", "ResolvePrediction": "resolve", "VoidPrediction": "void",
        "ClosePrediction": "close_prediction", "ListCommitments": "list_commitments",
        "GetTransaction": "get_transaction", "ListTransactions": "list_transactions", "Stats": "stats",
        "SetMembership": "set_membership", "GetMembership": "get_membership", "SetPrice": "set_price",
        "ListPrices": "list_prices", "Actions/Spend": "spend_action", "List": "list_audit",
        "Reconcile": "reconcile",
    }
    for path in METHODS:
        name = path.rsplit("/", 1)[1]
        if path == "/tally.v1.Actions/Spend":
            name = "Actions/Spend"
        assert name in wrappers, f"{path} has no typed wrapper: add one to TallyClient"
        assert callable(getattr(TallyClient, wrappers[name]))


def test_the_readme_method_table_names_every_public_method():
    import inspect
    import pathlib

    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = "\n".join(line for line in readme.splitlines() if line.startswith("| `"))
    from tally_client import AsyncTallyClient

    public = sorted({
        name for client in (TallyClient, AsyncTallyClient)
        for name, _ in inspect.getmembers(client, inspect.isfunction) if not name.startswith("_")
    })
    missing = [name for name in public if f"`{name}(" not in table and f"/ `{name}(" not in table and f"`{name}`" not in table]
    assert not [m for m in missing if m not in ("close", "closed", "fail")], f"README's method table lacks {missing}"


def test_errors_are_tally_errors_and_pickle():
    import pickle

    from tally_client import errors

    e = errors.error_from_response(
        pb.Response(call_id=4, code=pb.CODE_RESOURCE_EXHAUSTED, reason="DAILY_LIMIT_EXCEEDED", details={"used": "5"})
    )
    assert isinstance(e, errors.ResourceExhausted) and isinstance(e, TallyError)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is errors.ResourceExhausted and back.details == {"used": "5"} and back.call_id == 4
    unknown = errors.error_from_response(pb.Response(call_id=1, code=99, reason="X"))
    assert type(unknown) is TallyError and unknown.code == 99 and unknown.code_name == "CODE_99"


def test_rate_limited_on_a_dedicated_tallyd(make_tallyd, tmp_path, user):
    from tally_client import ResourceExhausted

    config = tmp_path / "tallyd.toml"
    config.write_text("[rate_limits]\ncredit = { per_hour = 1, burst = 1 }\n")
    server = make_tallyd("--config", str(config))
    with TallyClient(server.socket, timeout_ms=10_000) as c:
        c.credit(user, 1, "grant")
        with pytest.raises(ResourceExhausted) as caught:
            c.credit(user, 1, "grant")
        assert caught.value.reason == "RATE_LIMITED"
        assert caught.value.details["rate_class"] == "credit"
        assert caught.value.detail_int("retry_after_ms") > 0
        c.credit(user + "-other", 1, "grant")  # buckets are per user


def test_history_pages_newest_first(client):
    for amount in range(1, 8):
        client.credit("py-hist", amount, kind="grant")
    client.spend("py-hist", 3)
    seen, before = [], 0
    while True:
        page = client.list_transactions("py-hist", limit=3, before_id=before)
        seen += [t.amount for t in page.transactions]
        before = page.next_before_id
        if before == 0:
            break
    assert seen == [3, 7, 6, 5, 4, 3, 2, 1]
    spends = client.list_transactions("py-hist", types=[pb.TRANSACTION_TYPE_SPEND])
    assert [t.amount for t in spends.transactions] == [3]
    first = page.transactions[-1]
    assert client.get_transaction(first.id) == first


def test_priced_actions_charge_the_tiers_price(client, user):
    action = user + "-post"
    client.set_price(action, "trial", 5)
    assert dict(client.set_price(action, "subscribed", 2).costs) == {"trial": 5, "subscribed": 2}
    client.credit(user, 50, kind="grant")
    first = client.spend_action(user, action)
    assert first.transaction.amount == 5 and first.transaction.tier == "trial" and first.transaction.action == action
    membership = client.set_membership(user, "subscribed")
    assert membership.active and membership.tier == "subscribed"
    assert client.spend_action(user, action).balance.available == 43
    assert action in [p.action for p in client.list_prices()]
    with pytest.raises(NotFound) as refused:
        client.spend_action(user, "no-such-action")
    assert refused.value.reason == "ACTION_NOT_FOUND"
    assert client.set_membership(user, "").tier == "trial"
    refusals = client.list_audit(user_id=user, status=pb.AUDIT_STATUS_REFUSED).entries
    assert [e.reason for e in refusals] == ["ACTION_NOT_FOUND"] and refusals[0].method == "/tally.v1.Actions/Spend"
    report = client.reconcile()
    assert not report.mismatches and report.accounts_checked >= 1
