"""labkit.batching: padding, the replay share of every batch, length buckets that cut padding, and micro-batches."""

import pytest

from labkit.batching import (
    MICRO_BATCH_CELLS,
    answer_tokens,
    batches,
    micro_batches,
    pad_right,
    padding_waste,
    replay_counts,
)


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


def _row(length: int, answer: int) -> dict:
    return {"input_ids": list(range(length)), "labels": [-100] * (length - answer) + list(range(answer))}


def test_micro_batches_leave_a_batch_within_the_budget_whole():
    rows = [_row(375, 6) for _ in range(8)]  # the knowledge-base reader's longest
    assert micro_batches(rows) == [(rows, 1.0)]
    assert micro_batches([_row(640, 4) for _ in range(8)])[0][1] == 1.0  # RAFT's longest: not split either


def test_micro_batches_split_long_rows_within_the_budget_and_shares_give_the_batch_mean():
    import torch

    rows = [_row(length, answer) for length, answer in [(1100, 3), (1050, 9), (900, 2), (1120, 5), (700, 1)]]
    parts = micro_batches(rows)
    assert len(parts) > 1
    assert [r for part, _ in parts for r in part] == rows  # every row once, in order
    for part, _ in parts:
        assert len(part) == 1 or len(part) * max(len(r["input_ids"]) for r in part) ** 2 <= MICRO_BATCH_CELLS
    assert sum(share for _, share in parts) == pytest.approx(1.0)
    # a mean over each part's answer tokens, weighted by its share, is the mean over the whole batch's
    losses = {id(r): torch.rand(answer_tokens(r)) for r in rows}
    whole = torch.cat([losses[id(r)] for r in rows]).mean()
    weighted = sum(torch.cat([losses[id(r)] for r in part]).mean() * share for part, share in parts)
    assert float(weighted) == pytest.approx(float(whole), rel=1e-6)
    assert answer_tokens(_row(10, 3)) == 3 and answer_tokens({"input_ids": [1, 2], "labels": [5, -100]}) == 0


def test_a_row_longer_than_the_budget_is_a_part_of_its_own():
    rows = [_row(50, 1), _row(3000, 2), _row(40, 1)]
    assert [len(part) for part, _ in micro_batches(rows, cells=4 * 60 * 60)] == [1, 1, 1]
