"""Batching: token rows into padded tensors, and a training run's batches (replay share, length buckets).

What it holds:
- `pad_right`: token lists to a right-padded ids tensor and its attention mask (the one padding:
  training batches and the multiple-choice scorer's prompts); `collate` pads encoded rows,
  labels -100 on the padding.
- `iter_batches` / `batches`: a run's batches, each `bucket` steps drawn together and sorted
  by length (less padding), every batch with its exact replay count (`replay_counts`).
- `padding_waste`: the share of padded slots in some batches.
- `micro_batches`: a batch of long rows split into parts that fit in memory, each with its share of the loss.

What it leaves out: what a row holds (`labkit.finetune.encode`) and the loop that trains on
the batches (`labkit.finetune.train`).
"""

from __future__ import annotations

import random


def pad_right(rows: list[list[int]], pad_id: int):
    """Right-pad token lists into an ids tensor and its attention mask.

    Example: pad_right([[5, 6, 7], [8]], 0) -> (tensor([[5, 6, 7], [8, 0, 0]]), tensor([[1, 1, 1], [1, 0, 0]]))
    """
    import torch

    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def collate(rows: list[dict], pad_id: int):
    """Right-pad encoded rows into tensors. Example: two rows of 5 and 7 tokens -> input_ids of shape (2, 7)."""
    ids, mask = pad_right([r["input_ids"] for r in rows], pad_id)
    labels, _ = pad_right([r["labels"] for r in rows], -100)  # -100: no loss on padding
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


# what one forward and backward may hold of eager attention: rows x longest row squared (the attention weights kept for
# the backward pass grow with the square of the length). 8 rows of 640 tokens, the longest batches the kit's training
# sets make (RAFT, the knowledge-base reader), are never split; 8 rows of 1100 (the reader's man-page and changelog mix)
# took over 24 GB at once and are split into 4 parts of 2
MICRO_BATCH_CELLS = 8 * 640 * 640


def answer_tokens(row: dict) -> int:
    """Tokens a row's loss is taken on: its labels that are not -100, the first aside (`answer_loss` shifts by one).

    Example: answer_tokens({"input_ids": [1, 2, 3, 4], "labels": [-100, -100, 3, 4]}) -> 2
    """
    return sum(label != -100 for label in row["labels"][1:])


def micro_batches(rows: list[dict], cells: int = MICRO_BATCH_CELLS) -> list[tuple[list[dict], float]]:
    """A batch in consecutive parts of at most `cells` (rows x longest row squared), each with its share of the batch's
    answer tokens: the parts' losses weighted by their shares and summed give the whole batch's mean loss.

    Example: micro_batches([a, b]) -> [([a, b], 1.0)] (within the budget: the batch as it is);
        8 rows of 1100 tokens -> 4 parts of 2 rows, each share about 0.25 (its answer tokens over the batch's)
    A row longer than the budget on its own is a part of its own.
    """
    parts, part, longest = [], [], 0
    for row in rows:
        width = max(longest, len(row["input_ids"]))
        if part and (len(part) + 1) * width * width > cells:
            parts.append(part)
            part, width = [], len(row["input_ids"])
        part.append(row)
        longest = width
    parts.append(part)
    if len(parts) == 1:
        return [(rows, 1.0)]
    total = sum(map(answer_tokens, rows)) or 1
    return [(p, sum(map(answer_tokens, p)) / total) for p in parts]


def _replay_count(step: int, batch_size: int, replay: float) -> int:
    """General examples in batch `step` (0-based): the running share tracks `replay`, and a batch keeps one domain
    row."""
    want = round((step + 1) * replay * batch_size) - round(step * replay * batch_size)
    return max(0, min(batch_size - 1, want))


def replay_counts(num_steps: int, batch_size: int, replay: float) -> list[int]:
    """How many general examples each batch holds, spread so the running share tracks `replay`.

    Example: replay_counts(4, 8, 0.25) -> [2, 2, 2, 2]; replay_counts(2, 8, 0.1) -> [1, 1] (0.8 rounds to 1 each step)
    """
    return [_replay_count(s, batch_size, replay) for s in range(num_steps)]


def iter_batches(domain: list[dict], general: list[dict], num_steps: int, batch_size: int, replay: float = 0.0,
                 seed: int = 0, bucket: int = 8):
    """The encoded batches of a run, drawn `bucket` steps at a time as training reaches them (`batches` lists them all).

    Example: next(iter_batches(rows, [], num_steps=3, batch_size=4)) -> a list of 4 encoded rows
    Every `bucket` steps are drawn together; within them, domain rows and replay rows are
    each sorted by length and dealt out in order, so each batch holds rows of similar
    length (less padding) while every batch keeps its exact replay count. The checks run
    at once; the batches take memory for one bucket, never for the whole run.
    """
    if not domain:
        raise ValueError("no training examples: pass at least one question")
    if not general and replay > 0 and any(_replay_count(s, batch_size, replay) for s in range(num_steps)):
        raise ValueError("replay > 0 needs general text (data/general_text.jsonl)")
    return _draw(domain, general, num_steps, batch_size, replay, random.Random(seed), bucket)


def _draw(domain, general, num_steps, batch_size, replay, rng, bucket):
    def stream(rows):
        while True:
            order = list(range(len(rows)))
            rng.shuffle(order)
            yield from (rows[i] for i in order)

    dom, general_rows = stream(domain), (stream(general) if general else iter(()))
    for start in range(0, num_steps, bucket):
        group = [_replay_count(s, batch_size, replay) for s in range(start, min(start + bucket, num_steps))]
        d = sorted((next(dom) for _ in range(sum(batch_size - c for c in group))), key=lambda r: len(r["input_ids"]))
        g = sorted((next(general_rows) for _ in range(sum(group))), key=lambda r: len(r["input_ids"]))
        di = gi = 0
        chunk = []
        for c in group:
            chunk.append(d[di : di + batch_size - c] + g[gi : gi + c])
            di, gi = di + batch_size - c, gi + c
        rng.shuffle(chunk)
        yield from chunk


def batches(domain: list[dict], general: list[dict], num_steps: int, batch_size: int, replay: float = 0.0,
            seed: int = 0, bucket: int = 8):
    """The encoded batches of a run as a list: `iter_batches` drawn to the end.

    Example: len(batches(rows, [], num_steps=3, batch_size=4)) -> 3 (lists of 4 encoded rows)
    """
    return list(iter_batches(domain, general, num_steps, batch_size, replay, seed, bucket))


def padding_waste(batch_list) -> float:
    """Share of token slots in padded batches that are padding (any iterable of batches, read once).

    Example: rows of 4 and 2 tokens -> 0.25.
    """
    real = slots = 0
    for b in batch_list:
        lengths = [len(r["input_ids"]) for r in b]
        real, slots = real + sum(lengths), slots + len(lengths) * max(lengths)
    return 1.0 - real / max(1, slots)
