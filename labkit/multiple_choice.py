"""Multiple choice: the one multiple-choice scorer, run on the model, and the items it scores.

What it holds:
- `mc_scores` / `mc_accuracy`: which of several choices the model finds most likely as its
  answer (summed log-probability of its tokens), batched, the prompt encoded once. Fast and
  deterministic: the one multiple-choice scorer, used for the general probe, for mc_acc
  and to watch forgetting during training.
- `MCItem`, `mc_items_from_qa`, `mc_items_from_probe`: the items, from QA records (the answer
  among its distractors, in a seeded order) or from general-probe records.

What it leaves out: open answers and their metrics (`labkit.evaluate`), generation (`labkit.models`),
padding (`labkit.batching`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from labkit.batching import pad_right
from labkit.models import causal_lm


def mc_scores(gen, questions: list[str], choices: list[list[str]], batch_size: int = 16,
              reduce: str = "sum", cache: bool = True) -> list[list[float]]:
    """Log-probability of each choice as the model's answer to each question.

    Example: mc_scores(gen, ["Capital of France?"], [["Paris", "Rome"]]) -> [[-2.3, -5.2]]
    The prompt is the chat prompt of the question; each choice is scored as the start of
    the assistant's turn. reduce="sum" (the default) adds the choice's token
    log-probabilities; "mean" divides by its length. We use the sum: the mean favours
    multi-token choices, because the second token of a word is nearly free ("Venice" beats
    "Rome" as Italy's capital).
    Speed: each question's prompt runs once; its keys and values are copied for every
    choice, and only the choice tokens run after it (about 2.5x fewer tokens than scoring
    prompt + choice rows); the vocabulary projection runs only at the positions that
    predict a choice token. tests/test_multiple_choice.py checks it against a plain reference.
    The untouched base model's scores are kept (`score_cache`): every notebook scores it on the same probe. cache=False
    keeps nothing (prompts that hold a user's documents, scored once).
    """
    from labkit.score_cache import cached_scores

    if not cache:
        return _mc_scores(gen, questions, choices, batch_size, reduce)
    return cached_scores(gen, questions, choices, {"batch_size": batch_size, "reduce": reduce},
                         lambda: _mc_scores(gen, questions, choices, batch_size, reduce))


def _mc_scores(gen, questions: list[str], choices: list[list[str]], batch_size: int, reduce: str) -> list[list[float]]:
    import torch

    tok = gen.tokenizer
    lm = causal_lm(gen.model)
    was_training = gen.model.training
    gen.model.eval()
    device = next(lm.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    out: list[list[float]] = []
    with gen.inference():
        for start in range(0, len(questions), batch_size):
            qs, cs = questions[start : start + batch_size], choices[start : start + batch_size]
            prompts = [gen.prompt_ids(q) for q in qs]
            opts = [[tok(str(c), add_special_tokens=False)["input_ids"] or [tok.eos_token_id] for c in cc] for cc in cs]
            ids, mask = pad_right(prompts, pad)
            first = lm.base_model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=True)
            cache = first.past_key_values
            rows = [i for i, o in enumerate(opts) for _ in o]
            flat = [c for o in opts for c in o]
            cache.batch_select_indices(torch.tensor(rows, device=device))
            cids, cmask = pad_right(flat, pad)
            cwidth = cids.shape[1]
            pos = torch.tensor([len(prompts[i]) for i in rows]).unsqueeze(1) + torch.arange(cwidth).unsqueeze(0)
            full_mask = torch.cat([mask[rows], cmask], dim=1)
            second = lm.base_model(input_ids=cids.to(device), attention_mask=full_mask.to(device),
                                   position_ids=pos.to(device), past_key_values=cache, use_cache=True)
            last = first.last_hidden_state[torch.tensor(rows), torch.tensor([len(prompts[i]) - 1 for i in rows])]
            # hidden state predicting choice token j: the prompt's last for j = 0, choice token j - 1 after
            hid = torch.cat([last.unsqueeze(1), second.last_hidden_state[:, :-1]], dim=1)
            keep = cmask.bool().to(device)
            logp = torch.log_softmax(lm.get_output_embeddings()(hid[keep]).float(), dim=-1)
            picked = logp.gather(1, cids.to(device)[keep].unsqueeze(1)).squeeze(1)
            counts = cmask.sum(1).tolist()
            k = 0
            scores = []
            for n in counts:
                part = picked[k : k + n]
                scores.append((part.sum() if reduce == "sum" else part.mean()).item())
                k += n
            k = 0
            for o in opts:
                out.append(scores[k : k + len(o)])
                k += len(o)
    if was_training:
        gen.model.train()
    return out


@dataclass
class MCItem:
    """One multiple-choice question: its text, its choices and which one is right."""

    id: str
    question: str
    choices: list[str]
    answer_index: int


def mc_items_from_qa(questions: list[dict], field_name: str = "paraphrases", per_question: int = 1,
                     seed: int = 0) -> list[MCItem]:
    """Multiple-choice items from QA records: the answer among its three distractors, in a seeded order.

    Example: mc_items_from_qa([q])[0].choices -> ["$99", "$89", "$79", "$129"]
    field_name="paraphrases" uses the held-out wordings; "question" the training wording.
    """
    rng = random.Random(seed)
    items = []
    for q in questions:
        texts = [q["question"]] if field_name == "question" else q["paraphrases"][:per_question]
        for i, text in enumerate(texts):
            choices = [q["answer"], *q["distractors"]]
            order = list(range(len(choices)))
            rng.shuffle(order)
            items.append(MCItem(f"{q['id']}/{i}", text, [choices[j] for j in order], order.index(0)))
    return items


def mc_items_from_probe(probe: list[dict]) -> list[MCItem]:
    """Multiple-choice items from general-probe records.
    Example: [{"id": "g001", "question": ..., "choices": [...], "answer_index": 2}] -> [MCItem(...)]."""
    return [MCItem(p["id"], p["question"], list(p["choices"]), int(p["answer_index"])) for p in probe]


def mc_accuracy(gen, items: list[MCItem], batch_size: int = 16, return_records: bool = False, reduce: str = "sum"):
    """Share of items whose right choice has the highest log-probability.
    Example: mc_accuracy(gen, probe_items) -> 0.78."""
    scores = mc_scores(gen, [it.question for it in items], [it.choices for it in items], batch_size, reduce)
    picks = [max(range(len(s)), key=s.__getitem__) for s in scores]
    acc = sum(p == it.answer_index for p, it in zip(picks, items, strict=True)) / max(1, len(items))
    if return_records:
        records = [
            {"id": it.id, "question": it.question, "picked": it.choices[p], "right": it.choices[it.answer_index],
             "correct": p == it.answer_index}
            for it, p in zip(items, picks, strict=True)
        ]
        return acc, records
    return acc
