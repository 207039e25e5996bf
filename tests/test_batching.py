"""labkit.batching: padding, the replay share of every batch, and length buckets that cut padding."""

import pytest

from labkit.batching import batches, pad_right, padding_waste, replay_counts


def test_pad_right_pads_ids_and_masks_only_the_padding():
    ids, mask = pad_right([[5, 6, 7], [8]], 0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    labels, _ = pad_right([[-100, 9], [4, 4, 4, 4]], -100)
    assert labels.tolist() == [[-100, 9, -100, -100], [4, 4, 4, 4]]


@pytest.mark.parametrize("replay", [0.0, 0.25, 0.5])
def test_replay_share_of_every_batch(replay):
    domain = [{"input_ids": [1] * (3 + i % 5), "labels": [1] * (3 + i % 5), "kind": "qa"} for i in range(20)]
    general = [{"input_ids": [2] * (4 + i % 7), "labels": [2] * (4 + i % 7), "kind": "general"} for i in range(30)]
    plan = batches(domain, general, num_steps=10, batch_size=8, replay=replay, seed=0)
    counts = [sum(r["kind"] == "general" for r in b) for b in plan]
    assert all(len(b) == 8 for b in plan)
    assert counts == replay_counts(10, 8, replay) and all(c == round(8 * replay) for c in counts)


def test_length_bucketing_reduces_padding():
    rows = [{"input_ids": [1] * n, "labels": [1] * n, "kind": "qa"} for n in [4, 30, 5, 28, 6, 31, 4, 29] * 4]
    bucketed = padding_waste(batches(rows, [], num_steps=8, batch_size=4, bucket=8))
    unbucketed = padding_waste(batches(rows, [], num_steps=8, batch_size=4, bucket=1))
    assert bucketed < unbucketed
