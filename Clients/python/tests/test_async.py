"""AsyncTallyClient: the typed methods against a real tallyd, many tasks on one connection,
PreparedCalls in pipelines, and deadlines, cancellation and connection loss against a fake
server that does on cue what a real tallyd will not. Each test runs its own event loop."""

import asyncio
import inspect
import threading
import time

import pytest

from conftest import answers_late_then_health, frame, read_requests
from tally_client import (
    AsyncTallyClient,
    CallTimeout,
    ConnectError,
    ConnectionClosed,
    FailedPrecondition,
    NotFound,
    PreparedCall,
    TallyClient,
    calls,
    errors,
    pb,
)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_every_typed_method_is_a_coroutine_with_the_blocking_signature():
    typed = [name for name, value in vars(calls).items() if inspect.isfunction(value) and value.__module__ == calls.__name__
             and not name.startswith("_") and name not in ("blocking", "awaitable")]
    assert len(typed) == 41
    for name in typed:
        blocking, awaiting = getattr(TallyClient, name), getattr(AsyncTallyClient, name)
        assert inspect.iscoroutinefunction(awaiting), name
        assert not inspect.iscoroutinefunction(blocking), name
        assert inspect.signature(blocking) == inspect.signature(awaiting) == inspect.signature(getattr(calls, name)), name
        assert awaiting.__doc__ == blocking.__doc__ and blocking.__doc__, name


def test_typed_methods_against_a_real_tallyd(tallyd, user):
    async def scenario():
        async with await AsyncTallyClient.connect(tallyd.socket, timeout_ms=10_000) as tally:
            credited = await tally.credit(user, 100, "grant", idempotency_key=f"{user}-grant", metadata={"why": "test"})
            assert isinstance(credited, pb.CreditResponse) and credited.balance.available == 100
            again = await tally.credit(user, 100, "grant", idempotency_key=f"{user}-grant", metadata={"why": "test"})
            assert again.replayed and again.transaction.id == credited.transaction.id
            spent = await tally.spend(user, 30)
            assert spent.balance.available == 70
            balance = await tally.get_balance(user)
            assert isinstance(balance, pb.Balance) and balance.available == 70 and balance.version == 2
            with pytest.raises(FailedPrecondition) as refused:
                await tally.spend(user, 1_000)
            assert refused.value.reason == "INSUFFICIENT_TOKENS" and refused.value.detail_int("shortfall") == 930
            with pytest.raises(NotFound):
                await tally.get_transaction(2**62)
            history = await tally.list_transactions(user)
            assert [t.amount for t in history.transactions] == [30, 100]
            status = (await tally.consume(user, 5)).status
            assert status.used == 5
            assert (await tally.check_usage(user)).used == 5
            packages = await tally.list_packages()
            assert isinstance(packages, list)
            health = await tally.health()
            assert health.connections >= 1 and not health.state_digest
            digested = await tally.health(digest=True)
            assert len(digested.state_digest) == 64 and digested.digest_sequence <= digested.durable_sequence
        assert tally.closed

    run(scenario())


def test_many_tasks_share_one_connection(tallyd, user):
    async def scenario():
        async with await AsyncTallyClient.connect(tallyd.socket, timeout_ms=10_000) as tally:
            await tally.credit(user, 10_000, "grant")
            spends = [tally.spend(user, 1 + i % 3, idempotency_key=f"{user}-{i}") for i in range(300)]
            reads = [tally.get_balance(user) for _ in range(100)]
            answers = await asyncio.gather(*spends, *reads)
            spent = answers[:300]
            assert len({a.transaction.id for a in spent}) == 300, "each task got its own answer"
            assert all(a.transaction.amount == 1 + i % 3 for i, a in enumerate(spent))
            balance = await tally.get_balance(user)
            assert balance.available == 10_000 - sum(1 + i % 3 for i in range(300))
            assert tally.stale_answers == 0

    run(scenario())


def test_prepared_calls_in_pipelines_answer_as_typed_methods(tallyd, user):
    with TallyClient(tallyd.socket, timeout_ms=10_000) as tally:
        credited, balance, refused = tally.pipeline([
            calls.credit(user, 50, "grant"), calls.get_balance(user), calls.spend(user, 999),
        ])
        assert isinstance(credited, pb.CreditResponse) and credited.balance.available == 50
        assert isinstance(balance, pb.Balance) and balance.available == 50
        assert isinstance(refused, FailedPrecondition)

    async def scenario():
        async with await AsyncTallyClient.connect(tallyd.socket, timeout_ms=10_000) as tally:
            prepared = calls.list_prices()
            assert isinstance(prepared, PreparedCall) and prepared.method == "/tally.v1.Actions/ListPrices"
            balance, prices, missing = await tally.pipeline([calls.get_balance(user), prepared, calls.get_purchase("no-such-payment")])
            assert isinstance(balance, pb.Balance) and balance.available == 50
            assert isinstance(prices, list)
            assert isinstance(missing, NotFound) and missing.reason == "PURCHASE_NOT_FOUND"
            with pytest.raises(NotFound):
                await tally.pipeline([calls.get_balance(user), calls.get_purchase("no-such-payment")], return_exceptions=False)

    run(scenario())


def test_a_refused_call_changes_nothing_for_the_others(tallyd, user):
    async def scenario():
        async with await AsyncTallyClient.connect(tallyd.socket, timeout_ms=10_000) as tally:
            await tally.credit(user, 10, "grant")
            results = await asyncio.gather(tally.spend(user, 100), tally.spend(user, 4), return_exceptions=True)
            assert isinstance(results[0], FailedPrecondition) and results[1].balance.available == 6

    run(scenario())


def test_answers_out_of_order_are_matched_by_call_id(fake_server):
    def serve(conn):
        requests = read_requests(conn, 3)
        for r in reversed(requests):
            conn.sendall(frame(pb.Response(call_id=r.call_id, payload=pb.HealthResponse(connections=r.call_id).SerializeToString())))

    server = fake_server(serve)

    async def scenario():
        async with await AsyncTallyClient.connect(server.socket, timeout_ms=5000) as tally:
            first, second, third = await asyncio.gather(tally.health(), tally.health(), tally.health())
            assert [first.connections, second.connections, third.connections] == [1, 2, 3]

    run(scenario())


def test_deadline_holds_and_a_late_answer_is_dropped(fake_server):
    release = threading.Event()
    server = fake_server(answers_late_then_health(release))

    async def scenario():
        async with await AsyncTallyClient.connect(server.socket, timeout_ms=100, timeout_grace_ms=200) as tally:
            started = time.monotonic()
            with pytest.raises(CallTimeout) as caught:
                await tally.health()
            assert time.monotonic() - started >= 0.28
            e = caught.value
            assert e.reason == "CLIENT_TIMEOUT" and e.outcome_unknown and e.partial_results == [None]
            release.set()
            # The connection stays usable; the late answer is dropped by its call id.
            assert (await tally.health(timeout_ms=5000)).connections == 7
            assert tally.stale_answers == 1

    run(scenario())


def test_a_cancelled_wait_leaves_the_connection_usable(fake_server):
    def serve(conn):
        [slow, fast] = read_requests(conn, 2)
        conn.sendall(frame(pb.Response(call_id=fast.call_id, payload=pb.HealthResponse(connections=2).SerializeToString())))
        [after] = read_requests(conn, 1)
        conn.sendall(frame(pb.Response(call_id=slow.call_id, payload=b"")))
        conn.sendall(frame(pb.Response(call_id=after.call_id, payload=pb.HealthResponse(connections=3).SerializeToString())))

    server = fake_server(serve)

    async def scenario():
        async with await AsyncTallyClient.connect(server.socket, timeout_ms=0) as tally:
            slow = asyncio.ensure_future(tally.health())
            await asyncio.sleep(0.05)  # the slow call goes out first
            assert (await tally.health()).connections == 2
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            assert (await tally.health()).connections == 3
            assert tally.stale_answers == 1

    run(scenario())


def test_connection_loss_reaches_every_waiting_call(fake_server):
    def serve(conn):
        requests = read_requests(conn, 3)
        conn.sendall(frame(pb.Response(call_id=requests[1].call_id, payload=pb.HealthResponse().SerializeToString())))
        conn.sendall(frame(pb.Response(call_id=0, code=pb.CODE_UNAVAILABLE, reason="SHUTTING_DOWN", message="bye")))

    server = fake_server(serve)

    async def scenario():
        tally = await AsyncTallyClient.connect(server.socket, timeout_ms=5000)
        results = await asyncio.gather(tally.health(), tally.health(), tally.health(), return_exceptions=True)
        assert isinstance(results[1], pb.HealthResponse)
        for lost in (results[0], results[2]):
            assert isinstance(lost, ConnectionClosed) and lost.reason == "SHUTTING_DOWN" and lost.final_frame is not None
        with pytest.raises(ConnectionClosed) as after:
            await tally.health()
        assert after.value.reason == "SHUTTING_DOWN"
        await tally.close()

    run(scenario())


def test_a_pipeline_cut_off_reports_partial_results(fake_server):
    def serve(conn):
        requests = read_requests(conn, 3)
        conn.sendall(frame(pb.Response(call_id=requests[1].call_id, payload=pb.HealthResponse().SerializeToString())))
        conn.close()

    server = fake_server(serve)

    async def scenario():
        async with await AsyncTallyClient.connect(server.socket, timeout_ms=5000) as tally:
            with pytest.raises(ConnectionClosed) as caught:
                await tally.pipeline([calls.health()] * 3)
            e = caught.value
            assert e.reason == "CONNECTION_CLOSED"
            assert e.partial_results[0] is None and e.partial_results[2] is None
            assert isinstance(e.partial_results[1], pb.HealthResponse)

    run(scenario())


def test_closing_ends_waiting_calls_and_refuses_new_ones(fake_server):
    def serve(conn):
        read_requests(conn, 1)
        time.sleep(0.5)

    server = fake_server(serve)

    async def scenario():
        tally = await AsyncTallyClient.connect(server.socket, timeout_ms=5000)
        waiting = asyncio.ensure_future(tally.health())
        await asyncio.sleep(0.05)
        await tally.close()
        with pytest.raises(ConnectionClosed) as caught:
            await waiting
        assert caught.value.reason == "CLIENT_CLOSED"
        with pytest.raises(ConnectionClosed):
            await tally.get_balance("anyone")

    run(scenario())


def test_connect_to_a_missing_socket(tmp_path):
    async def scenario():
        with pytest.raises(ConnectError) as caught:
            await AsyncTallyClient.connect(str(tmp_path / "none.sock"))
        assert caught.value.reason == "CONNECT_FAILED" and caught.value.details["errno"] == "ENOENT"

    run(scenario())


def test_streams_on_the_asyncio_client(make_tallyd, user):
    server = make_tallyd("--fsync", "interval")  # a journal, for the change feed

    async def scenario():
        async with await AsyncTallyClient.connect(server.socket, timeout_ms=10_000) as tally:
            first = await tally.credit(user, 5, "grant")
            async with tally.watch_balance([user], after=0) as watch:
                got = []
                async for change in watch:
                    got.append(change)
                    if change.live:
                        break
                assert [c.position for c in got] == [first.transaction.id, first.transaction.id] and got[1].live
                # Calls from another task go on meanwhile; the change arrives on the stream.
                spent = await asyncio.create_task(tally.spend(user, 2))
                change = await watch.__anext__()
                assert change.position == spent.transaction.id and change.transaction.balance_after == 3
                end = await watch.cancel(wait=True)
                assert end.reason == "CANCELLED" and end.details["resume_after"] == str(spent.transaction.id)
                assert [c async for c in watch] == []

            async with tally.watch_usage([user]) as usage:
                assert (await usage.__anext__()).cause == pb.USAGE_CHANGE_CAUSE_CURRENT
                assert (await usage.__anext__()).live

            feed = tally.changes()
            records = []
            async for record in feed:
                if record.live:
                    break
                records.append(record)
            assert [r.sequence for r in records] == [1, 2]
            assert pb.SpendResponse.FromString(records[1].result.payload) == spent
            await feed.cancel()

            with pytest.raises(errors.OutOfRange) as refused:
                async for _ in tally.watch_balance([user], after=10**9):
                    pass
            assert refused.value.reason == "POSITION_AHEAD"

    run(scenario())


def test_a_stream_ends_when_the_connection_does(make_tallyd, user):
    server = make_tallyd()

    async def scenario():
        tally = await AsyncTallyClient.connect(server.socket, timeout_ms=10_000)
        watch = tally.watch_balance([user])
        assert (await watch.__anext__()).live
        await tally.close()
        with pytest.raises(ConnectionClosed):
            await watch.__anext__()

    run(scenario())


def test_a_stream_not_taken_from_is_cancelled_past_its_backlog(make_tallyd, user, monkeypatch):
    from tally_client import aio_stream

    monkeypatch.setattr(aio_stream, "BACKLOG_LIMIT", 3)
    server = make_tallyd()

    async def scenario():
        async with await AsyncTallyClient.connect(server.socket, timeout_ms=10_000) as tally:
            watch = tally.watch_balance([user])
            for _ in range(6):
                await tally.credit(user, 1, "grant")
            got = []
            with pytest.raises(errors.ResourceExhausted) as full:
                async for change in watch:
                    got.append(change)
            assert full.value.reason == "STREAM_BACKLOG_FULL" and len(got) == 3 and got[0].live
            assert (await tally.get_balance(user)).available == 6  # the connection goes on

    run(scenario())
