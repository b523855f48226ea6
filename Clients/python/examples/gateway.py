#!/usr/bin/env python3
"""A chat gateway's daily-limit loop on tallyd's Usage service: check, reserve, call the
model, settle (or release when the model fails); DAILY_LIMIT_EXCEEDED is answered with the
time the user's count resets.

    python examples/gateway.py --socket /path/to/tally.sock [--demo-limit 1500]

It plays a short day for three users against a fake model (seeded, so the run is repeatable);
the model fails now and then, and one user has a small personal limit (set with SetLimits,
which needs the admin role) so the refusal shows. A real gateway keeps one TallyClient per
worker thread: a client is not thread-safe.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tally_client import ResourceExhausted, TallyClient, TallyError  # noqa: E402


class ModelError(Exception):
    pass


class FakeModel:
    """Stands in for an LLM: answers with some tokens, or fails (timeouts, 5xx)."""

    def __init__(self, seed: int = 3) -> None:
        self.random = random.Random(seed)

    def complete(self, prompt: str, max_tokens: int) -> tuple[str, int]:
        if self.random.random() < 0.15:
            raise ModelError("upstream model timed out")
        used = len(prompt.split()) * 4 + self.random.randint(50, max_tokens)
        return f"(a reply to {prompt!r})", used


def estimate_tokens(prompt: str, max_tokens: int) -> int:
    return len(prompt.split()) * 4 + max_tokens


def when(resets_at_us: int) -> str:
    return dt.datetime.fromtimestamp(resets_at_us / 1e6, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def handle_message(tally: TallyClient, model: FakeModel, user_id: str, prompt: str, max_tokens: int = 400) -> str:
    """One chat turn. Every mutation carries an idempotency key derived from the request id,
    so a retry after a lost answer (CallTimeout, ConnectionClosed) is applied once."""
    request_id = uuid.uuid4().hex
    estimate = estimate_tokens(prompt, max_tokens)

    # 1. Check: a cheap read; refuse at once when nothing is left today (a turn may use less
    #    than its estimate, so a smaller remainder is left to the reservation to judge).
    status = tally.check_usage(user_id)
    if status.remaining == 0 and not status.shadow:
        return f"daily limit reached ({status.used}/{status.limit} used); resets {when(status.resets_at_us)}"

    # 2. Reserve the estimate: refused with DAILY_LIMIT_EXCEEDED if it does not fit (or if
    #    another gateway used the quota since the check).
    try:
        held = tally.reserve(user_id, estimate, ttl_ms=120_000, idempotency_key=f"{request_id}:reserve")
    except ResourceExhausted as e:
        if e.reason != "DAILY_LIMIT_EXCEEDED":
            raise  # RATE_LIMITED etc.: let the caller back off
        return (
            f"daily limit reached ({e.details['used']} used + {e.details['reserved']} reserved of "
            f"{e.details['limit']}, asked {e.details['requested']}); resets {when(e.detail_int('resets_at_us'))}"
        )
    reservation = held.reservation.id

    # 3. Call the model; on failure release the hold so the user is not charged.
    try:
        reply, used = model.complete(prompt, max_tokens)
    except ModelError as e:
        tally.release(reservation, idempotency_key=f"{request_id}:release")
        return f"sorry, the model failed ({e}); nothing was charged"

    # 4. Settle with the real count (charged in full, even past the estimate).
    settled = tally.settle(reservation, used, idempotency_key=f"{request_id}:settle")
    return f"{reply} [{used} tokens; {settled.status.remaining} left today]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", required=True, help="tallyd's socket")
    parser.add_argument("--demo-limit", type=int, default=1500, help="personal daily limit of the demo's heavy user")
    args = parser.parse_args(argv)

    run = uuid.uuid4().hex[:6]
    users = [f"ana-{run}", f"ben-{run}", f"heavy-{run}"]
    model = FakeModel()
    with TallyClient(args.socket, timeout_ms=5_000) as tally:
        tally.set_limits(user_limit={"user_id": users[2], "limit": args.demo_limit})  # admin
        prompts = ["hello there", "summarize my inbox please", "write a haiku about ledgers", "and another one"]
        for turn, prompt in enumerate(prompts * 2):
            for user in users:
                try:
                    print(f"{user:>12} turn {turn}: {handle_message(tally, model, user, prompt)}")
                except TallyError as e:
                    print(f"{user:>12} turn {turn}: tally refused: {e}", file=sys.stderr)
                    return 1
        for user in users:
            s = tally.check_usage(user)
            print(f"{user:>12} today: used {s.used} of {s.limit} (tier {s.tier}), reserved {s.reserved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
