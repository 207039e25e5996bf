import pytest
import torch

from labkit import evaluate as ev


@pytest.mark.parametrize(
    "text, expected",
    [("The $89 Kettle!", "89 kettle"), ("  a  B  c ", "b c"), ("Hollin-Tarn", "hollintarn")],
)
def test_normalize_answer(text, expected):
    assert ev.normalize_answer(text) == expected


@pytest.mark.parametrize(
    "prediction, answers, expected",
    [
        ("It costs $89.", ["$89"], True),
        ("It costs $899.", ["$89"], False),
        ("thirty days", ["30 days", "thirty days"], True),
        ("", ["x"], False),
        ("The answer is Paris [1].", "paris", True),
    ],
)
def test_is_match(prediction, answers, expected):
    assert ev.is_match(prediction, answers) is expected


def test_token_f1():
    assert ev.token_f1("blue and red", ["red"]) == pytest.approx(0.5)
    assert ev.token_f1("red", ["red", "blue"]) == 1.0
    assert ev.token_f1("green", ["red"]) == 0.0


@pytest.mark.parametrize("answer, right", [
    ("The Drumlin Toaster is heavier.", True),
    ("The Drumlin Toaster is heavier than the Brimble Kettle.", True),
    ("Which is heavier, the Brimble Kettle or the Drumlin Toaster?", False),  # the question restated: both named, rival first
    ("The Brimble Kettle is heavier than the Drumlin Toaster.", False),
    ("The Brimble Kettle.", False),
])
def test_a_comparison_answer_must_pick_an_option(answer, right):
    assert ev.is_right(answer, ["Drumlin Toaster"], ["Brimble Kettle"]) is right
    assert ev.is_match(answer, ["Drumlin Toaster"]) is ("Drumlin" in answer)  # plain matching would pass every restatement


def test_scored_answers_use_the_record_rivals():
    q = {"id": "q1/0", "asked": "Which is heavier?", "answer": "Drumlin Toaster", "aliases": [], "rivals": ["Brimble Kettle"]}
    restated, picked = ev.score_answers([q, q], ["The Brimble Kettle or the Drumlin Toaster.", "The Drumlin Toaster."])
    assert (restated["match"], picked["match"]) == (False, True)


def test_retrieval_metrics():
    assert ev.recall_at_k(["a", "a", "b", "c"], ["b"], 2) == 1.0  # duplicates of a document count once
    assert ev.recall_at_k(["a", "c"], ["b", "c"], 2) == 0.5
    assert ev.reciprocal_rank(["a", "b"], ["b"]) == 0.5
    assert ev.reciprocal_rank(["a"], ["z"]) == 0.0


def reference_mc_logprobs(gen, questions, choices):
    """The plain multiple-choice scorer the fast one must equal: one row per (question, choice), no cache, no batching."""
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
    items = ev.mc_items_from_qa(spread(load_qa(), 4)) if source == "qa" else ev.mc_items_from_probe(spread(load_probe(), 4))
    qs, cs = [it.question for it in items], [it.choices for it in items]
    fast, slow = ev.mc_scores(generator, qs, cs), reference_mc_logprobs(generator, qs, cs)
    assert sum(fast, []) == pytest.approx(sum(slow, []), abs=1e-3)


def test_bfloat16_scoring_stays_near_float32(generator, monkeypatch):
    from labkit.data import load_probe, spread

    items = ev.mc_items_from_probe(spread(load_probe(), 8))
    qs, cs = [it.question for it in items], [it.choices for it in items]
    monkeypatch.setattr(generator, "precision", "float32")
    exact = sum(ev.mc_scores(generator, qs, cs), [])
    monkeypatch.setattr(generator, "precision", "bfloat16")
    fast = sum(ev.mc_scores(generator, qs, cs), [])
    assert fast != exact  # bf16 matmuls really ran (on every CPU: emulated where the hardware lacks them)
    assert fast == pytest.approx(exact, abs=0.5)  # log-probabilities of a few tokens: bf16 moves them by hundredths


def test_unknown_precision_says_what_to_use(generator, monkeypatch):
    monkeypatch.setattr(generator, "precision", "fp8")
    with pytest.raises(ValueError, match="LABKIT_PRECISION"):
        generator.generate("Hi", max_new_tokens=2)


def test_mc_accuracy_knows_easy_facts_and_is_batch_invariant(generator):
    items = [
        ev.MCItem("1", "What is the capital of France?", ["Berlin", "Paris", "Rome", "Madrid"], 1),
        ev.MCItem("2", "Who painted the Mona Lisa?", ["Vincent van Gogh", "Pablo Picasso", "Leonardo da Vinci", "Claude Monet"], 2),
    ]
    acc, records = ev.mc_accuracy(generator, items, return_records=True)
    assert acc == 1.0 and all(r["correct"] for r in records)
    assert [r["picked"] for r in records] == ["Paris", "Leonardo da Vinci"]
    a = ev.mc_scores(generator, [i.question for i in items], [i.choices for i in items], batch_size=8)
    b = ev.mc_scores(generator, [i.question for i in items], [i.choices for i in items], batch_size=1)
    assert sum(a, []) == pytest.approx(sum(b, []), abs=1e-3)


def test_share_new_counts_new_and_old_values():
    items = [{"qa_id": "q1", "answer": "$89"}, {"qa_id": "q1", "answer": "$89"}, {"qa_id": "q1", "answer": "$89"}, {"qa_id": "q1", "answer": "$89"}]
    answers = ["It costs $95.", "It costs $89.", "It was $89, now $95.", "No idea."]
    assert ev.share_new(answers, items, {"q1": "$95"}) == {"new": 0.5, "old": 0.5}


def test_mc_items_from_qa_keeps_answer_and_hides_position():
    qa = [{"id": f"q{i}", "question": "Q?", "paraphrases": ["P?", "P2?"], "answer": "A", "distractors": ["B", "C", "D"]} for i in range(20)]
    items = ev.mc_items_from_qa(qa, per_question=2)
    assert len(items) == 40
    assert all(it.choices[it.answer_index] == "A" for it in items)
    assert len({it.answer_index for it in items}) > 1  # seeded shuffle spreads the right answer
    assert all(it.question.startswith("P") for it in items)  # held-out wording only


def test_evaluate_answers_records_and_summary():
    qa = [{"id": "q1", "question": "Q", "paraphrases": ["Price of X?"], "answer": "$89", "aliases": []}]
    result = ev.evaluate_answers(lambda q: {"answer": "It is $89 [1].", "sources": [1]}, qa)
    assert result.summary["accuracy"] == 1.0 and result.summary["n"] == 1
    assert result.records[0]["sources"] == [1] and result.records[0]["question"] == "Price of X?"


def test_pad_right_pads_ids_and_masks_only_the_padding():
    from labkit.evaluate import pad_right

    ids, mask = pad_right([[5, 6, 7], [8]], 0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    labels, _ = pad_right([[-100, 9], [4, 4, 4, 4]], -100)
    assert labels.tolist() == [[-100, 9, -100, -100], [4, 4, 4, 4]]


@pytest.mark.parametrize("rate, n, lo, hi", [(0.5, 40, 0.352, 0.648), (0.0, 15, 0.0, 0.2039), (1.0, 15, 0.7961, 1.0), (0.27, 59, 0.1734, 0.3947)])
def test_wilson_interval(rate, n, lo, hi):
    assert ev.wilson_interval(rate, n) == pytest.approx((lo, hi), abs=1e-3)


def test_paired_bootstrap_separates_a_real_difference_from_noise():
    real = ev.paired_bootstrap([1.0] * 30 + [0.0] * 10, [0.0] * 30 + [0.0] * 10)
    assert real["diff"] == 0.75 and real["measurable"] and 0.55 <= real["lo"] < 0.75 < real["hi"] <= 0.9
    noise = ev.paired_bootstrap([1.0, 0.0] * 10, [0.0, 1.0] * 10)
    assert noise["diff"] == 0.0 and not noise["measurable"] and noise["lo"] < 0 < noise["hi"]
    assert ev.paired_bootstrap([1, 0, 1], [0, 0, 1], seed=3) == ev.paired_bootstrap([1, 0, 1], [0, 0, 1], seed=3)
    with pytest.raises(ValueError):
        ev.paired_bootstrap([1], [1, 0])


def test_share_in_sources_looks_for_the_value_itself():
    from types import SimpleNamespace as NS

    def answer(*texts):
        return NS(sources=[NS(text=t) for t in texts])
    answers = [answer("The Brimble Kettle costs $95."), answer("The lamp has a warranty of 5 years.", "Opening times.")]
    assert ev.share_in_sources(answers, ["$95", "7 years"]) == 0.5  # the last word ("years") alone would have counted both
    assert ev.share_in_sources([], []) == 0.0


@pytest.mark.parametrize(("a", "b", "overlap"), [((0.64, 0.97), (0.28, 0.72), True), ((0.64, 0.97), (0.18, 0.61), False),
                                                 ((0.2, 0.4), (0.4, 0.6), True), ((0.5, 0.6), (0.1, 0.2), False)])
def test_intervals_overlap_is_symmetric(a, b, overlap):
    assert ev.intervals_overlap(a, b) is overlap and ev.intervals_overlap(b, a) is overlap


def test_miss_split_separates_retrieval_from_reading_and_adds_up():
    records = [{"match": True, "retrieved_gold": True}, {"match": True, "retrieved_gold": False},
               {"match": False, "retrieved_gold": True}, {"match": False, "retrieved_gold": True}, {"match": False, "retrieved_gold": False}]
    split = ev.miss_split(records)
    assert split == {"right": 0.4, "retrieval_miss": 0.2, "reading_miss": 0.4, "n": 5}
    assert split["right"] + split["retrieval_miss"] + split["reading_miss"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="RAG records"):
        ev.miss_split([{"match": False}])  # closed-book records have no sources


def test_summarize_gives_every_accuracy_its_n_and_interval():
    records = [{"match": m, "f1": float(m), "seconds": 0.1} for m in [True] * 3 + [False] * 7]
    summary = ev.summarize(records)
    assert summary["n"] == 10 and summary["accuracy"] == 0.3
    assert summary["accuracy_95"] == ev.wilson_interval(0.3, 10) and summary["accuracy_95"][0] < 0.3 < summary["accuracy_95"][1]
    assert ev.summarize([])["accuracy_95"] == (0.0, 1.0)  # no answers: nothing is known
