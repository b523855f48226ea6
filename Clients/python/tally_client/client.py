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
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Type, Union

from google.protobuf.message import DecodeError, Message

from . import calls, pb
from .calls import PreparedCall, blocking
from .stream import Stream
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


def _methods(streams: bool) -> Dict[str, Method]:
    # Read from the generated descriptors, so a new rpc in a .proto is callable through
    # TallyClient.call() (or .stream()) as soon as the modules are regenerated.
    table: Dict[str, Method] = {}
    for module in pb.MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                if bool(m.server_streaming) != streams:
                    continue
                table[f"/{service.full_name}/{m.name}"] = Method(
                    f"/{service.full_name}/{m.name}",
                    getattr(pb, m.input_type.name),
                    getattr(pb, m.output_type.name),
                )
    return table


#: Every unary method tallyd's protos define, by wire path; call() takes these.
METHODS: Dict[str, Method] = _methods(streams=False)
#: Every streaming method (docs/protocol.md §5.1), by wire path; stream() takes these.
#: response_type is the type of each message.
STREAM_METHODS: Dict[str, Method] = _methods(streams=True)


class Call(NamedTuple):
    """One call of a :meth:`TallyClient.pipeline`.

    ``request`` is a message or its serialized bytes; ``response_type`` defaults to the one
    METHODS names for ``method`` (bytes are returned for a method it does not know).
    """

    method: str
    request: Union[Message, bytes] = b""
    response_type: Optional[Type[Message]] = None
    #: Turns the decoded answer into the result (a PreparedCall's ``answer``); None keeps it.
    answer: Optional[Callable[[Any], Any]] = None


def as_call(item: Union[Call, PreparedCall[Any], Tuple[Any, ...]]) -> Call:
    """A pipeline item as a Call: a Call, a PreparedCall (tally_client.calls) or a tuple
    ``(method, request[, response_type])``."""
    if isinstance(item, Call):
        return item
    if isinstance(item, PreparedCall):
        return Call(item.method, item.request, None, item.answer)
    return Call(*item)


def connect_error(socket_path: str, e: OSError) -> ConnectError:
    name = errno.errorcode.get(e.errno or 0, str(e.errno))
    return ConnectError(
        Code.UNAVAILABLE,
        "CONNECT_FAILED",
        f"cannot connect to {socket_path}: {e.strerror or e}",
        {"path": socket_path, "errno": name},
    )


def connect_attempt(socket_path: str) -> Optional[socket.socket]:
    """One non-blocking connect to tallyd: the socket; None while its accept backlog is full
    (EAGAIN, docs/protocol.md §1: retry after a pause); or ConnectError."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.connect(socket_path)
        return sock
    except (BlockingIOError, InterruptedError):
        sock.close()
        return None
    except OSError as e:
        sock.close()
        raise connect_error(socket_path, e) from e


class ConnectBackoff:
    """Pauses between connect attempts, doubling from 2 ms to 100 ms, for ``timeout_s`` in all."""

    def __init__(self, socket_path: str, timeout_s: float) -> None:
        self.socket_path = socket_path
        self.give_up = time.monotonic() + timeout_s
        self.pause = 0.002

    def next_pause(self) -> float:
        """How long to wait before the next attempt, or ConnectError EAGAIN when time is up."""
        pause = self.pause
        if time.monotonic() + pause >= self.give_up:
            raise connect_error(self.socket_path, BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN)))
        self.pause = min(pause * 2, 0.1)
        return pause


def check_timeout(timeout_ms: Optional[int]) -> int:
    """``timeout_ms`` as the envelope carries it (None: 0, no deadline), or ValueError."""
    if timeout_ms is None:
        return 0
    timeout_ms = int(timeout_ms)
    if not 0 <= timeout_ms <= _UINT32_MAX:
        raise ValueError(f"timeout_ms must be 0 … {_UINT32_MAX}, got {timeout_ms}")
    return timeout_ms


def frame(body: bytes, max_frame_bytes: int) -> bytes:
    """``body`` after its 4-byte big-endian length, or InvalidArgument FRAME_TOO_LARGE."""
    if len(body) > max_frame_bytes:
        raise InvalidArgument(
            Code.INVALID_ARGUMENT,
            "FRAME_TOO_LARGE",
            f"request of {len(body)} bytes is over the {max_frame_bytes}-byte frame limit; not sent",
            {"length": str(len(body)), "limit": str(max_frame_bytes)},
        )
    return len(body).to_bytes(4, "big") + body


def request_frame(c: Call, call_id: int, timeout_ms: int, max_frame_bytes: int, min_position: int = 0) -> bytes:
    """The framed tally.v1.Request envelope of ``c``."""
    payload = c.request if isinstance(c.request, (bytes, bytearray, memoryview)) else c.request.SerializeToString()
    envelope = pb.Request(
        call_id=call_id, protocol_version=PROTOCOL_VERSION, method=c.method, timeout_ms=timeout_ms, payload=bytes(payload),
        min_position=min_position,
    )
    return frame(envelope.SerializeToString(), max_frame_bytes)


def call_result(response: Any, c: Call) -> Any:
    """What the call ``c`` answered in the tally.v1.Response ``response``: its TallyError, or
    its payload decoded as the response type (METHODS' for the method unless ``c`` names one;
    bytes for a method neither knows), passed through ``c.answer``."""
    if response.code != 0:
        return error_from_response(response, c.method)
    response_type = c.response_type
    if response_type is None and c.method in METHODS:
        response_type = METHODS[c.method].response_type
    if response_type is None:
        return response.payload
    try:
        message = response_type.FromString(response.payload)
    except DecodeError as e:
        return ProtocolError(
            Code.INTERNAL, "BAD_ANSWER_PAYLOAD",
            f"answer to {c.method} does not decode as {response_type.DESCRIPTOR.full_name}: {e}",
            call_id=response.call_id, method=c.method,
        )
    return message if c.answer is None else c.answer(message)


class ClientState:
    """What both clients keep besides their socket: settings, the next call id, and why the
    connection ended."""

    def __init__(self, socket_path: Union[str, os.PathLike], timeout_ms: Optional[int], timeout_grace_ms: int, max_frame_bytes: int) -> None:
        self.socket_path = os.fspath(socket_path)
        self.timeout_ms = check_timeout(timeout_ms)
        self.timeout_grace_ms = int(timeout_grace_ms)
        self.max_frame_bytes = int(max_frame_bytes)
        #: Answers that arrived for calls nobody waits for any more (CallTimeout, a cancelled wait).
        self.stale_answers = 0
        #: Several hosts (docs/operations.md): the highest command-log position this connection's
        #: answers carried; pass it as another host's ``min_position`` to read what was written here.
        self.position = 0
        #: Sent with every call: tallyd answers once its node has applied the command log through
        #: this position (0: at once). Set it to another connection's ``position``.
        self.min_position = 0
        self._next_id = 1
        self._closed: Optional[ConnectionClosed] = None

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def _effective_timeout(self, timeout_ms: Optional[int]) -> int:
        return self.timeout_ms if timeout_ms is None else check_timeout(timeout_ms)

    def _take_id(self) -> int:
        call_id = self._next_id
        self._next_id = 1 if call_id >= _UINT64_MAX else call_id + 1
        return call_id

    def _closed_copy(self) -> ConnectionClosed:
        c = self._closed
        assert c is not None
        return ConnectionClosed(c.code, c.reason, c.message, c.details, final_frame=c.final_frame)


class TallyClient(ClientState):
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
        super().__init__(socket_path, timeout_ms, timeout_grace_ms, max_frame_bytes)
        self._rbuf = bytearray()
        self._busy = threading.Lock()
        #: Open streams by call id: their frames go to them, whatever call is being waited for.
        self._streams: Dict[int, Stream[Any]] = {}
        if connect_timeout_ms is None:
            connect_timeout_ms = self.timeout_ms or DEFAULT_CONNECT_TIMEOUT_MS
        self._sock = self._connect(connect_timeout_ms / 1000.0)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._sock, selectors.EVENT_READ)

    # -- connection ---------------------------------------------------------------------

    def _connect(self, timeout_s: float) -> socket.socket:
        backoff = ConnectBackoff(self.socket_path, timeout_s)
        while True:
            sock = connect_attempt(self.socket_path)
            if sock is not None:
                return sock
            time.sleep(backoff.next_pause())

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
        calls: Iterable[Union[Call, PreparedCall[Any], Tuple[Any, ...]]],
        *,
        timeout_ms: Optional[int] = None,
        return_exceptions: bool = True,
    ) -> List[Any]:
        """Sends every call in one write (tallyd reads them as one batch), then reads the
        answers, and returns them in the order of ``calls``, matched by call id whatever order
        they arrive in. Each item is a :class:`Call`, a tuple ``(method, request[,
        response_type])``, or a PreparedCall from :mod:`tally_client.calls`
        (``calls.get_balance("alice")``), which is answered as its typed method would be (its
        own ``timeout_ms`` is not used: the pipeline's is).

        With ``return_exceptions`` (the default) a refused call's TallyError takes its place in
        the list; otherwise the first one is raised once every answer has been read. A lost
        connection or a CallTimeout is raised either way, with ``partial_results``.
        Calls run in order, but do not pipeline a call that depends on another's outcome.
        """
        items = [as_call(c) for c in calls]
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
            frames.append(frame(envelope.SerializeToString(), self.max_frame_bytes))
        return self._exchange(frames, ids, self._local_timeout(timeout_ms, requests))

    # -- one method per rpc, typed: tally_client.calls builds each request and reads its answer ------

    # tally.v1.Ledger
    get_balance = blocking(calls.get_balance)
    credit = blocking(calls.credit)
    spend = blocking(calls.spend)
    get_transaction = blocking(calls.get_transaction)
    list_transactions = blocking(calls.list_transactions)

    # tally.v1.Usage
    check_usage = blocking(calls.check_usage)
    consume = blocking(calls.consume)
    reserve = blocking(calls.reserve)
    settle = blocking(calls.settle)
    release = blocking(calls.release)
    get_limits = blocking(calls.get_limits)
    set_limits = blocking(calls.set_limits)
    history = blocking(calls.history)
    top_users = blocking(calls.top_users)
    month_by_tier = blocking(calls.month_by_tier)

    # tally.v1.Purchases
    save_package = blocking(calls.save_package)
    deactivate_package = blocking(calls.deactivate_package)
    list_packages = blocking(calls.list_packages)
    start_purchase = blocking(calls.start_purchase)
    complete_purchase = blocking(calls.complete_purchase)
    fail_purchase = blocking(calls.fail_purchase)
    get_purchase = blocking(calls.get_purchase)
    list_purchases = blocking(calls.list_purchases)

    # tally.v1.Predictions
    commit = blocking(calls.commit)
    cancel_commitment = blocking(calls.cancel_commitment)
    resolve = blocking(calls.resolve)
    void = blocking(calls.void)
    close_prediction = blocking(calls.close_prediction)
    list_commitments = blocking(calls.list_commitments)

    # tally.v1.Memberships
    set_membership = blocking(calls.set_membership)
    get_membership = blocking(calls.get_membership)

    # tally.v1.Actions
    set_price = blocking(calls.set_price)
    list_prices = blocking(calls.list_prices)
    spend_action = blocking(calls.spend_action)

    # tally.v1.Audit
    list_audit = blocking(calls.list_audit)

    # tally.v1.Admin
    snapshot = blocking(calls.snapshot)
    backup = blocking(calls.backup)
    health = blocking(calls.health)
    stats = blocking(calls.stats)
    reconcile = blocking(calls.reconcile)
    metrics = blocking(calls.metrics)

    # -- internals ------------------------------------------------------------------------

    def _local_timeout(self, timeout_ms: Optional[int], requests: Sequence[Any]) -> Optional[float]:
        # exchange(): the envelopes carry their own deadlines unless timeout_ms overrides the wait.
        budgets = [self._effective_timeout(timeout_ms)] if timeout_ms is not None else [r.timeout_ms for r in requests]
        if not budgets or 0 in budgets:
            return None
        return (max(budgets) + self.timeout_grace_ms) / 1000.0

    def _calls(self, calls: Sequence[Call], timeout_ms: Optional[int], raise_first: bool) -> List[Any]:
        budget = self._effective_timeout(timeout_ms)
        ids = [self._take_id() for _ in calls]
        frames = [request_frame(c, call_id, budget, self.max_frame_bytes, self.min_position) for c, call_id in zip(calls, ids)]
        local = None if budget == 0 else (budget + self.timeout_grace_ms) / 1000.0
        try:
            responses = self._exchange(frames, ids, local)
        except (ConnectionClosed, CallTimeout) as e:
            if e.partial_results is not None:
                e.partial_results = [None if r is None else call_result(r, c) for r, c in zip(e.partial_results, calls)]
            raise
        results = [call_result(r, c) for r, c in zip(responses, calls)]
        if raise_first:
            for r in results:
                if isinstance(r, TallyError):
                    raise r
        return results

    def _exchange(self, frames: List[bytes], ids: List[int], local_timeout: Optional[float]) -> List[Any]:
        """Writes ``frames`` and reads until every id in ``ids`` is answered. Reads while it
        writes, so a large batch cannot deadlock against tallyd's flow control (§10)."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("TallyClient is not thread-safe: it is already in a call (use one client per thread)")
        try:
            if self._closed is not None:
                raise self._closed_copy()
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
                stream = self._streams.get(response.call_id)
                if stream is not None:
                    self._route(stream, response)
                    continue
                i = waiting.pop(response.call_id, None)
                if i is None:
                    self.stale_answers += 1  # a call we gave up on (CallTimeout)
                else:
                    answers[i] = response
                    self.position = max(self.position, response.position)
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

    # -- streams (docs/protocol.md §5.1) -------------------------------------------------

    def watch_balance(
        self, user_ids: Sequence[str] = (), *, all_users: bool = False, after: Optional[int] = None, timeout_ms: int = 0,
    ) -> "Stream[Any]":
        """Ledger/WatchBalance: a :class:`Stream` of ``pb.BalanceChange``, every durable balance
        change of ``user_ids`` (or, for admins, ``all_users``) in order; with ``after``, first
        every change after that position. The message with ``live`` set says the watch is
        registered. ``timeout_ms`` bounds the whole stream (0: none)."""
        request = pb.WatchBalanceRequest(user_ids=list(user_ids), all_users=all_users, resume=after is not None, after_position=after or 0)
        return self._open_stream("/tally.v1.Ledger/WatchBalance", request, pb.BalanceChange, timeout_ms)

    def watch_usage(self, user_ids: Sequence[str] = (), *, all_users: bool = False, timeout_ms: int = 0) -> "Stream[Any]":
        """Usage/WatchUsage: a :class:`Stream` of ``pb.UsageChange``: the users' standing now, a
        ``live`` message, then their standing after every durable usage change and at each day's start."""
        request = pb.WatchUsageRequest(user_ids=list(user_ids), all_users=all_users)
        return self._open_stream("/tally.v1.Usage/WatchUsage", request, pb.UsageChange, timeout_ms)

    def changes(self, after: int = 0, timeout_ms: int = 0) -> "Stream[Any]":
        """Admin/Changes (admins): a :class:`Stream` of ``pb.JournalChange``: every durable
        journal record after sequence ``after`` (0: from the start), in order, each with the
        answer its call got (``result``), then one with ``live`` set, then each new record."""
        return self._open_stream("/tally.v1.Admin/Changes", pb.ChangesRequest(after_sequence=after), pb.JournalChange, timeout_ms)

    def stream(self, method: str, request: Message, timeout_ms: int = 0) -> "Stream[Any]":
        """Any streaming method of STREAM_METHODS by wire path, with its request message: a
        :class:`Stream` of its messages (watch_balance and watch_usage are the typed ones)."""
        known = STREAM_METHODS.get(method)
        if known is None:
            raise ValueError(f"{method} is not a streaming method tallyd's protos define (STREAM_METHODS)")
        return self._open_stream(method, request, known.response_type, timeout_ms)

    def _open_stream(self, method: str, request: Message, message_type: Any, timeout_ms: int) -> "Stream[Any]":
        if self._closed is not None:
            raise self._closed_copy()
        call_id = self._take_id()
        stream: Stream[Any] = Stream(self, call_id, method, message_type)
        self._streams[call_id] = stream
        self._send(request_frame(Call(method, request), call_id, check_timeout(timeout_ms), self.max_frame_bytes))
        return stream

    def _cancel_stream(self, call_id: int, keep: bool = False) -> None:
        if not keep:
            self._streams.pop(call_id, None)  # what still comes for it is stale
        if self._closed is None:
            envelope = pb.Request(call_id=call_id, protocol_version=PROTOCOL_VERSION, cancel=True)
            self._send(frame(envelope.SerializeToString(), self.max_frame_bytes))

    def _route(self, stream: "Stream[Any]", response: Any) -> None:
        stream._take(response)
        if not response.more:
            self._streams.pop(response.call_id, None)

    def _send(self, data: bytes) -> None:
        """Writes ``data`` whole, waiting for the socket when it is full."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("TallyClient is not thread-safe: it is already in a call (use one client per thread)")
        try:
            view = memoryview(data)
            while view:
                try:
                    n = self._sock.send(view)
                except (BlockingIOError, InterruptedError):
                    self._sel.modify(self._sock, selectors.EVENT_WRITE)
                    self._sel.select(None)
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    self._lose(None)
                    raise self._closed_copy()
                view = view[n:]
        finally:
            self._busy.release()

    def _pump_streams(self) -> None:
        """Waits for the next frames and routes them: a stream's to it, an answer nobody waits
        for counted stale. Raises ConnectionClosed when the connection ends."""
        if self._closed is not None:
            self._streams.clear()
            raise self._closed_copy()
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("TallyClient is not thread-safe: it is already in a call (use one client per thread)")
        try:
            self._sel.modify(self._sock, selectors.EVENT_READ)
            self._sel.select(None)
            try:
                chunk = self._sock.recv(_READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self._lose(None)
                raise self._closed_copy()
            self._rbuf += chunk
            for response in self._parse_frames():
                if response.call_id == 0:
                    self._lose(response)
                    raise self._closed_copy()
                target = self._streams.get(response.call_id)
                if target is not None:
                    self._route(target, response)
                else:
                    self.stale_answers += 1
        finally:
            self._busy.release()

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
