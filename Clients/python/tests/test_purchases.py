"""Purchases through the Python client against a real tallyd: a package, a purchase completed
twice (credited once), a failure, and the refusals' reasons."""

import pytest

from tally_client import AlreadyExists, FailedPrecondition, NotFound


def test_purchase_flow(client):
    package = client.save_package(
        id="py-starter", name="Starter", tokens=1000, bonus_tokens=100, price_cents=999, currency="USD", active=True
    )
    assert package.tokens == 1000 and package.created_at_us > 0
    assert "py-starter" in [p.id for p in client.list_packages()]

    started = client.start_purchase("py-buyer", "py-starter", "py-pay-1")
    assert started.purchase.status == 1 and not started.already_done  # PENDING
    first = client.complete_purchase("py-pay-1")
    again = client.complete_purchase("py-pay-1")
    assert not first.already_done and again.already_done
    assert again.purchase == first.purchase and first.purchase.transaction.amount == 1100
    assert client.get_balance("py-buyer").available == 1100
    assert client.get_purchase("py-pay-1").status == 2  # COMPLETED
    assert [p.payment_id for p in client.list_purchases("py-buyer")] == ["py-pay-1"]

    with pytest.raises(AlreadyExists) as caught:
        client.start_purchase("someone-else", "py-starter", "py-pay-1")
    assert caught.value.reason == "PAYMENT_ID_IN_USE"

    client.start_purchase("py-buyer", "py-starter", "py-pay-2")
    assert client.fail_purchase("py-pay-2", "card declined").purchase.failure_reason == "card declined"
    with pytest.raises(FailedPrecondition) as caught:
        client.complete_purchase("py-pay-2")
    assert caught.value.reason == "PURCHASE_ALREADY_SETTLED"
    with pytest.raises(NotFound) as caught:
        client.get_purchase("py-nope")
    assert caught.value.reason == "PURCHASE_NOT_FOUND"
    assert client.deactivate_package("py-starter").active is False
    with pytest.raises(FailedPrecondition) as caught:
        client.start_purchase("py-buyer", "py-starter", "py-pay-3")
    assert caught.value.reason == "PACKAGE_INACTIVE"
