"""An asyncio client for tallyd: the same methods as :class:`tally_client.TallyClient`, as
coroutines, on one connection that many tasks share.

    from tally_client import AsyncTallyClient

    async with await AsyncTallyClient.connect("/run/tally/tally.sock", timeout_ms=2000) as tally:
        await tally.credit("alice", 500, "grant", idempotency_key="signup-alice")
        print((await tally.get_balance("alice")).available)

Calls from different tasks go out as they are made and are matched to their answers by call id
(docs/protocol.md §2), so one connection carries as many calls in flight as tallyd's flow
control lets it (§10). Use it from one event loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from google.protobuf.message import DecodeError, Message

from . import calls, pb
from .calls import PreparedCall, awaitable
from .client import (
    DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_TIMEOUT_GRACE_MS,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    STREAM_METHODS,
    Call,
    ClientState,
    ConnectBackoff,
    as_call,
    call_result,
    check_timeout,
    connect_attempt,
    frame,
    request_frame,
)
from .aio_stream import AsyncStream
from .errors import CallTimeout, Code, ConnectionClosed, TallyError

class AsyncTallyClient(ClientState):
    """A connection to tallyd for asyncio.

    ``await AsyncTallyClient.connect(socket_path, timeout_ms=None)`` connects (retrying for up
    to ``connect_timeout_ms`` while tallyd's accept backlog is full). ``timeout_ms`` is the
    default deadline of every call (None or 0: none); each method takes its own ``timeout_ms``
    too. As with the blocking client the deadline goes into the envelope, and the client stops
    waiting ``timeout_grace_ms`` later with CallTimeout (outcome unknown: retry a mutation with
    the same idempotency key). Cancelling a task that waits for a call stops the wait only; the
    call, once sent, still runs.

    Use it as ``async with``, or ``await close()``.
    """

    def __init__(
        self,
        socket_path: Union[str, os.PathLike],
        timeout_ms: Optional[int] = None,
        *,
        timeout_grace_ms: int = DEFAULT_TIMEOUT_GRACE_MS,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        """Not connected yet: use :meth:`connect`, which makes and connects one."""
        super().__init__(socket_path, timeout_ms, timeout_grace_ms, max_frame_bytes)
        self._waiting: Dict[int, "asyncio.Future[Any]"] = {}
        self._streams: Dict[int, AsyncStream[Any]] = {}
        self._writer: Optional[asyncio.StreamWriter] = None
        self._reading: Optional["asyncio.Task[None]"] = None
        self._draining = asyncio.Lock()

    @classmethod
    async def connect(
        cls,
        socket_path: Union[str, os.PathLike],
        timeout_ms: Optional[int] = None,
        *,
        connect_timeout_ms: Optional[int] = None,
        timeout_grace_ms: int = DEFAULT_TIMEOUT_GRACE_MS,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> "AsyncTallyClient":
        """A client connected to tallyd at ``socket_path``, or ConnectError."""
        client = cls(socket_path, timeout_ms, timeout_grace_ms=timeout_grace_ms, max_frame_bytes=max_frame_bytes)
        if connect_timeout_ms is None:
            connect_timeout_ms = client.timeout_ms or DEFAULT_CONNECT_TIMEOUT_MS
        sock = await client._connect_socket(connect_timeout_ms / 1000.0)
        reader, client._writer = await asyncio.open_unix_connection(sock=sock)
        client._reading = asyncio.get_running_loop().create_task(client._read_answers(reader))
        return client

    async def _connect_socket(self, timeout_s: float) -> socket.socket:
        backoff = ConnectBackoff(self.socket_path, timeout_s)
        while True:
            sock = connect_attempt(self.socket_path)
            if sock is not None:
                return sock
            await asyncio.sleep(backoff.next_pause())

    async def close(self) -> None:
        """Closes the connection; calls still waiting get ConnectionClosed CLIENT_CLOSED. Calls
        already sent still run in tallyd."""
        self._lose(ConnectionClosed(Code.UNAVAILABLE, "CLIENT_CLOSED", "the client closed this connection"))
        reading = self._reading
        if reading is not None and reading is not asyncio.current_task():
            reading.cancel()
            try:
                await reading
            except asyncio.CancelledError:
                pass
        writer = self._writer
        if writer is not None:
            try:
                await writer.wait_closed()
            except OSError:
                pass

    async def __aenter__(self) -> "AsyncTallyClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- generic calls --------------------------------------------------------------------

    async def call(
        self,
        method: str,
        request: Union[Message, bytes] = b"",
        response_type: Optional[Any] = None,
        timeout_ms: Optional[int] = None,
    ) -> Any:
        """Calls ``method`` (a full path such as ``"/tally.v1.Ledger/Credit"``) and returns its
        decoded answer, or raises the TallyError for a refusal (as TallyClient.call)."""
        [result] = await self._calls([Call(method, request, response_type)], timeout_ms)
        if isinstance(result, TallyError):
            raise result
        return result

    async def pipeline(
        self,
        calls: Iterable[Union[Call, PreparedCall[Any], Tuple[Any, ...]]],
        *,
        timeout_ms: Optional[int] = None,
        return_exceptions: bool = True,
    ) -> List[Any]:
        """Sends every call in one write (tallyd reads them as one batch) and returns the
        answers in the order of ``calls``, as TallyClient.pipeline does: items are Calls,
        tuples or PreparedCalls; a refusal's TallyError takes its place unless
        ``return_exceptions`` is False (then the first is raised once all are answered); a lost
        connection or CallTimeout is raised with ``partial_results``."""
        results = await self._calls([as_call(c) for c in calls], timeout_ms)
        if not return_exceptions:
            for r in results:
                if isinstance(r, TallyError):
                    raise r
        return results

    # -- one method per rpc, typed: tally_client.calls builds each request and reads its answer ------

    # tally.v1.Ledger
    get_balance = awaitable(calls.get_balance)
    credit = awaitable(calls.credit)
    spend = awaitable(calls.spend)
    get_transaction = awaitable(calls.get_transaction)
    list_transactions = awaitable(calls.list_transactions)

    # tally.v1.Usage
    check_usage = awaitable(calls.check_usage)
    consume = awaitable(calls.consume)
    reserve = awaitable(calls.reserve)
    settle = awaitable(calls.settle)
    release = awaitable(calls.release)
    get_limits = awaitable(calls.get_limits)
    set_limits = awaitable(calls.set_limits)
    history = awaitable(calls.history)
    top_users = awaitable(calls.top_users)
    month_by_tier = awaitable(calls.month_by_tier)

    # tally.v1.Purchases
    save_package = awaitable(calls.save_package)
    deactivate_package = awaitable(calls.deactivate_package)
    list_packages = awaitable(calls.list_packages)
    start_purchase = awaitable(calls.start_purchase)
    complete_purchase = awaitable(calls.complete_purchase)
    fail_purchase = awaitable(calls.fail_purchase)
    get_purchase = awaitable(calls.get_purchase)
    list_purchases = awaitable(calls.list_purchases)

    # tally.v1.Predictions
    commit = awaitable(calls.commit)
    cancel_commitment = awaitable(calls.cancel_commitment)
    resolve = awaitable(calls.resolve)
    void = awaitable(calls.void)
    close_prediction = awaitable(calls.close_prediction)
    list_commitments = awaitable(calls.list_commitments)

    # tally.v1.Memberships
    set_membership = awaitable(calls.set_membership)
    get_membership = awaitable(calls.get_membership)

    # tally.v1.Actions
    set_price = awaitable(calls.set_price)
    list_prices = awaitable(calls.list_prices)
    spend_action = awaitable(calls.spend_action)

    # tally.v1.Audit
    list_audit = awaitable(calls.list_audit)

    # tally.v1.Admin
    snapshot = awaitable(calls.snapshot)
    backup = awaitable(calls.backup)
    health = awaitable(calls.health)
    stats = awaitable(calls.stats)
    reconcile = awaitable(calls.reconcile)
    metrics = awaitable(calls.metrics)

    # -- streams (docs/protocol.md §5.1) -------------------------------------------------

    def watch_balance(
        self, user_ids: Sequence[str] = (), *, all_users: bool = False, after: Optional[int] = None, timeout_ms: int = 0,
    ) -> AsyncStream[Any]:
        """Ledger/WatchBalance: an :class:`AsyncStream` of ``pb.BalanceChange`` (as
        TallyClient.watch_balance); ``async for change in stream``."""
        request = pb.WatchBalanceRequest(user_ids=list(user_ids), all_users=all_users, resume=after is not None, after_position=after or 0)
        return self._open_stream("/tally.v1.Ledger/WatchBalance", request, pb.BalanceChange, timeout_ms)

    def watch_usage(self, user_ids: Sequence[str] = (), *, all_users: bool = False, timeout_ms: int = 0) -> AsyncStream[Any]:
        """Usage/WatchUsage: an :class:`AsyncStream` of ``pb.UsageChange`` (as TallyClient.watch_usage)."""
        request = pb.WatchUsageRequest(user_ids=list(user_ids), all_users=all_users)
        return self._open_stream("/tally.v1.Usage/WatchUsage", request, pb.UsageChange, timeout_ms)

    def changes(self, after: int = 0, timeout_ms: int = 0) -> AsyncStream[Any]:
        """Admin/Changes (admins): an :class:`AsyncStream` of ``pb.JournalChange`` (as TallyClient.changes)."""
        return self._open_stream("/tally.v1.Admin/Changes", pb.ChangesRequest(after_sequence=after), pb.JournalChange, timeout_ms)

    def stream(self, method: str, request: Message, timeout_ms: int = 0) -> AsyncStream[Any]:
        """Any streaming method of STREAM_METHODS by wire path: an :class:`AsyncStream` of its messages."""
        known = STREAM_METHODS.get(method)
        if known is None:
            raise ValueError(f"{method} is not a streaming method tallyd's protos define (STREAM_METHODS)")
        return self._open_stream(method, request, known.response_type, timeout_ms)

    def _open_stream(self, method: str, request: Message, message_type: Any, timeout_ms: int) -> AsyncStream[Any]:
        if self._closed is not None:
            raise self._closed_copy()
        if self._writer is None:
            raise ConnectionClosed(Code.UNAVAILABLE, "NOT_CONNECTED", "use `await AsyncTallyClient.connect(...)`")
        call_id = self._take_id()
        stream: AsyncStream[Any] = AsyncStream(self, call_id, method, message_type)
        self._streams[call_id] = stream
        self._writer.write(request_frame(Call(method, request), call_id, check_timeout(timeout_ms), self.max_frame_bytes))
        return stream

    def _cancel_stream(self, call_id: int, keep: bool) -> None:
        if not keep:
            self._streams.pop(call_id, None)  # what still comes for it is stale
        if self._closed is None and self._writer is not None:
            envelope = pb.Request(call_id=call_id, protocol_version=PROTOCOL_VERSION, cancel=True)
            self._writer.write(frame(envelope.SerializeToString(), self.max_frame_bytes))

    # -- internals ------------------------------------------------------------------------

    async def _calls(self, items: List[Call], timeout_ms: Optional[int]) -> List[Any]:
        """Sends ``items`` in one write and waits for each answer: their results (a TallyError
        for a refusal) in order, or raises ConnectionClosed / CallTimeout with partial_results."""
        if self._closed is not None:
            raise self._closed_copy()
        if self._writer is None:
            raise ConnectionClosed(Code.UNAVAILABLE, "NOT_CONNECTED", "use `await AsyncTallyClient.connect(...)`")
        budget = self._effective_timeout(timeout_ms)
        ids = [self._take_id() for _ in items]
        data = b"".join(request_frame(c, call_id, budget, self.max_frame_bytes, self.min_position) for c, call_id in zip(items, ids))
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in ids]
        self._waiting.update(zip(ids, futures))
        try:
            self._writer.write(data)
            waits = asyncio.gather(self._drain(), *futures)
            local = None if budget == 0 else (budget + self.timeout_grace_ms) / 1000.0
            try:
                # On timeout or cancellation wait_for cancels the waits: answers that come later
                # find no waiter and are counted in stale_answers.
                await asyncio.wait_for(waits, local)
            except asyncio.TimeoutError:
                unanswered = sum(not f.done() for f in futures)
                error = CallTimeout(
                    Code.DEADLINE_EXCEEDED,
                    "CLIENT_TIMEOUT",
                    f"no answer within {local:.3f} s for {unanswered} of {len(ids)} call(s); "
                    "the outcome is unknown: retry mutations with the same idempotency key",
                    {"unanswered": str(unanswered), "waited_ms": str(int((local or 0) * 1000))},
                    call_id=ids[0] if len(ids) == 1 else 0,
                )
                error.partial_results = self._results(items, futures)
                raise error from None
            except ConnectionClosed as lost:
                lost.partial_results = self._results(items, futures)
                raise
            return self._results(items, futures)
        finally:
            for call_id in ids:
                self._waiting.pop(call_id, None)

    async def _drain(self) -> None:
        # One drain at a time: tasks writing together wait for the same flow control (§10).
        assert self._writer is not None
        async with self._draining:
            try:
                await self._writer.drain()
            except (ConnectionError, OSError):
                pass  # the reader reports the loss with tallyd's final frame, if any

    @staticmethod
    def _results(items: List[Call], futures: List["asyncio.Future[Any]"]) -> List[Any]:
        return [
            call_result(f.result(), c) if f.done() and not f.cancelled() and f.exception() is None else None
            for c, f in zip(items, futures)
        ]

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        """Reads answer frames until the connection ends, handing each to the call waiting for
        its id; then every waiting call gets ConnectionClosed (tallyd's final frame if it sent one)."""
        try:
            while True:
                head = await reader.readexactly(4)
                n = int.from_bytes(head, "big")
                if n > self.max_frame_bytes:
                    self._lose(ConnectionClosed(Code.UNAVAILABLE, "BAD_FRAME", f"tallyd sent a frame of {n} bytes"))
                    return
                body = await reader.readexactly(n)
                try:
                    response = pb.Response.FromString(body)
                except DecodeError:
                    self._lose(ConnectionClosed(Code.UNAVAILABLE, "BAD_FRAME", "tallyd sent a frame that is not a Response"))
                    return
                if response.call_id == 0:  # connection-level error: tallyd's last frame
                    self._lose(ConnectionClosed(
                        response.code, response.reason, response.message, dict(response.details), final_frame=response,
                    ))
                    return
                stream = self._streams.get(response.call_id)
                if stream is not None:
                    if not response.more:
                        del self._streams[response.call_id]
                    stream._take(response)
                    continue
                waiter = self._waiting.pop(response.call_id, None)
                if waiter is None or waiter.done():
                    self.stale_answers += 1
                else:
                    self.position = max(self.position, response.position)
                    waiter.set_result(response)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            self._lose(ConnectionClosed(Code.UNAVAILABLE, "CONNECTION_CLOSED", "tallyd closed the connection without a final frame"))

    def _lose(self, why: ConnectionClosed) -> None:
        if self._closed is None:
            self._closed = why
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(self._closed_copy())
        self._waiting.clear()
        for stream in self._streams.values():
            stream._lose(self._closed_copy())
        self._streams.clear()
        if self._writer is not None:
            self._writer.close()

