"""labkit.multiple_choice: the fast scorer equals a plain one, in float32 and near it in bf16; items keep their
answer."""

import pytest
import torch

from labkit import multiple_choice as mc


def reference_mc_logprobs(gen, questions, choices):
    """The plain multiple-choice scorer the fast one must equal: one row per (question, choice), no cache, no
    batching."""
    tok, scores = gen.tokenizer, []
    for question, opts in zip(questions, choices, strict=True):
        prompt = tok(gen.chat_prompt(question), add_special_tokens=False)["input_ids"]
        row = []
        for choice in opts:
            ids = tok(str(choice), add_special_tokens=False)["input_ids"] or [tok.eos_token_id]
            with torch.no_grad():
                logits = gen.model(input_ids=torch.tensor([prompt + ids])).logits[0].float()
            logp = torch.log_softmax(logits[len(prompt) - 1 : len(prompt) + len(ids) - 1], dim=-1)
            row.append(logp[torch.arange(len(ids)), torch.tensor(ids)].sum().item())
        scores.append(row)
    return scores


@pytest.mark.parametrize("source", ["qa", "probe"])
def test_mc_scores_equal_the_plain_reference(generator, source, monkeypatch):
    from labkit.data import load_probe, load_qa, spread

    monkeypatch.setattr(generator, "precision", "float32")  # the reference runs float32: the check is of the algorithm
    monkeypatch.setenv("LABKIT_SCORE_CACHE", "0")  # computed here, not read from a cache (tests/test_score_cache.py)
    items = mc.mc_items_from_qa(spread(load_qa(), 4)) if source == "qa" else mc.mc_items_from_probe(spread(load_probe(),
                                                                                                           4))
    qs, cs = [it.question for it in items], [it.choices for it in items]
    fast, slow = mc.mc_scores(generator, qs, cs), reference_mc_logprobs(generator, qs, cs)
    assert sum(fast, []) == pytest.approx(sum(slow, []), abs=1e-3)


def test_bfloat16_scoring_stays_near_float32(generator, monkeypatch):
    from labkit.data import load_probe, spread

    items = mc.mc_items_from_probe(spread(load_probe(), 8))
    qs, cs = [it.question for it in items], [it.choices for it in items]
    monkeypatch.setenv("LABKIT_SCORE_CACHE", "0")  # both computed here
    monkeypatch.setattr(generator, "precision", "float32")
    exact = sum(mc.mc_scores(generator, qs, cs), [])
    monkeypatch.setattr(generator, "precision", "bfloat16")
    fast = sum(mc.mc_scores(generator, qs, cs), [])
    assert fast != exact  # bf16 matmuls really ran (on every CPU: emulated where the hardware lacks them)
    assert fast == pytest.approx(exact, abs=0.5)  # log-probabilities of a few tokens: bf16 moves them by hundredths


def test_mc_accuracy_knows_easy_facts_and_is_batch_invariant(generator):
    items = [
        mc.MCItem("1", "What is the capital of France?", ["Berlin", "Paris", "Rome", "Madrid"], 1),
        mc.MCItem("2", "Who painted the Mona Lisa?",
                  ["Vincent van Gogh", "Pablo Picasso", "Leonardo da Vinci", "Claude Monet"], 2),
    ]
    acc, records = mc.mc_accuracy(generator, items, return_records=True)
    assert acc == 1.0 and all(r["correct"] for r in records)
    assert [r["picked"] for r in records] == ["Paris", "Leonardo da Vinci"]
    a = mc.mc_scores(generator, [i.question for i in items], [i.choices for i in items], batch_size=8)
    b = mc.mc_scores(generator, [i.question for i in items], [i.choices for i in items], batch_size=1)
    assert sum(a, []) == pytest.approx(sum(b, []), abs=1e-3)


def test_mc_items_from_qa_keeps_answer_and_hides_position():
    qa = [{"id": f"q{i}", "question": "Q?", "paraphrases": ["P?", "P2?"], "answer": "A", "distractors": ["B", "C", "D"]}
          for i in range(20)]
    items = mc.mc_items_from_qa(qa, per_question=2)
    assert len(items) == 40
    assert all(it.choices[it.answer_index] == "A" for it in items)
    assert len({it.answer_index for it in items}) > 1  # seeded shuffle spreads the right answer
    assert all(it.question.startswith("P") for it in items)  # held-out wording only


