"""Predictions through the Python client against a real tallyd: commit, cancel, resolve once,
void, and the refusals' reasons."""

import pytest

from tally_client import FailedPrecondition, InvalidArgument, pb


def test_prediction_flow(client):
    for user in ("py-ann", "py-ben"):
        client.credit(user, 1000, kind="grant")
    yes = client.commit("py-ann", "py-rain", "yes", 300, 2_500_000)
    assert yes.commitment.potential_winning == 750 and yes.balance.committed == 300
    client.commit("py-ben", "py-rain", "no", 200, 1_500_000)
    resolved = client.resolve("py-rain", "yes")
    assert resolved.summary.winners == 1 and resolved.summary.tokens_paid == 750 and not resolved.already_done
    assert client.resolve("py-rain", "yes").already_done
    assert client.get_balance("py-ann").available == 1450
    with pytest.raises(FailedPrecondition) as caught:
        client.commit("py-ann", "py-rain", "no", 1, 2_000_000)
    assert caught.value.reason == "PREDICTION_SETTLED"
    listed = client.list_commitments(prediction_id="py-rain")
    assert [c.status for c in listed.commitments] == [pb.COMMITMENT_STATUS_LOST, pb.COMMITMENT_STATUS_WON]

    c = client.commit("py-ann", "py-match", "no", 100, 3_000_000)
    assert client.cancel_commitment(c.commitment.id).commitment.status == pb.COMMITMENT_STATUS_REFUNDED
    client.commit("py-ben", "py-match", "yes", 50, 1_000_000)
    voided = client.void("py-match")
    assert voided.summary.refunded == 1 and voided.summary.tokens_refunded == 50
    with pytest.raises(InvalidArgument) as caught:
        client.commit("py-ann", "py-x", "yes", 10, 999_999)
    assert caught.value.reason == "ODDS_OUT_OF_RANGE"
