#!/usr/bin/env python3
"""Writes Clients/conformance/scenario.txt: the one scenario every client runs (README.md here).

    Clients/python/.venv/bin/python Clients/conformance/make-scenario.py

Needs any python with Google's protobuf package (the venv Clients/python/test.sh makes will do);
the request payloads are real messages, serialized by the Python client's generated modules.
Rerun it after changing a step below, then rerun Clients/conformance/run.sh and review the
answers it prints before you refresh expected.txt (run.sh --update).
"""

from __future__ import annotations

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))

from tally_client import pb  # noqa: E402

L = "/tally.v1.Ledger/"
U = "/tally.v1.Usage/"
P = "/tally.v1.Purchases/"

# (what the step checks, method, payload: a message or raw bytes)
STEPS = [
    ("a user never credited: all zero, version 0", L + "GetBalance", pb.GetBalanceRequest(user_id="alice")),
    ("credit PURCHASE with reference, memo and key: transaction 1", L + "Credit",
     pb.CreditRequest(user_id="alice", amount=1000, kind=pb.CREDIT_KIND_PURCHASE, reference="order-1",
                      memo="first order", idempotency_key="k-credit-1")),
    ("credit GRANT: transaction 2", L + "Credit",
     pb.CreditRequest(user_id="alice", amount=200, kind=pb.CREDIT_KIND_GRANT, memo="welcome")),
    ("credit REFUND: transaction 3", L + "Credit",
     pb.CreditRequest(user_id="alice", amount=50, kind=pb.CREDIT_KIND_REFUND, reference="order-0")),
    ("credit ADJUSTMENT: transaction 4", L + "Credit",
     pb.CreditRequest(user_id="alice", amount=5, kind=pb.CREDIT_KIND_ADJUSTMENT)),
    ("the keyed credit retried: replayed, balance as of the first call", L + "Credit",
     pb.CreditRequest(user_id="alice", amount=1000, kind=pb.CREDIT_KIND_PURCHASE, reference="order-1",
                      memo="first order", idempotency_key="k-credit-1")),
    ("keyed spend: transaction 5", L + "Spend",
     pb.SpendRequest(user_id="alice", amount=300, reference="chat-1", idempotency_key="k-spend-1")),
    ("the keyed spend retried: replayed, transaction 5 again", L + "Spend",
     pb.SpendRequest(user_id="alice", amount=300, reference="chat-1", idempotency_key="k-spend-1")),
    ("the spend's key with another amount: IDEMPOTENCY_KEY_CONFLICT", L + "Spend",
     pb.SpendRequest(user_id="alice", amount=301, reference="chat-1", idempotency_key="k-spend-1")),
    ("the credit's key on a spend (one key space): IDEMPOTENCY_KEY_CONFLICT", L + "Spend",
     pb.SpendRequest(user_id="alice", amount=1, idempotency_key="k-credit-1")),
    ("keyed spend by a user never credited: INSUFFICIENT_TOKENS, available 0", L + "Spend",
     pb.SpendRequest(user_id="bob", amount=10, idempotency_key="k-spend-bob")),
    ("credit bob: transaction 6", L + "Credit",
     pb.CreditRequest(user_id="bob", amount=100, kind=pb.CREDIT_KIND_GRANT)),
    ("the refused spend retried after the credit: the refusal replayed (detail replayed=true)", L + "Spend",
     pb.SpendRequest(user_id="bob", amount=10, idempotency_key="k-spend-bob")),
    ("spend more than available, no key: INSUFFICIENT_TOKENS", L + "Spend",
     pb.SpendRequest(user_id="alice", amount=5000)),
    ("balance after the ledger calls", L + "GetBalance", pb.GetBalanceRequest(user_id="alice")),
    ("bad input: empty user id on a spend: USER_ID_EMPTY", L + "Spend", pb.SpendRequest(user_id="", amount=1)),
    ("bad input: amount 0: AMOUNT_NOT_POSITIVE", L + "Credit",
     pb.CreditRequest(user_id="alice", amount=0, kind=pb.CREDIT_KIND_GRANT)),
    ("bad input: negative amount: AMOUNT_NOT_POSITIVE", L + "Spend", pb.SpendRequest(user_id="alice", amount=-7)),
    ("bad input: a 129-byte user id (refused while decoding): FIELD_TOO_LONG", L + "GetBalance",
     pb.GetBalanceRequest(user_id="x" * 129)),
    ("bad input: a 129-byte user id on a credit (refused by the Writer): FIELD_TOO_LONG", L + "Credit",
     pb.CreditRequest(user_id="y" * 129, amount=1, kind=pb.CREDIT_KIND_GRANT)),
    ("bad input: credit without kind: CREDIT_KIND_MISSING", L + "Credit", pb.CreditRequest(user_id="alice", amount=10)),
    ("bad input: a control character in the user id: USER_ID_INVALID", L + "Credit",
     pb.CreditRequest(user_id="tab\there", amount=7, kind=pb.CREDIT_KIND_GRANT, idempotency_key="k-fixed")),
    ("the same key with the user id fixed: a fresh credit, transaction 7 (refusals of bad input are not remembered)", L + "Credit",
     pb.CreditRequest(user_id="carol", amount=7, kind=pb.CREDIT_KIND_GRANT, idempotency_key="k-fixed")),
    ("an unknown method: UNKNOWN_METHOD", L + "Nope", pb.GetBalanceRequest(user_id="alice")),
    ("a payload that is not a message (a string field cut short): MALFORMED_PAYLOAD", L + "GetBalance",
     bytes.fromhex("0a05616c")),
    ("invalid UTF-8 in a payload string: MALFORMED_PAYLOAD", L + "Credit",
     b"\x0a\x02\xff\xfe" + pb.CreditRequest(amount=1, kind=pb.CREDIT_KIND_GRANT).SerializeToString()),
    ("usage: where a new user stands (trial tier, 10,000 a day)", U + "Check", pb.CheckUsageRequest(user_id="dave")),
    ("usage: keyed consume", U + "Consume", pb.ConsumeRequest(user_id="dave", tokens=4000, idempotency_key="k-consume-1")),
    ("usage: the consume retried: replayed", U + "Consume",
     pb.ConsumeRequest(user_id="dave", tokens=4000, idempotency_key="k-consume-1")),
    ("usage: reserve: reservation 1", U + "Reserve", pb.ReserveRequest(user_id="dave", tokens=3000, ttl_ms=600000)),
    ("usage: reserve: reservation 2", U + "Reserve", pb.ReserveRequest(user_id="dave", tokens=2000, ttl_ms=600000)),
    ("usage: settle reservation 1 with more than its estimate", U + "Settle",
     pb.SettleRequest(reservation_id=1, tokens=3500, idempotency_key="k-settle-1")),
    ("usage: release reservation 2", U + "Release", pb.ReleaseRequest(reservation_id=2)),
    ("usage: release it again: RESERVATION_NOT_FOUND", U + "Release", pb.ReleaseRequest(reservation_id=2)),
    ("usage: consume past the daily limit: DAILY_LIMIT_EXCEEDED", U + "Consume",
     pb.ConsumeRequest(user_id="dave", tokens=3000)),
    ("usage: bad input: tokens 0: AMOUNT_NOT_POSITIVE", U + "Consume", pb.ConsumeRequest(user_id="dave", tokens=0)),
    ("usage: bad input: ttl over an hour: TTL_OUT_OF_RANGE", U + "Reserve",
     pb.ReserveRequest(user_id="dave", tokens=1, ttl_ms=3600001)),
    ("usage: where dave stands now", U + "Check", pb.CheckUsageRequest(user_id="dave")),
    ("usage: the limits (empty request)", U + "GetLimits", pb.GetLimitsRequest()),
    ("purchases: save a package", P + "SavePackage",
     pb.SavePackageRequest(package=pb.TokenPackage(id="starter", name="Starter", tokens=500, bonus_tokens=50,
                                                   price_cents=499, currency="USD", external_price_id="price_1",
                                                   active=True, sort_order=1))),
    ("purchases: start a purchase: purchase 1, pending", P + "StartPurchase",
     pb.StartPurchaseRequest(user_id="alice", package_id="starter", payment_id="pay-1")),
    ("purchases: start it again: the same purchase, already_done", P + "StartPurchase",
     pb.StartPurchaseRequest(user_id="alice", package_id="starter", payment_id="pay-1")),
    ("purchases: the payment id for another user: PAYMENT_ID_IN_USE", P + "StartPurchase",
     pb.StartPurchaseRequest(user_id="bob", package_id="starter", payment_id="pay-1")),
    ("purchases: complete: credits 550, transaction 8", P + "CompletePurchase",
     pb.CompletePurchaseRequest(payment_id="pay-1")),
    ("purchases: complete again: already_done, nothing credited", P + "CompletePurchase",
     pb.CompletePurchaseRequest(payment_id="pay-1")),
    ("purchases: an unknown package: PACKAGE_NOT_FOUND", P + "StartPurchase",
     pb.StartPurchaseRequest(user_id="alice", package_id="gold", payment_id="pay-2")),
    ("the balance at the end", L + "GetBalance", pb.GetBalanceRequest(user_id="alice")),
    ("a stream: alice's balance changes from the start, in order, then live; cancelled: CANCELLED "
     "with resume_after", L + "WatchBalance", pb.WatchBalanceRequest(user_ids=["alice"], resume=True, after_position=0)),
    ("a stream: dave's usage standing now, then live; cancelled", U + "WatchUsage",
     pb.WatchUsageRequest(user_ids=["dave"])),
    ("a stream refused: no users: WATCH_USERS_MISSING is its only frame", L + "WatchBalance", pb.WatchBalanceRequest()),
]


def main() -> None:
    out = os.path.join(here, "scenario.txt")
    lines = [
        "# The Tally conformance scenario: every client runs these calls, in order, on one",
        "# connection to a fresh tallyd, and writes the same transcript (Clients/conformance/README.md).",
        "# Generated by make-scenario.py; do not edit by hand.",
        "# A step: METHOD<TAB>REQUEST_HEX (the serialized request payload; empty for an empty message).",
    ]
    for n, (what, method, payload) in enumerate(STEPS, 1):
        data = payload if isinstance(payload, bytes) else payload.SerializeToString(deterministic=True)
        lines.append(f"# {n}: {what}")
        lines.append(f"{method}\t{data.hex()}")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {out}: {len(STEPS)} steps")


if __name__ == "__main__":
    main()
