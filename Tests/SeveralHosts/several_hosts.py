#!/usr/bin/env python3
"""Several hosts, one ledger (docs/operations.md, "Several hosts"): three tallyd nodes on one
PostgreSQL command log, all on this machine, on Unix sockets.

    several_hosts.py --tallyd PATH [--seed N] [--seconds S] [--keep]

Phases, each under a random concurrent load of credits, spends, consumes, purchases and
prediction stakes from clients of all three nodes on the same few users:
  1. the three nodes; then a credit read back on every node with min_position (the position its
     answer carried), and three hosts spending that user's last tokens at once;
  2. kill -9 of one node under load, and its restart;
  3. kill -9 of PostgreSQL under load (reads go on, mutations answer UNAVAILABLE), its restart;
  4. a streaming standby (pg_basebackup, synchronous), the primary stopped, the standby
     promoted (pg_ctl promote) and the nodes restarted against it;
  5. once the nodes' snapshots let the log delete its oldest rows, a fourth node started empty
     is refused (too far behind, and how to seed it), then seeded from a backup of another node
     (tallyd restore) it catches up and takes its share of the load.
After each: every node at the same position with the same digest, the invariants hold, no
balance below zero, every acknowledged mutation in every node's history exactly once, and
each user's usage between what was acknowledged and what may have been applied.
Prints the seed; a failure names what differed. Exit 0 only if every check passed.
"""

from __future__ import annotations

import argparse
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Clients" / "python"))
from tally_client import (  # noqa: E402
    ConnectError, ConnectionClosed, FailedPrecondition, ResourceExhausted, TallyClient, TallyError, Unavailable, pb,
)

USERS = 12
KEEP_ON_FAILURE = threading.Event()  # set when a failure leaves files worth reading
PREDICTION = "several-hosts"


class Failed(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)


def wait_until(what: str, test: Callable[[], bool], timeout_s: float = 60.0, pause: float = 0.1) -> None:
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        try:
            if test():
                return
        except (TallyError, OSError):
            pass
        time.sleep(pause)
    raise Failed(f"timed out after {timeout_s:.0f} s waiting until {what}")


# -- PostgreSQL ---------------------------------------------------------------------------------

PGBIN = (sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2])) or [""])[-1]


def as_pg() -> dict:
    """initdb and postgres refuse root: run them as the package's postgres user then (exec'd
    directly, so the process this script waits on is PostgreSQL's own)."""
    return {"user": "postgres", "group": "postgres", "extra_groups": []} if os.getuid() == 0 else {}


class Postgres:
    """One PostgreSQL server, a child of this script (so a kill -9 leaves no unreaped process
    whose pid file would stop the restart)."""

    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / name
        self.dir.mkdir()
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.log = self.dir / "log"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"postgresql://tally@/postgres?host={self.dir}"

    def init(self) -> None:
        subprocess.run([f"{PGBIN}/initdb", "-D", str(self.data), "--auth=trust", "-U", "tally", "-E", "UTF8", "--locale=C"],
                       check=True, stdout=subprocess.DEVNULL, **as_pg())

    def start(self) -> None:
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [f"{PGBIN}/postgres", "-D", str(self.data), "-c", "listen_addresses=", "-c", f"unix_socket_directories={self.dir}",
             "-c", "synchronous_commit=on", "-c", "fsync=on"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **as_pg())
        log.close()

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise Failed(f"PostgreSQL in {self.dir} exited at start:\n{self.log.read_text()[-2000:]}")
            return subprocess.run([f"{PGBIN}/pg_isready", "-q", "-h", str(self.dir)]).returncode == 0
        wait_until(f"PostgreSQL in {self.dir} accepts connections", ready, timeout_s=60)

    def stop(self, mode: str = "fast") -> None:
        """fast: SIGINT; immediate: SIGQUIT (a crash as far as the data is concerned)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT if mode == "immediate" else signal.SIGINT)
        self.proc.wait(timeout=60)

    def kill9(self) -> None:
        """kill -9 of the postmaster; its backends notice and exit, then it can start again."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        wait_until("PostgreSQL's backends exited after its kill -9",
                   lambda: not any(self._runs_here(p) for p in os.listdir("/proc") if p.isdigit()), timeout_s=30)

    def _runs_here(self, pid: str) -> bool:
        """PostgreSQL's processes work in their data directory."""
        try:
            return Path(f"/proc/{pid}/cwd").resolve() == self.data.resolve()
        except OSError:
            return False

    def sql(self, query: str) -> str:
        result = subprocess.run(["psql", "-h", str(self.dir), "-U", "tally", "-d", "postgres", "-Atc", query],
                                capture_output=True, text=True, **as_pg())
        if result.returncode != 0:
            raise Failed(f"psql {query!r}: {result.stderr}")
        return result.stdout.strip()

    def standby_of(self, primary: "Postgres") -> None:
        """A streaming standby made by pg_basebackup (-R writes its primary_conninfo)."""
        subprocess.run(["pg_basebackup", "-d", f"host={primary.dir} user=tally application_name=standby",
                        "-D", str(self.data), "-R", "-X", "stream"], check=True, stdout=subprocess.DEVNULL, **as_pg())
        self.start()

    def promote(self) -> None:
        subprocess.run([f"{PGBIN}/pg_ctl", "-D", str(self.data), "-w", "promote"], check=True, stdout=subprocess.DEVNULL, **as_pg())


# -- tallyd nodes -------------------------------------------------------------------------------

class Node:
    def __init__(self, root: Path, name: str, tallyd: str) -> None:
        self.name = name
        self.dir = root / name
        self.dir.mkdir()
        self.socket = str(self.dir / "s.sock")
        self.tallyd = tallyd
        self.proc: Optional[subprocess.Popen] = None
        self.journal = ""

    def start(self, journal: str) -> None:
        self.journal = journal
        log = open(self.dir / "log", "ab")
        self.proc = subprocess.Popen(
            [self.tallyd, "--data-dir", str(self.dir / "data"), "--socket", self.socket, "--journal", journal,
             "--snapshot-interval", "3", "--log-level", "notice"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

        def serving() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise Failed(f"node {self.name} exited at start:\n{self.log_tail()}")
            with TallyClient(self.socket, timeout_ms=2000) as c:
                c.health()
            return True
        wait_until(f"node {self.name} serves", serving, timeout_s=120)

    def start_refused(self, journal: str) -> str:
        """Starts it expecting it to refuse to serve: its exit status must be non-zero; its output."""
        result = subprocess.run(
            [self.tallyd, "--data-dir", str(self.dir / "data"), "--socket", self.socket, "--journal", journal, "--log-level", "notice"],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        check(result.returncode != 0, f"node {self.name} started although it should not have:\n{result.stdout}{result.stderr}")
        return result.stdout + result.stderr

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failed(f"node {self.name} did not stop within 60 s of SIGTERM:\n{self.log_tail()}")
        check(code == 0, f"node {self.name} exited {code} on SIGTERM:\n{self.log_tail()}")

    def client(self) -> TallyClient:
        return TallyClient(self.socket, timeout_ms=20_000)

    def log_tail(self) -> str:
        try:
            return (self.dir / "log").read_text()[-3000:]
        except OSError:
            return ""


# -- the load and what it was answered ----------------------------------------------------------

class Book:
    """Every mutation the clients were answered OK, and the usage that may have been applied."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: List[dict] = []
        self.consumed: Dict[str, int] = defaultdict(int)        # answered OK
        self.consume_unknown: Dict[str, int] = defaultdict(int)  # no answer: maybe applied
        self.counts: Dict[str, int] = defaultdict(int)

    def ack(self, **entry) -> None:
        with self.lock:
            self.acked.append(entry)
            self.counts["ok " + entry["kind"]] += 1

    def note(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1


def worker(node: Node, wid: int, seed: int, stop: threading.Event, book: Book) -> None:
    rng = random.Random(seed)
    client: Optional[TallyClient] = None
    n = 0
    while not stop.is_set():
        if client is None:
            try:
                client = node.client()
            except (TallyError, OSError):
                time.sleep(0.1)
                continue
        n += 1
        ref = f"w{wid}-{seed}-{n}"
        user = f"u{rng.randrange(USERS)}"
        op = rng.choices(["credit", "spend", "consume", "purchase", "commit", "read"], weights=[3, 4, 3, 1, 1, 2])[0]
        tokens = 0
        try:
            # Metadata of several entries: each host's hash seed orders a dictionary its own way.
            metadata = {"order": ref, "host": node.name, "worker": str(wid)} if rng.random() < 0.5 else None
            if op == "credit":
                amount = rng.randint(1, 40)
                answer = client.credit(user, amount, "grant", reference=ref, metadata=metadata)
                book.ack(kind="credit", user=user, tx=answer.transaction.id, amount=amount, ref=ref)
            elif op == "spend":
                amount = rng.randint(1, 30)
                answer = client.spend(user, amount, reference=ref, metadata=metadata)
                book.ack(kind="spend", user=user, tx=answer.transaction.id, amount=amount, ref=ref)
            elif op == "consume":
                tokens = rng.randint(1, 20)
                client.consume(user, tokens)
                with book.lock:
                    book.consumed[user] += tokens
                book.note("ok consume")
            elif op == "purchase":
                client.start_purchase(user, "pack", ref)
                answer = client.complete_purchase(ref)
                book.ack(kind="purchase", user=user, tx=answer.purchase.transaction.id, amount=answer.purchase.tokens, ref=ref)
            elif op == "commit":
                stake = rng.randint(1, 10)
                answer = client.commit(user, PREDICTION, rng.choice(["yes", "no"]), stake, 2_000_000)
                book.ack(kind="commit", user=user, tx=answer.transaction.id, amount=stake, ref=ref)
            else:
                client.get_balance(user)
                book.note("ok read")
        except (FailedPrecondition, ResourceExhausted) as e:
            book.note(f"refused {e.reason}")
        except Unavailable as e:
            if isinstance(e, ConnectError):
                client = None
                time.sleep(0.1)
            book.note(f"unavailable {e.reason}")
            if op == "consume" and e.reason not in ("LOG_UNAVAILABLE", "CONNECT_FAILED"):
                with book.lock:
                    book.consume_unknown[user] += tokens
            time.sleep(0.02)
        except (ConnectionClosed, OSError):
            # The node went away with the call unanswered: it may or may not have been applied.
            book.note("no answer")
            if op == "consume":
                with book.lock:
                    book.consume_unknown[user] += tokens
            try:
                client and client.close()
            except OSError:
                pass
            client = None
            time.sleep(0.1)
        except TallyError as e:
            book.note(f"error {e.code_name} {e.reason}")
    if client is not None:
        client.close()


class Load:
    """Two clients per node, each with a seed of its own derived from the run's."""

    def __init__(self, nodes: List[Node], seed: int, book: Book) -> None:
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=worker, args=(node, i * 2 + k, seed * 100 + i * 2 + k, self.stop, book), daemon=True)
            for i, node in enumerate(nodes) for k in range(2)
        ]

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=120)
            check(not t.is_alive(), "a load thread did not end within 120 s")


# -- the checks ---------------------------------------------------------------------------------

def transactions_of(client: TallyClient, user: str) -> List[pb.Transaction]:
    found: List[pb.Transaction] = []
    before = 0
    while True:
        page = client.list_transactions(user, limit=1000, before_id=before)
        found.extend(page.transactions)
        if not page.next_before_id:
            return found
        before = page.next_before_id


def snapshot_text(path: Path) -> str:
    """A snapshot file (format 3: a 40-byte header, then parts each after its u32 LE length) as
    protoc's text of each part, for diffing two nodes' states."""
    data = path.read_bytes()
    at, parts = 40, []
    while at < len(data):
        length = int.from_bytes(data[at:at + 4], "little")
        decoded = subprocess.run(
            ["protoc", f"-I{REPO / 'Protos'}", "--decode=tally.store.v1.Snapshot", "tally/store/v1/snapshot.proto"],
            input=data[at + 4:at + 4 + length], capture_output=True, check=True)
        parts.append(decoded.stdout.decode())
        at += 4 + length
    return "".join(parts)


def keep_diverged(nodes: List[Node], clients: List[TallyClient]) -> str:
    """Backs up every node (all at one position) beside the test's files, and diffs their states
    as text: what differs first is where to look (the failure keeps the directory)."""
    import difflib
    texts = []
    for node, c in zip(nodes, clients):
        path = node.dir / "diverged.tally"
        c.backup(str(path), timeout_ms=120_000)
        texts.append(snapshot_text(path) if shutil.which("protoc") else "")
        (node.dir / "diverged.txt").write_text(texts[-1])
    report = [f"backups kept: {', '.join(str(n.dir / 'diverged.tally') for n in nodes)}"]
    for node, text in zip(nodes[1:], texts[1:]):
        diff = list(difflib.unified_diff(texts[0].splitlines(), text.splitlines(), f"node {nodes[0].name}", f"node {node.name}", n=8, lineterm=""))
        report.append("\n".join(diff[:200]) if diff else f"node {node.name}: no difference in the decoded text")
    return "\n".join(report)


def verify(phase: str, nodes: List[Node], postgres: Postgres, book: Book) -> None:
    head = int(postgres.sql("SELECT last_sequence FROM tally_log_head"))
    clients = [node.client() for node in nodes]
    try:
        try:
            wait_until(f"every node applied the log through {head}",
                       lambda: all(c.health().durable_sequence >= head for c in clients), timeout_s=120)
        except Failed as e:
            where = []
            for node, c in zip(nodes, clients):
                try:
                    h = c.health()
                    where.append(f"node {node.name} at {h.durable_sequence}" + ("" if h.accepting_mutations else f" refusing: {h.refusal_reason}"))
                except (TallyError, OSError) as error:
                    where.append(f"node {node.name}: {error!r}")
            raise Failed(f"{e}: {', '.join(where)}")
        healths = [c.health(check_invariants=True, digest=True) for c in clients]
        positions = {h.digest_sequence for h in healths}
        check(positions == {head}, f"{phase}: nodes report positions {positions}, the log's head is {head}")
        digests = {h.state_digest for h in healths}
        if len(digests) != 1:
            where = keep_diverged(nodes, clients)
            check(False, f"{phase}: the nodes' digests differ at {head}: {[h.state_digest for h in healths]}\n{where}")
        for node, h in zip(nodes, healths):
            check(h.invariants_checked and not h.invariant_violations, f"{phase}: node {node.name} invariants: {list(h.invariant_violations)}")
            check(h.accepting_mutations, f"{phase}: node {node.name} refuses mutations: {h.refusal_reason}")
            check(h.log_node != "" and h.log_head >= head, f"{phase}: node {node.name}'s health says node {h.log_node!r}, log head {h.log_head}")
        users = sorted({f"u{i}" for i in range(USERS)} | {e["user"] for e in book.acked})
        by_node = []
        for c in clients:
            history = {}
            for user in users:
                check(c.get_balance(user).available >= 0, f"{phase}: {user}'s balance is below zero")
                for t in transactions_of(c, user):
                    history[t.id] = t
            by_node.append(history)
        check(all(h.keys() == by_node[0].keys() for h in by_node), f"{phase}: the nodes' transaction ids differ")
        for node, history in zip(nodes, by_node):
            references: Dict[str, int] = defaultdict(int)
            for t in history.values():
                if t.reference:
                    references[t.reference] += 1
            for entry in book.acked:
                t = history.get(entry["tx"])
                check(t is not None, f"{phase}: node {node.name} lacks acknowledged {entry}")
                check(t.user_id == entry["user"] and t.amount == entry["amount"],
                      f"{phase}: node {node.name} holds {t} for acknowledged {entry}")
                if entry["kind"] in ("credit", "spend"):
                    check(t.reference == entry["ref"] and references[entry["ref"]] == 1,
                          f"{phase}: node {node.name} holds reference {entry['ref']} {references[entry['ref']]} times")
        for entry in book.acked:
            if entry["kind"] == "purchase":
                for c in clients:
                    purchase = c.get_purchase(entry["ref"])
                    check(purchase.transaction.id == entry["tx"], f"{phase}: purchase {entry['ref']} credited as {purchase.transaction.id}, answered {entry['tx']}")
        for user in users:
            used = {c.check_usage(user).used for c in clients}
            check(len(used) == 1, f"{phase}: {user}'s usage differs between nodes: {used}")
            low, high = book.consumed[user], book.consumed[user] + book.consume_unknown[user]
            value = used.pop()
            check(low <= value <= high, f"{phase}: {user}'s usage {value} is outside [{low}, {high}] (acknowledged, plus calls of unknown outcome)")
        print(f"  {phase}: {len(nodes)} nodes agree at position {head} (digest {healths[0].state_digest[:16]}...), "
              f"{len(book.acked)} acknowledged mutations each in every history once", flush=True)
    finally:
        for c in clients:
            c.close()


def race_last_tokens(nodes: List[Node], rounds: int) -> None:
    """Three hosts spend one user's last 10 tokens at the same moment: exactly one OK."""
    with nodes[0].client() as admin:
        for r in range(rounds):
            user = f"race-{r}-{time.monotonic_ns()}"
            admin.credit(user, 10, "grant")
            position = admin.position
            check(position > 0, f"the credit's answer carried no command-log position ({position})")
            for node in nodes:
                # Read your write on another host: the read waits until that node applied it.
                with node.client() as c:
                    c.min_position = position
                    seen = c.get_balance(user).available
                    check(seen == 10, f"node {node.name} asked with min_position {position} answered {user} has {seen}, not 10")
            barrier = threading.Barrier(len(nodes))
            outcomes: List[str] = []

            def spend(node: Node) -> None:
                with node.client() as c:
                    barrier.wait()
                    try:
                        c.spend(user, 10)
                        outcomes.append("ok")
                    except FailedPrecondition as e:
                        outcomes.append(e.reason)
            threads = [threading.Thread(target=spend, args=(n,)) for n in nodes]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(sorted(outcomes) == ["INSUFFICIENT_TOKENS"] * (len(nodes) - 1) + ["ok"],
                  f"race {r}: three hosts spending the last 10 tokens were answered {outcomes}")
    print(f"  race: {rounds} rounds of a credit read back on every node with min_position, then three hosts spending"
          " the user's last tokens at once: one OK each", flush=True)


# -- the run ------------------------------------------------------------------------------------

def run(tallyd: str, seed: int, seconds: float, root: Path) -> None:
    book = Book()
    primary = Postgres(root, "pg")
    servers = [primary]
    primary.init()
    primary.start()
    nodes = [Node(root, name, tallyd) for name in ("a", "b", "c")]
    try:
        for node in nodes:
            node.start(primary.url)
        with nodes[0].client() as admin:
            admin.save_package(id="pack", name="Pack", tokens=100, price_cents=199, currency="USD", active=True)

        print("phase 1: three nodes under load", flush=True)
        with Load(nodes, seed, book):
            time.sleep(seconds)
        verify("phase 1", nodes, primary, book)
        race_last_tokens(nodes, rounds=5)

        print("phase 2: kill -9 of node b under load, then its restart", flush=True)
        with Load(nodes, seed + 1, book):
            time.sleep(seconds / 3)
            nodes[1].kill9()
            time.sleep(seconds / 3)
            nodes[1].start(primary.url)
            time.sleep(seconds / 3)
        verify("phase 2", nodes, primary, book)

        print("phase 3: kill -9 of PostgreSQL under load, then its restart", flush=True)
        with Load(nodes, seed + 2, book):
            time.sleep(seconds / 3)
            primary.kill9()
            for node in nodes:
                with node.client() as c:
                    c.get_balance("u0")  # reads go on
                    def refused() -> bool:
                        try:
                            c.credit("u0", 1, "grant", reference=f"outage-{node.name}-{time.monotonic_ns()}")
                            return False
                        except Unavailable as e:
                            return e.reason == "LOG_UNAVAILABLE"
                    wait_until(f"node {node.name} answers mutations UNAVAILABLE while PostgreSQL is down", refused, timeout_s=30)
            print("  while PostgreSQL was down: reads answered, mutations UNAVAILABLE LOG_UNAVAILABLE on every node", flush=True)
            primary.start()
            for node in nodes:
                with node.client() as c:
                    wait_until(f"node {node.name} takes mutations again", lambda: c.credit("u0", 1, "grant").transaction.id > 0, timeout_s=60)
            time.sleep(seconds / 3)
        verify("phase 3", nodes, primary, book)

        print("phase 4: a synchronous standby promoted after the primary stops", flush=True)
        standby = Postgres(root, "standby")
        servers.append(standby)
        standby.standby_of(primary)
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
        primary.sql("SELECT pg_reload_conf()")
        wait_until("the standby replicates synchronously",
                   lambda: primary.sql("SELECT sync_state FROM pg_stat_replication") == "sync", timeout_s=60)
        with Load(nodes, seed + 3, book):
            time.sleep(seconds / 2)
            primary.stop("immediate")
            # What each node applied from the primary, which the standby must hold: a row a node
            # applied and the standby lacks is one a failover lost (and the node, seeing other
            # rows at its positions later, stops: the chain check).
            applied = {}
            for node in nodes:
                with node.client() as c:
                    applied[node.name] = c.health().durable_sequence
            standby.promote()
            promoted = int(standby.sql("SELECT last_sequence FROM tally_log_head"))
            ahead = {name: position for name, position in applied.items() if position > promoted}
            if ahead:
                raise Failed(f"nodes applied rows the promoted standby lacks (it ends at {promoted}): {ahead}; "
                             f"primary's log:\n{primary.log.read_text()[-3000:]}\nstandby's log:\n{standby.log.read_text()[-3000:]}")
            for node in nodes:
                node.stop()
                node.start(standby.url)
            time.sleep(seconds / 2)
        verify("phase 4", nodes, standby, book)

        print("phase 5: a new node after the log was pruned: refused, then seeded from a backup", flush=True)
        # Snapshots record what each node covers; rows all of them cover go. A debug build on a
        # busy machine took up to 16 s for one here: the snapshot and backup calls get 2 minutes.
        for _ in range(2):
            for node in nodes:
                with TallyClient(node.socket, timeout_ms=120_000) as c:
                    c.snapshot()
        wait_until("the log deleted rows every node's snapshot covers",
                   lambda: int(standby.sql("SELECT coalesce(min(first_sequence), 0) FROM tally_log")) > 1, timeout_s=60)
        oldest = int(standby.sql("SELECT min(first_sequence) FROM tally_log"))
        late = Node(root, "d", tallyd)
        said = late.start_refused(standby.url)
        check("too far behind" in said and "tallyd restore" in said,
              f"a node starting empty after rows were deleted (oldest row {oldest}) should say it is too far behind and how to seed it:\n{said}")
        shutil.rmtree(late.dir / "data")
        backup_file = root / "seed.tally"
        with TallyClient(nodes[0].socket, timeout_ms=120_000) as c:
            c.backup(str(backup_file))
        subprocess.run([tallyd, "restore", str(backup_file), "--data-dir", str(late.dir / "data")], check=True, stdout=subprocess.DEVNULL)
        late.start(standby.url)
        nodes.append(late)
        with Load(nodes, seed + 4, book):
            time.sleep(seconds / 3)
        verify("phase 5", nodes, standby, book)
        print(f"  a node started empty with the log's rows before {oldest} deleted: refused with how to seed it; "
              "seeded from a backup of node a, it caught up", flush=True)
        print("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(book.counts.items())), flush=True)
    except BaseException as e:
        KEEP_ON_FAILURE.set()
        print(f"failed: {e!r}", file=sys.stderr, flush=True)
        for node in nodes:
            print(f"--- node {node.name} log (tail) ---\n{node.log_tail()}", file=sys.stderr)
        if os.environ.get("SEVERAL_HOSTS_PAUSE"):
            print(f"paused for inspection: {root}", file=sys.stderr, flush=True)
            time.sleep(float(os.environ["SEVERAL_HOSTS_PAUSE"]))
        raise
    finally:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.kill()
        for server in servers:
            server.stop("immediate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tallyd", required=True)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "0")) or random.randrange(1, 1_000_000))
    parser.add_argument("--seconds", type=float, default=6.0, help="load per phase")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not PGBIN:
        print("several_hosts: no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)", file=sys.stderr)
        return 1
    print(f"several hosts: seed {args.seed} (SEED={args.seed} to repeat), {args.seconds:g} s of load per phase", flush=True)
    root = Path(tempfile.mkdtemp(prefix="tally-hosts-", dir="/tmp"))
    os.chmod(root, 0o755)
    started = time.monotonic()
    try:
        run(os.path.abspath(args.tallyd), args.seed, args.seconds, root)
    except Failed as e:
        print(f"several hosts FAILED (seed {args.seed}): {e}", file=sys.stderr)
        return 1
    finally:
        if KEEP_ON_FAILURE.is_set() or args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"several hosts passed in {time.monotonic() - started:.0f} s (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
