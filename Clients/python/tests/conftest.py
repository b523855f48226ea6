"""Fixtures: a real tallyd per session (and fresh ones on demand), unique user ids, a client,
and a fake server for what a real tallyd cannot be made to do on cue (stay silent, answer
byte by byte, answer out of order)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, List, Optional

import pytest

from tally_client import TallyClient, pb

REPO = Path(__file__).resolve().parents[3]


def tallyd_binary() -> str:
    """$TALLYD, else the newest of the repository's release and debug builds."""
    explicit = os.environ.get("TALLYD")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise RuntimeError(f"TALLYD={explicit} is not an executable")
        return explicit
    built = [REPO / ".build" / kind / "tallyd" for kind in ("release", "debug")]
    built = [p for p in built if os.access(p, os.X_OK)]
    if not built:
        raise RuntimeError("no tallyd: set TALLYD, or build it (swift build --product tallyd)")
    return str(max(built, key=lambda p: p.stat().st_mtime))


class Tallyd:
    """One tallyd process in its own short temporary directory (socket paths are ≤ 107 bytes)."""

    def __init__(self, *extra_args: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="tally-py-", dir="/tmp")
        self.socket = os.path.join(self.dir, "s.sock")
        self.data_dir = os.path.join(self.dir, "data")
        self.log_path = os.path.join(self.dir, "tallyd.log")
        self.args = [
            tallyd_binary(), "--socket", self.socket, "--data-dir", self.data_dir, "--fsync", "never",
            *extra_args,
        ]
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout_s: float = 30.0) -> "Tallyd":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                log = self.log()
                self.cleanup()
                raise RuntimeError(f"tallyd {self.args[0]} exited {self.proc.returncode} at start:\n{log}")
            if os.path.exists(self.socket):
                try:
                    with TallyClient(self.socket, timeout_ms=2000) as c:
                        c.health()
                    return self
                except Exception:
                    pass
            time.sleep(0.05)
        log = self.log()
        self.cleanup()
        raise RuntimeError(f"tallyd did not start in {timeout_s} s:\n{log}")

    def stop(self) -> Optional[int]:
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
        elif self.proc is not None:
            code = self.proc.returncode
        if getattr(self, "_log", None):
            self._log.close()
        return code

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def tallyd():
    server = Tallyd().start()
    yield server
    code = server.stop()
    log = server.log()
    shutil.rmtree(server.dir, ignore_errors=True)
    assert code == 0, f"tallyd exited {code}:\n{log}"


@pytest.fixture
def make_tallyd():
    """Starts a dedicated tallyd (extra command-line arguments allowed) for tests that change
    global settings or kill it."""
    started: List[Tallyd] = []

    def make(*extra_args: str) -> Tallyd:
        server = Tallyd(*extra_args).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.cleanup()


@pytest.fixture
def client(tallyd):
    with TallyClient(tallyd.socket, timeout_ms=10_000) as c:
        yield c


@pytest.fixture
def user(request) -> str:
    """A user id no other test uses."""
    return f"{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"


def raw_exchange(socket_path: str, data: bytes, timeout_s: float = 10.0) -> List[pb.Response]:
    """Sends raw bytes on a new connection, half-closes, and returns every answer frame."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout_s)
        s.connect(socket_path)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    answers = []
    while len(buf) >= 4:
        n = int.from_bytes(buf[:4], "big")
        answers.append(pb.Response.FromString(buf[4 : 4 + n]))
        buf = buf[4 + n :]
    assert buf == b"", "trailing partial frame"
    return answers


def frame(message) -> bytes:
    body = message if isinstance(message, (bytes, bytearray)) else message.SerializeToString()
    return len(body).to_bytes(4, "big") + bytes(body)


class FakeServer:
    """A one-connection server on a Unix socket; ``handler(conn)`` plays tallyd's part."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.dir = tempfile.mkdtemp(prefix="tally-fake-", dir="/tmp")
        self.socket = os.path.join(self.dir, "fake.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.socket)
        self.listener.listen(4)
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(handler,), daemon=True)
        self.thread.start()

    def _run(self, handler) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                handler(conn)
        except BaseException as e:  # surfaced by close()
            self.error = e
        finally:
            self.done.set()

    def close(self) -> None:
        self.done.wait(10)
        self.listener.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.error is not None:
            raise self.error


def read_requests(conn: socket.socket, count: int) -> List[pb.Request]:
    """Reads ``count`` request frames (fake-server side)."""
    buf = b""
    out: List[pb.Request] = []
    while len(out) < count:
        chunk = conn.recv(65536)
        if not chunk:
            raise EOFError(f"client closed after {len(out)} of {count} requests")
        buf += chunk
        while len(buf) >= 4 and len(buf) - 4 >= int.from_bytes(buf[:4], "big"):
            n = int.from_bytes(buf[:4], "big")
            out.append(pb.Request.FromString(buf[4 : 4 + n]))
            buf = buf[4 + n :]
    return out


@pytest.fixture
def fake_server():
    servers: List[FakeServer] = []

    def make(handler: Callable[[socket.socket], None]) -> FakeServer:
        server = FakeServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def answers_late_then_health(release: threading.Event) -> Callable[[socket.socket], None]:
    """A fake server's part: leaves the first call unanswered until ``release`` is set, answers
    it then (too late), and answers the next call with a HealthResponse of 7 connections."""

    def serve(conn: socket.socket) -> None:
        [r] = read_requests(conn, 1)
        release.wait(10)  # never answers in time
        conn.sendall(frame(pb.Response(call_id=r.call_id, payload=b"")))  # late answer
        [r2] = read_requests(conn, 1)
        conn.sendall(frame(pb.Response(call_id=r2.call_id, payload=pb.HealthResponse(connections=7).SerializeToString())))

    return serve
