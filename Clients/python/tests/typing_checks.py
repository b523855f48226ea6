"""Read by mypy (test.sh), never run: the typed methods of both clients answer the types they
name and refuse wrong arguments. Each `type: ignore` below must be needed (warn_unused_ignores),
so a method whose answer decayed to Any would fail the check."""

from typing import List

from tally_client import AsyncTallyClient, TallyClient, calls, pb


def blocking(tally: TallyClient) -> None:
    balance: pb.Balance = tally.get_balance("alice")
    prices: List[pb.ActionPrice] = tally.list_prices()
    spent: pb.SpendResponse = tally.spend("alice", 5, idempotency_key="k")
    wrong: str = tally.get_balance("alice")  # type: ignore[assignment]
    tally.get_balance(7)  # type: ignore[arg-type]
    tally.spend("alice", 5, unknown=1)  # type: ignore[call-arg]
    print(balance, prices, spent, wrong)


async def awaiting(tally: AsyncTallyClient) -> None:
    balance: pb.Balance = await tally.get_balance("alice")
    status: pb.UsageStatus = await tally.check_usage("alice")
    wrong: str = await tally.get_balance("alice")  # type: ignore[assignment]
    await tally.credit("alice", "5", "grant")  # type: ignore[arg-type]
    prepared: calls.PreparedCall[pb.Balance] = calls.get_balance("alice")
    print(balance, status, wrong, prepared)
