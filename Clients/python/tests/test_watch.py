"""Streams from the blocking client (docs/protocol.md §5.1): balance and usage watches against a
real tallyd, with unary calls on the same client in between, resume, cancel on leaving a
``with`` block, and the stream's last status raised with where to resume."""

from __future__ import annotations

import pytest

from tally_client import TallyClient, errors, pb


def test_watch_balance_live_resume_and_cancel(tallyd, user):
    other = user + "-other"
    with TallyClient(tallyd.socket, timeout_ms=10_000) as client:
        first = client.credit(user, 5, "grant")
        with client.watch_balance([user]) as watch:
            live = next(watch)
            assert live.live and live.position >= first.transaction.id
            # Unary calls on the same client meanwhile: the stream's frames wait for it.
            client.credit(user, 7, "grant")
            client.credit(other, 1, "grant")
            spent = client.spend(user, 2)
            changes = [next(watch), next(watch)]
            assert [c.transaction.amount for c in changes] == [7, 2]
            assert [c.transaction.balance_after for c in changes] == [12, 10]
            assert changes[1].position == spent.transaction.id
            last = changes[1].position
        # Left the block: cancelled on the server, and the client goes on.
        assert client.get_balance(user).available == 10

        # Resume after the first change: the ones after it, then live.
        with client.watch_balance([user], after=first.transaction.id) as resumed:
            got = []
            for change in resumed:
                if change.live:
                    break
                got.append(change.position)
            assert got[-1] == last and got == sorted(got) and len(got) == 2

        # Past the last change: the stream's status is raised, with where to resume.
        with pytest.raises(errors.OutOfRange) as ahead:
            for _ in client.watch_balance([user], after=10**12):
                pass
        assert ahead.value.reason == "POSITION_AHEAD" and ahead.value.details["resume_after"] == str(10**12)

        # cancel(wait=True) reads on to tallyd's last frame: CANCELLED, with where to resume.
        watch = client.watch_balance([user])
        live = next(watch)
        end = watch.cancel(wait=True)
        assert isinstance(end, errors.Cancelled) and end.reason == "CANCELLED"
        assert end.details["resume_after"] == str(live.position)
        assert list(watch) == [] and watch.cancel(wait=True).reason == "CANCELLED"  # the same end again
        assert client.get_balance(user).available == 10

        # A stream that already ended: cancel(wait=True) gives how it ended.
        ended = client.watch_balance([user], after=10**12)
        with pytest.raises(errors.OutOfRange):
            next(ended)
        assert ended.cancel(wait=True).reason == "POSITION_AHEAD"

        # timeout_ms bounds the whole stream.
        with pytest.raises(errors.DeadlineExceeded):
            for _ in client.watch_balance([user], timeout_ms=200):
                pass


def test_watch_usage_current_live_and_changes(tallyd, user):
    with TallyClient(tallyd.socket, timeout_ms=10_000) as client:
        client.consume(user, 3)
        with client.watch_usage([user]) as watch:
            current = next(watch)
            assert current.cause == pb.USAGE_CHANGE_CAUSE_CURRENT and current.status.used == 3
            assert next(watch).live
            client.consume(user, 4)
            change = next(watch)
            assert change.cause == pb.USAGE_CHANGE_CAUSE_CONSUME and change.status.used == 7
        with pytest.raises(errors.InvalidArgument) as missing:
            next(client.watch_usage([]))
        assert missing.value.reason == "WATCH_USERS_MISSING"


def _until_live(feed):
    records = []
    with feed:
        for change in feed:
            if change.live:
                return records, change
            records.append(change)
    raise AssertionError("the feed ended before its live message")


def test_changes_feed_gives_each_record_with_its_answer(make_tallyd, user):
    server = make_tallyd("--fsync", "interval")  # a journal to feed from (the shared one has none)
    with TallyClient(server.socket, timeout_ms=10_000) as client:
        credited = client.credit(user, 9, "grant")
        refused = None
        try:
            client.spend(user, 100)
        except errors.FailedPrecondition as e:
            refused = e
        records, live = _until_live(client.changes())
        assert [r.sequence for r in records] == [1, 2] and live.sequence == 2
        assert records[0].method == "/tally.v1.Ledger/Credit" and pb.CreditRequest.FromString(records[0].request).user_id == user
        assert pb.CreditResponse.FromString(records[0].result.payload) == credited and records[0].result.code == 0
        assert records[1].result.reason == refused.reason == "INSUFFICIENT_TOKENS"
        assert dict(records[1].result.details) == dict(refused.details)
        # Resume after the first: only the second, then live; a new record arrives live.
        with client.changes(after=1) as feed:
            first = next(feed)
            assert first.sequence == 2 and not first.live
            assert next(feed).live
        with client.changes(after=2) as feed:
            assert next(feed).live
            later = client.credit(user, 1, "grant")
            change = next(feed)
            assert change.sequence == 3 and pb.CreditResponse.FromString(change.result.payload) == later
        with pytest.raises(errors.OutOfRange) as ahead:
            for _ in client.changes(after=10**9):
                pass
        assert ahead.value.reason == "POSITION_AHEAD"


def test_changes_needs_a_journal(tallyd):
    with TallyClient(tallyd.socket, timeout_ms=10_000) as client:  # --fsync never: no journal
        with pytest.raises(errors.FailedPrecondition) as e:
            for _ in client.changes():
                pass
        assert e.value.reason == "NO_JOURNAL"
