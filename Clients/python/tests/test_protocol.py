"""Framing, call ids, pipelining, deadlines and connection loss: against a real tallyd, and
against a fake server for behaviour a real one cannot be made to show on cue."""

import os
import socket
import threading
import time
import uuid

import pytest

from conftest import answers_late_then_health, frame, raw_exchange, read_requests
from tally_client import (
    METHODS,
    Call,
    CallTimeout,
    ConnectError,
    ConnectionClosed,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    OutOfRange,
    ProtocolError,
    TallyClient,
    Unimplemented,
    pb,
)

DOC_REQUEST = "0000002a080110011a1b2f74616c6c792e76312e4c65646765722f47657442616c616e63652a070a05616c696365"
DOC_ANSWER = "0000000d080132090a070a05616c696365"


# -- wire format -------------------------------------------------------------------------------


def test_first_frame_matches_protocol_doc_bytes(fake_server):
    """docs/protocol.md §2: GetBalance("alice") with call id 1, byte for byte, and its answer."""
    seen = {}

    def serve(conn):
        data = b""
        while len(data) < len(DOC_REQUEST) // 2:
            data += conn.recv(4096)
        seen["bytes"] = data.hex()
        conn.sendall(bytes.fromhex(DOC_ANSWER))

    server = fake_server(serve)
    with TallyClient(server.socket) as c:
        balance = c.get_balance("alice")
    assert seen["bytes"] == DOC_REQUEST
    assert (balance.user_id, balance.available, balance.version) == ("alice", 0, 0)


def test_real_tallyd_answers_doc_bytes(tallyd):
    # A user id no test credits: the answer is the document's example with that id.
    answers = raw_exchange(tallyd.socket, bytes.fromhex(DOC_REQUEST.replace("616c696365", "7a7a7a7a7a")))
    assert answers[0].call_id == 1 and answers[0].code == 0
    assert pb.GetBalanceResponse.FromString(answers[0].payload).balance.user_id == "zzzzz"


def test_partial_reads_and_out_of_order_answers(fake_server):
    """Answers split into single bytes and sent in reverse order are matched by call id."""

    def serve(conn):
        requests = read_requests(conn, 5)
        out = frame(pb.Response(call_id=987654, code=pb.CODE_INTERNAL))  # an id never sent: ignored
        for r in reversed(requests):
            user = pb.GetBalanceRequest.FromString(r.payload).user_id
            payload = pb.GetBalanceResponse(balance=pb.Balance(user_id=user, available=len(user))).SerializeToString()
            out += frame(pb.Response(call_id=r.call_id, payload=payload))
        for i in range(len(out)):
            conn.sendall(out[i : i + 1])
            if i % 7 == 0:
                time.sleep(0.001)

    server = fake_server(serve)
    with TallyClient(server.socket, timeout_ms=5000) as c:
        users = ["a", "bb", "ccc", "dddd", "eeeee"]
        results = c.pipeline([Call("/tally.v1.Ledger/GetBalance", pb.GetBalanceRequest(user_id=u)) for u in users])
    assert [r.balance.user_id for r in results] == users
    assert [r.balance.available for r in results] == [1, 2, 3, 4, 5]
    assert c.stale_answers == 1


def test_server_reorders_answers_within_one_read(client, user):
    """docs/protocol.md §5: calls refused while decoding are answered first; results still
    come back in request order."""
    results = client.pipeline(
        [
            ("/tally.v1.Ledger/GetBalance", pb.GetBalanceRequest(user_id=user)),
            ("/tally.v1.Ledger/Credit", pb.CreditRequest(user_id=user, amount=5, kind=pb.CREDIT_KIND_GRANT)),
            ("/tally.v1.Nope/Nothing", b""),
        ]
    )
    assert isinstance(results[0], pb.GetBalanceResponse) and results[0].balance.available == 0
    assert isinstance(results[1], pb.CreditResponse) and results[1].balance.available == 5
    assert isinstance(results[2], Unimplemented) and results[2].reason == "UNKNOWN_METHOD"


# -- pipelining --------------------------------------------------------------------------------


def test_pipeline_1000_calls(client, user):
    calls = [Call("/tally.v1.Ledger/Credit", pb.CreditRequest(user_id=user, amount=i + 1, kind=pb.CREDIT_KIND_GRANT)) for i in range(1000)]
    started = time.perf_counter()
    results = client.pipeline(calls)
    elapsed = time.perf_counter() - started
    assert all(isinstance(r, pb.CreditResponse) for r in results)
    assert [r.transaction.amount for r in results] == list(range(1, 1001))
    # Run in order: each call saw the balance the one before it left.
    assert all(r.transaction.balance_before == i * (i + 1) // 2 for i, r in enumerate(results))
    assert client.get_balance(user).available == 1000 * 1001 // 2
    print(f"1000 pipelined credits: {elapsed * 1000:.0f} ms")


def test_pipeline_mixed_outcomes_in_order(client, user):
    client.credit(user, 10, "grant")
    calls = []
    for i in range(300):
        calls.append(("/tally.v1.Ledger/Spend", pb.SpendRequest(user_id=user, amount=4)))
        calls.append(("/tally.v1.Ledger/GetBalance", pb.GetBalanceRequest(user_id=user)))
    results = client.pipeline(calls)
    spends = results[0::2]
    assert [type(r).__name__ for r in spends[:3]] == ["SpendResponse", "SpendResponse", "FailedPrecondition"]
    assert all(isinstance(r, FailedPrecondition) and r.reason == "INSUFFICIENT_TOKENS" for r in spends[2:])
    assert [r.balance.available for r in results[1:6:2]] == [6, 2, 2]
    with pytest.raises(FailedPrecondition):
        client.pipeline(calls[:6], return_exceptions=False)


def test_pipeline_larger_than_flow_control_window(client, user):
    """20,000 calls: more than tallyd's 1,024 calls in flight and 64 KiB of unread answers, so
    the client must read while it writes (docs/protocol.md §10)."""
    calls = [("/tally.v1.Usage/Check", pb.CheckUsageRequest(user_id=user))] * 20_000
    started = time.perf_counter()
    results = client.pipeline(calls, timeout_ms=60_000)
    elapsed = time.perf_counter() - started
    assert len(results) == 20_000 and all(r.status.user_id == user for r in results)
    print(f"20000 pipelined checks: {elapsed * 1000:.0f} ms")


# -- deadlines ---------------------------------------------------------------------------------


def test_deadline_goes_into_the_envelope(fake_server):
    got = {}

    def serve(conn):
        for _ in range(3):
            [r] = read_requests(conn, 1)
            got[r.call_id] = r.timeout_ms
            conn.sendall(frame(pb.Response(call_id=r.call_id, payload=pb.HealthResponse().SerializeToString())))

    server = fake_server(serve)
    with TallyClient(server.socket, timeout_ms=1500) as c:
        c.health()
        c.health(timeout_ms=250)
        c.health(timeout_ms=0)  # 0: no deadline
    assert list(got.values()) == [1500, 250, 0]


def test_server_deadline_exceeded_is_not_applied(tallyd, user):
    """A call whose deadline passed before tallyd's Writer reached it is refused with
    DEADLINE_EXCEEDED and not run: keep the Writer busy from another connection, then send
    1 ms calls until one is refused."""
    stop = threading.Event()

    def keep_busy():
        with TallyClient(tallyd.socket) as busy:
            filler = [("/tally.v1.Ledger/Credit", pb.CreditRequest(user_id=user + "-load", amount=1, kind=pb.CREDIT_KIND_GRANT))] * 5000
            while not stop.is_set():
                busy.pipeline(filler)

    loader = threading.Thread(target=keep_busy, daemon=True)
    loader.start()
    refused = None
    key = f"deadline-{uuid.uuid4()}"
    try:
        with TallyClient(tallyd.socket, timeout_grace_ms=60_000) as c:
            give_up = time.monotonic() + 20
            attempt = 0
            while refused is None and time.monotonic() < give_up:
                attempt += 1
                keys = [f"{key}-{attempt}-{i}" for i in range(200)]
                results = c.pipeline(
                    [("/tally.v1.Ledger/Credit", pb.CreditRequest(user_id=user, amount=1, kind=pb.CREDIT_KIND_GRANT, idempotency_key=k)) for k in keys],
                    timeout_ms=1,
                )
                refused = next(((keys[i], r) for i, r in enumerate(results) if isinstance(r, DeadlineExceeded)), None)
    finally:
        stop.set()
        loader.join(30)
    assert refused is not None, "no call was refused with DEADLINE_EXCEEDED in 20 s"
    refused_key, error = refused
    assert error.reason == "DEADLINE_EXCEEDED" and not isinstance(error, CallTimeout)
    assert error.details == {}
    # Not run, so not remembered under its key: a retry is applied fresh.
    with TallyClient(tallyd.socket) as c:
        retry = c.credit(user, 1, "grant", idempotency_key=refused_key)
        assert not retry.replayed


def test_client_timeout_when_no_answer(fake_server):
    release = threading.Event()
    server = fake_server(answers_late_then_health(release))
    with TallyClient(server.socket, timeout_ms=100, timeout_grace_ms=200) as c:
        started = time.monotonic()
        with pytest.raises(CallTimeout) as caught:
            c.health()
        waited = time.monotonic() - started
        assert 0.28 <= waited < 2.0
        e = caught.value
        assert isinstance(e, DeadlineExceeded) and e.reason == "CLIENT_TIMEOUT" and e.outcome_unknown
        release.set()
        # The connection is still usable; the late answer is discarded by its call id.
        assert c.health(timeout_ms=5000).connections == 7
        assert c.stale_answers == 1


# -- connection loss ---------------------------------------------------------------------------


def test_garbage_frame_closes_with_malformed_frame(tallyd):
    c = TallyClient(tallyd.socket, timeout_ms=5000)
    c._sock.sendall(frame(b"\xff\xff\xff"))  # a complete frame that is not a Request
    with pytest.raises(ConnectionClosed) as caught:
        c.get_balance("someone")
    e = caught.value
    assert e.reason == "MALFORMED_FRAME" and e.code_name == "INVALID_ARGUMENT"
    assert e.final_frame is not None and e.final_frame.call_id == 0 and e.outcome_unknown
    # Every later call fails the same way, at once.
    with pytest.raises(ConnectionClosed) as again:
        c.health()
    assert again.value.reason == "MALFORMED_FRAME"
    assert c.closed
    c.close()


def test_too_large_frame_closes_with_frame_too_large(tallyd):
    # The client's own limit raised past tallyd's 4 MiB, so the frame really goes out.
    with TallyClient(tallyd.socket, timeout_ms=10_000, max_frame_bytes=8 << 20) as c:
        with pytest.raises(ConnectionClosed) as caught:
            c.call("/tally.v1.Ledger/GetBalance", b"\x00" * (5 << 20))
    e = caught.value
    assert e.reason == "FRAME_TOO_LARGE" and e.code_name == "RESOURCE_EXHAUSTED"
    assert e.details["limit"] == str(4 << 20) and int(e.details["length"]) > (5 << 20)


def test_zero_length_frame_is_call_id_missing(tallyd):
    with TallyClient(tallyd.socket, timeout_ms=5000) as c:
        c._sock.sendall(b"\x00\x00\x00\x00")
        with pytest.raises(ConnectionClosed) as caught:
            c.health()
    assert caught.value.reason == "CALL_ID_MISSING"


def test_client_refuses_to_send_an_oversized_frame(client, user):
    with pytest.raises(InvalidArgument) as caught:
        client.call("/tally.v1.Ledger/GetBalance", b"\x00" * (4 << 20))
    assert caught.value.reason == "FRAME_TOO_LARGE" and not caught.value.outcome_unknown
    assert client.get_balance(user).user_id == user  # nothing was sent; still usable


def test_shutdown_closes_without_final_frame(make_tallyd, user):
    server = make_tallyd()
    c = TallyClient(server.socket, timeout_ms=5000)
    c.credit(user, 1, "grant")
    assert server.stop() == 0
    with pytest.raises(ConnectionClosed) as caught:
        c.get_balance(user)
    assert caught.value.reason == "CONNECTION_CLOSED" and caught.value.final_frame is None
    c.close()


def test_pipeline_cut_off_reports_partial_results(fake_server):
    def serve(conn):
        requests = read_requests(conn, 3)
        conn.sendall(frame(pb.Response(call_id=requests[1].call_id, payload=pb.HealthResponse().SerializeToString())))
        conn.sendall(frame(pb.Response(call_id=0, code=pb.CODE_DEADLINE_EXCEEDED, reason="FRAME_INCOMPLETE", details={"received": "3"})))

    server = fake_server(serve)
    with TallyClient(server.socket, timeout_ms=5000) as c:
        with pytest.raises(ConnectionClosed) as caught:
            c.pipeline([("/tally.v1.Admin/Health", pb.HealthRequest())] * 3)
    e = caught.value
    assert e.reason == "FRAME_INCOMPLETE" and e.details == {"received": "3"}
    assert e.partial_results[0] is None and e.partial_results[2] is None
    assert isinstance(e.partial_results[1], pb.HealthResponse)


def test_unreadable_answer_is_a_protocol_error(fake_server):
    def serve(conn):
        read_requests(conn, 1)
        conn.sendall(b"\x00\x00\x00\x02\xff\xff")

    server = fake_server(serve)
    with TallyClient(server.socket, timeout_ms=5000) as c:
        with pytest.raises(ProtocolError):
            c.health()
        assert c.closed


# -- connecting, closing, threads ----------------------------------------------------------------


def test_connect_to_missing_socket():
    path = f"/tmp/tally-py-missing-{uuid.uuid4().hex}.sock"
    with pytest.raises(ConnectError) as caught:
        TallyClient(path)
    e = caught.value
    assert e.reason == "CONNECT_FAILED" and e.code_name == "UNAVAILABLE"
    assert e.details == {"path": path, "errno": "ENOENT"}
    assert isinstance(e.__cause__, FileNotFoundError)


def test_connect_to_socket_nobody_listens_on(tmp_path):
    path = f"/tmp/tally-py-dead-{uuid.uuid4().hex[:8]}.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens
    try:
        with pytest.raises(ConnectError) as caught:
            TallyClient(path, connect_timeout_ms=200)
        assert caught.value.details["errno"] == "ECONNREFUSED"
    finally:
        os.unlink(path)


def test_context_manager_closes(tallyd):
    with TallyClient(tallyd.socket) as c:
        assert c.health().accepting_mutations
    assert c.closed
    with pytest.raises(ConnectionClosed) as caught:
        c.health()
    assert caught.value.reason == "CLIENT_CLOSED"


def test_concurrent_use_from_two_threads_is_refused(fake_server):
    go = threading.Event()
    inside = threading.Event()

    def serve(conn):
        [r] = read_requests(conn, 1)
        inside.set()  # the first thread is now waiting for this answer
        go.wait(10)
        conn.sendall(frame(pb.Response(call_id=r.call_id, payload=b"")))

    server = fake_server(serve)
    with TallyClient(server.socket, timeout_ms=5000) as c:
        t = threading.Thread(target=c.health)
        t.start()
        assert inside.wait(10)
        with pytest.raises(RuntimeError, match="not thread-safe"):
            c.health()
        go.set()
        t.join(10)


def test_call_ids_are_unique_and_never_zero(fake_server):
    ids = []

    def serve(conn):
        for _ in range(4):
            [r] = read_requests(conn, 1)
            ids.append(r.call_id)
            conn.sendall(frame(pb.Response(call_id=r.call_id, payload=b"")))

    server = fake_server(serve)
    with TallyClient(server.socket) as c:
        c._next_id = 2**64 - 2  # force the wrap
        for _ in range(4):
            c.health()
    assert ids == [2**64 - 2, 2**64 - 1, 1, 2]


def test_methods_table_covers_the_protos():
    assert len(METHODS) == 41
    assert METHODS["/tally.v1.Usage/History"].request_type is pb.UsageHistoryRequest
    assert METHODS["/tally.v1.Admin/Backup"].response_type is pb.BackupResponse


# -- min_position (several hosts) -------------------------------------------------------------

def test_min_position_on_a_tallyd_with_its_own_journal(client, user):
    """A tallyd with its own journal holds every position it will ever reach: a min_position past
    its last record is refused at once, one it holds is no wait; its answers carry no position
    (only nodes of several hosts give one, Tests/SeveralHosts covers them)."""
    client.credit(user, 5, "grant")
    assert client.position == 0
    client.min_position = 1 << 60
    with pytest.raises(OutOfRange) as refused:
        client.get_balance(user)
    assert refused.value.reason == "POSITION_AHEAD"
    assert int(refused.value.details["min_position"]) == 1 << 60
    last = int(refused.value.details["durable_sequence"])
    assert last >= 1
    client.min_position = last
    assert client.get_balance(user).available == 5
    with pytest.raises(OutOfRange):
        client.min_position = last + 1000
        client.list_transactions(user)  # served off the Writer: the same check
    client.min_position = 0

