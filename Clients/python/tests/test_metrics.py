"""tallyd --metrics-listen: the Prometheus text parses with prometheus_client's own parser, the
counters move by exactly the calls made, histograms count every call, refusals carry their
reason, and Admin/Metrics answers the same figures."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import tempfile

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tally_client import TallyClient, errors


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over tallyd's metrics Unix socket."""

    def __init__(self, path: str) -> None:
        super().__init__("tallyd")
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def scrape(path: str) -> str:
    connection = UnixHTTPConnection(path)
    connection.request("GET", "/metrics")
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/plain; version=0.0.4")
    body = response.read().decode()
    connection.close()
    return body


def samples(text: str):
    """{(sample name, sorted labels): value} and {family name: type}."""
    values, types = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values, types


def test_metrics_parse_and_count_exactly_the_calls_made(make_tallyd, user):
    metrics = os.path.join(tempfile.mkdtemp(prefix="tally-m-", dir="/tmp"), "m.sock")  # short: a socket path
    tallyd = make_tallyd("--metrics-listen", "unix:" + metrics, "--fsync", "always")  # a journal to measure
    with TallyClient(tallyd.socket, timeout_ms=10_000) as client:
        for _ in range(3):
            client.credit(user, 10, "grant")
        client.get_balance(user)
        client.get_balance(user)
        with pytest.raises(errors.TallyError) as refused:
            client.spend(user, 1_000)
        assert refused.value.reason == "INSUFFICIENT_TOKENS"

        values, types = samples(scrape(metrics))
        assert types["tally_calls"] == "counter"
        assert types["tally_call_duration_seconds"] == "histogram"
        assert types["tally_journal_fsync_duration_seconds"] == "histogram"
        assert types["tally_accounts"] == "gauge"

        def calls(method: str, code: str) -> float:
            return values.get(("tally_calls_total", (("code", code), ("method", method))), 0)

        assert calls("Ledger/Credit", "OK") == 3
        assert calls("Ledger/GetBalance", "OK") == 2
        assert calls("Ledger/Spend", "FAILED_PRECONDITION") == 1
        assert values[("tally_refusals_total", (("method", "Ledger/Spend"), ("reason", "INSUFFICIENT_TOKENS")))] == 1
        for method, count in (("Ledger/Credit", 3), ("Ledger/GetBalance", 2), ("Ledger/Spend", 1)):
            assert values[("tally_call_duration_seconds_count", (("method", method),))] == count
            assert values[("tally_call_duration_seconds_bucket", (("le", "+Inf"), ("method", method)))] == count
        assert values[("tally_accounts", ())] == 1
        assert values[("tally_tokens_in_circulation", ())] == 30
        # Credits and the refused spend (audited) reach the journal.
        assert values[("tally_journal_batch_records_sum", ())] == 4

        # Admin/Metrics: the same samples, as messages.
        answer = client.metrics()
        by_rpc = {(s.name, tuple(sorted((l.name, l.value) for l in s.labels))): s.value for s in answer.samples}
        for key, value in values.items():
            if key[0] in ("tally_calls_total", "tally_refusals_total") and ("method", "Admin/Metrics") not in key[1]:
                assert by_rpc.get(key) == value, key
        assert answer.uptime_ms > 0

    shutil.rmtree(os.path.dirname(metrics), ignore_errors=True)
