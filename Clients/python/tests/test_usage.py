"""Usage (daily limits) methods against a real tallyd."""

import time
import uuid

import pytest

from tally_client import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted, pb


def eventually(fetch, ok, seconds=5.0):
    give_up = time.monotonic() + seconds
    while True:
        value = fetch()
        if ok(value) or time.monotonic() > give_up:
            return value
        time.sleep(0.05)


def test_consume_and_check(client, user):
    status = client.check_usage(user)
    assert status.user_id == user and status.used == 0 and status.reserved == 0
    assert status.remaining == status.limit > 0
    assert len(status.date) == 10 and status.resets_at_us > time.time() * 1e6

    answer = client.consume(user, 300)
    assert answer.status.used == 300 and not answer.replayed
    assert client.check_usage(user).remaining == status.limit - 300

    key = f"consume-{uuid.uuid4()}"
    first = client.consume(user, 7, idempotency_key=key)
    again = client.consume(user, 7, idempotency_key=key)
    assert again.replayed and again.status.used == first.status.used == 307
    assert client.check_usage(user).used == 307


def test_reserve_settle_release(client, user):
    held = client.reserve(user, 1000, ttl_ms=120_000)
    r = held.reservation
    assert r.id > 0 and r.user_id == user and r.tokens == 1000
    assert r.expires_at_us - r.created_at_us == 120_000_000
    assert held.status.reserved == 1000 and held.status.used == 0

    settled = client.settle(r.id, 1234)  # charged in full, past the estimate
    assert settled.reservation.id == r.id and settled.reservation.tokens == 1000
    assert (settled.status.used, settled.status.reserved) == (1234, 0)

    with pytest.raises(NotFound) as caught:
        client.settle(r.id, 1)
    assert caught.value.reason == "RESERVATION_NOT_FOUND"
    assert caught.value.details == {"reservation_id": str(r.id)}

    second = client.reserve(user, 500).reservation
    released = client.release(second.id)
    assert released.reservation.id == second.id
    assert (released.status.used, released.status.reserved) == (1234, 0)
    with pytest.raises(NotFound):
        client.release(second.id)

    # Idempotent settle: a retry with the same key is replayed, not refused.
    third = client.reserve(user, 10).reservation
    key = f"settle-{uuid.uuid4()}"
    client.settle(third.id, 9, idempotency_key=key)
    assert client.settle(third.id, 9, idempotency_key=key).replayed

    with pytest.raises(InvalidArgument) as caught:
        client.reserve(user, 10, ttl_ms=3_600_001)
    assert caught.value.reason == "TTL_OUT_OF_RANGE"
    with pytest.raises(InvalidArgument) as caught:
        client.settle(third.id, -1)
    assert caught.value.reason == "AMOUNT_NEGATIVE"


def test_daily_limit_exceeded_details(client, user):
    settings = client.set_limits(user_limit={"user_id": user, "limit": 1000})
    assert settings.default_tier
    client.consume(user, 600)
    client.reserve(user, 300)
    with pytest.raises(ResourceExhausted) as caught:
        client.consume(user, 200)
    e = caught.value
    assert e.reason == "DAILY_LIMIT_EXCEEDED"
    assert set(e.details) == {"used", "reserved", "limit", "remaining", "requested", "resets_at_us", "day"}
    assert (e.detail_int("used"), e.detail_int("reserved"), e.detail_int("limit")) == (600, 300, 1000)
    assert (e.detail_int("remaining"), e.detail_int("requested")) == (100, 200)
    status = client.check_usage(user)
    assert e.detail_int("resets_at_us") == status.resets_at_us and e.details["day"] == status.date
    assert status.used == 600  # nothing counted
    with pytest.raises(ResourceExhausted):
        client.reserve(user, 101)
    client.consume(user, 100)  # exactly the limit fits

    cleared = client.set_limits(user_limit={"user_id": user, "clear": True})
    assert cleared.default_tier == settings.default_tier
    assert client.check_usage(user).limit > 1000


def test_set_and_get_limits(client, user):
    tier = f"py-{uuid.uuid4().hex[:8]}"
    settings = client.set_limits(tier_limit={"tier": tier, "limit": 4321})
    assert any(t.tier == tier and t.limit == 4321 for t in settings.tiers)
    got = client.get_limits()
    assert got == settings
    assert [t.tier for t in got.tiers] == sorted(t.tier for t in got.tiers)
    assert got.time_zone and got.retention_days > 0 and got.retention_months > 0

    client.set_limits(user_tier={"user_id": user, "tier": tier})
    status = client.check_usage(user)
    assert (status.tier, status.limit) == (tier, 4321)

    shadowed = client.set_limits(pb.SetLimitsRequest(shadow=pb.SetLimitsRequest.ShadowChange(tier=tier, on=True)))
    assert any(t.tier == tier and t.shadow for t in shadowed.tiers)
    client.consume(user, 5000)  # shadow: counted, not refused
    status = client.check_usage(user)
    assert status.shadow and status.used == 5000 and status.shadow_refusals == 1

    removed = client.set_limits(tier_limit={"tier": tier, "remove": True})
    assert all(t.tier != tier for t in removed.tiers)

    with pytest.raises(InvalidArgument) as caught:
        client.set_limits()
    assert caught.value.reason == "CHANGE_MISSING"
    with pytest.raises(InvalidArgument) as caught:
        client.set_limits(shadow={"on": True})
    assert caught.value.reason == "SHADOW_TARGET_INVALID"
    with pytest.raises(InvalidArgument) as caught:
        client.set_limits(time_zone="Mars/Olympus_Mons")
    assert caught.value.reason == "TIME_ZONE_UNKNOWN"
    with pytest.raises(FailedPrecondition) as caught:
        client.set_limits(default_tier=f"none-{tier}")
    assert caught.value.reason == "TIER_NOT_FOUND"
    with pytest.raises(ValueError):
        client.set_limits(default_tier="a", time_zone="UTC")


def test_time_zone_and_default_tier_on_a_dedicated_tallyd(make_tallyd):
    from tally_client import TallyClient

    server = make_tallyd()
    with TallyClient(server.socket, timeout_ms=10_000) as c:
        before = c.get_limits()
        assert before.time_zone == "UTC"
        after = c.set_limits(time_zone="America/New_York")
        assert after.time_zone == "America/New_York"
        other = next(t.tier for t in after.tiers if t.tier != after.default_tier)
        assert c.set_limits(default_tier=other).default_tier == other
        assert c.check_usage("nobody").tier == other


def test_history_top_users_month_by_tier(client, user):
    client.consume(user, 850)
    client.consume(user, 150)
    # History, TopUsers and MonthByTier read the durable state off the Writer and may miss the
    # last few milliseconds of writes (docs/protocol.md §4.1): poll briefly.
    history = eventually(lambda: client.history(user), lambda h: h.today.used == 1000 and h.months)
    assert history.today.used == 1000
    assert history.days[0].date == history.today.date and history.days[0].tokens == 1000
    month = history.months[0]
    assert month.month == history.today.date[:7] and month.total == 1000
    assert month.peak_date == history.today.date and month.peak_tokens == 1000

    top = eventually(lambda: client.top_users(limit=1000), lambda t: any(u.user_id == user for u in t.users))
    assert top.date == history.today.date
    assert any(u.user_id == user and u.tokens == 1000 for u in top.users)
    tokens = [u.tokens for u in top.users]
    assert tokens == sorted(tokens, reverse=True)

    by_tier = client.month_by_tier()
    assert by_tier.month == history.today.date[:7]
    assert sum(t.users for t in by_tier.tiers) >= 1

    with pytest.raises(InvalidArgument) as caught:
        client.top_users(date="2026-02-30")
    assert caught.value.reason == "DATE_INVALID"
    with pytest.raises(InvalidArgument) as caught:
        client.top_users(limit=1001)
    assert caught.value.reason == "LIMIT_OUT_OF_RANGE"
    with pytest.raises(InvalidArgument) as caught:
        client.month_by_tier(month="2026-13")
    assert caught.value.reason == "MONTH_INVALID"
