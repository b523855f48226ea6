"""examples/gateway.py runs end to end against a real tallyd."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.py"


def test_gateway_example(tallyd):
    run = subprocess.run(
        [sys.executable, str(EXAMPLE), "--socket", tallyd.socket, "--demo-limit", "1500"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "tokens;" in out and "left today" in out  # settled turns
    assert "nothing was charged" in out  # a model failure released its reservation
    assert "daily limit reached" in out and "resets 20" in out  # the heavy user hit the limit
    heavy = [line for line in out.splitlines() if line.strip().startswith("heavy-") and "today:" in line]
    assert heavy and "of 1500" in heavy[0] and "reserved 0" in heavy[0]
