"""Exercises at the end of each notebook: a task, `check(answer)`, `hint()` and `solution()` (after Kaggle's
learntools).

What it holds: each notebook's exercises (`Exercise`s of `labkit.grading`), and
`for_notebook("02")`: the notebook's exercises as attributes `q1`, `q2`, ... .

Every expected answer is computed when checked, from the kit's data, its committed results
(`data/results.json`, the forgetting sweep) or labkit's own functions: never a typed number,
so an exercise stays right when the data change.

Example (notebook 01):
    >>> ex = for_notebook("01")
    >>> ex.q1.check(0.5)
    Not yet: 0.5 is chance with two choices; count the choices of one item.
    False
    >>> ex.q1.check(0.25)
    Correct: 4 choices per item, so guessing scores 1/4 = 0.25.
    True

What it leaves out: what an exercise is and how answers are graded (`labkit.grading`), and
anything that needs a model run to grade (the notebooks' own asserts check the numbers;
exercises check reading and reasoning).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

from labkit.grading import Exercise, Incorrect, close_to, equal, function_like, same_set

# ---- the exercises, by notebook -----------------------------------------------------------

def _nb01() -> dict:
    from labkit.data import load_probe
    from labkit.multiple_choice import mc_items_from_probe
    from labkit.stats import wilson_interval

    def chance():
        return 1 / len(mc_items_from_probe(load_probe(1))[0].choices)

    def interval_grade(answer, expected):
        try:
            lo, hi = (float(x) for x in answer)
        except (TypeError, ValueError):
            raise Incorrect("give the interval as two numbers: (low, high)") from None
        if abs(lo - expected[0]) < 0.01 and abs(hi - expected[1]) < 0.01:
            return (f"12 of 16 is 0.75, but the 95% interval runs from {expected[0]:.2f} to {expected[1]:.2f}: "
                    "one item more or less moves the score 0.06, so small differences between runs on 16 items mean "
                    "little.")
        sd = math.sqrt(0.75 * 0.25 / 16)
        if abs(lo - (0.75 - 1.96 * sd)) < 0.01:
            raise Incorrect("that is the normal approximation (rate ± 1.96·sd); the kit uses the Wilson interval: call "
                            "wilson_interval")
        raise Incorrect(f"({lo:.2f}, {hi:.2f}) is not the 95% Wilson interval of 12 right out of 16. Try hint().")

    return {
        "q1": Exercise(
            "Predict: the general probe is multiple choice. What accuracy does guessing at random give?",
            chance,
            close_to(0.01, lambda e: f"{round(1 / e)} choices per item, so guessing scores 1/{round(1 / e)} = {e:.2f}.",
                             {0.5: "0.5 is chance with two choices; count the choices of one item."}),
            ["Every probe item has the right answer and some distractors.",
             "len(mc_items_from_probe(load_probe(1))[0].choices) counts the choices of one item."],
            "from labkit.data import load_probe\nfrom labkit.multiple_choice import mc_items_from_probe\n"
            "answer = 1 / len(mc_items_from_probe(load_probe(1))[0].choices)"),
        "q2": Exercise(
            "A fine-tune scores 12 of 16 probe items right. Give the 95% interval of that rate as (low, high).",
            lambda: wilson_interval(12 / 16, 16), interval_grade,
            ["labkit.stats has the interval the kit prints everywhere.", "wilson_interval(rate, n)"],
            "from labkit.stats import wilson_interval\nanswer = wilson_interval(12 / 16, 16)"),
    }


def _nb02() -> dict:
    from labkit.config import KB_DIR
    from labkit.corpus import CHUNK_OVERLAP, CHUNK_SIZE, chunk_corpus
    from labkit.documents import load_folder
    from labkit.evaluate import recall_at_k

    def chunks(chunk_size=64, overlap=16):
        return len(chunk_corpus(load_folder(KB_DIR), chunk_size=chunk_size, overlap=overlap))

    def why_chunks(e):
        notebook = chunks(CHUNK_SIZE, CHUNK_OVERLAP)  # the notebook's setting
        ratio = e / notebook
        return (f"{e} chunks, {ratio:.1f} times the {notebook} at chunk_size {CHUNK_SIZE}: "
                + ("more than twice, because the overlap repeats words in every chunk and sections end in short chunks."
                   if ratio > 2
                   else f"not quite twice, because many sections are shorter than {CHUNK_SIZE} words and fit one "
                   "chunk either way."))

    cases = [(["a", "b", "c"], {"b"}, 1), (["a", "b", "c"], {"b"}, 2), (["a", "b"], {"c"}, 2),
             (["a", "b", "c"], {"a", "c"}, 3), (["x", "y"], ["y"], 5)]
    return {
        "q1": Exercise(
            "Predict, then count: how many chunks does the knowledge base give with chunk_size=64 and overlap=16? "
            f"(The notebook used {CHUNK_SIZE} and {CHUNK_OVERLAP}.) Is it about twice as many, more, or fewer, "
            "and why?",
            chunks,
            close_to(
                0.0,
                why_chunks,
                {lambda e: e * 0.5: "that is about half: a smaller chunk_size gives more chunks, not fewer."},
            ),
            ["chunk_corpus(load_folder(KB_DIR), chunk_size=..., overlap=...) returns the chunks."],
            "from labkit.config import KB_DIR\nfrom labkit.corpus import chunk_corpus\nfrom labkit.documents import "
            "load_folder\n"
            "answer = len(chunk_corpus(load_folder(KB_DIR), chunk_size=64, overlap=16))",
        ),
        "q2": Exercise(
            "Write recall(retrieved, gold, k): 1.0 if any of the first k retrieved document ids is a gold one, else "
            "0.0. "
            "Check it by passing the function itself: q2.check(recall).",
            lambda: None,
            function_like(
                recall_at_k,
                cases,
                "it agrees with labkit.evaluate.recall_at_k on every case, "
                "including k larger than the list and several gold "
                "documents.",
            ),
            ["Look only at retrieved[:k].", "return float(any(doc in set(gold) for doc in retrieved[:k]))"],
            "def recall(retrieved, gold, k):\n    return float(any(doc in set(gold) for doc in "
            "retrieved[:k]))\nq2.check(recall)",
        ),
    }


def _nb03() -> dict:
    from labkit.data import load_updates

    return {
        "q1": Exercise(
            "Which documents does data/updates.jsonl change? Give their doc_ids (a list or set): "
            "only these are re-embedded by an index update.",
            lambda: {u["doc_id"] for u in load_updates()},
            same_set(lambda e: f"{len(e)} documents; the rest of the index is untouched, which is why an update takes "
                     "seconds."),
            ["labkit.data.load_updates() returns one record per changed fact.",
             "Each record has a doc_id; some documents change twice."],
            "from labkit.data import load_updates\nanswer = {u['doc_id'] for u in load_updates()}"),
        "q2": Exercise(
            "Predict: after an update, a RAG answer still gives the old value. Which is the likelier cause: "
            "'retrieval' (the updated chunk was not among the sources) or 'index' (the index still holds the old "
            "text)? "
            "Answer 'retrieval' or 'index'.",
            lambda: "retrieval",
            equal(lambda e: "apply_updates deletes the document's old chunks and embeds the new text, so the old value "
                  "can only "
                            "come from the model itself or from another chunk retrieved instead.",
                  lambda a,
                  e: "the index no longer holds the old text: apply_updates deletes the old chunks before adding the "
                  "new ones "
                               "(see share_new and the retrieved sources above)."),
            ["Read what apply_updates does to a changed document's chunks."],
            "answer = 'retrieval'  # apply_updates replaces the whole document's chunks"),
    }


def _nb04() -> dict:
    import torch

    def lora_forward_reference(x, W, A, B, alpha, rank):
        return x @ W.T + (alpha / rank) * (x @ A.T @ B.T)

    g = torch.Generator().manual_seed(0)
    x, W = torch.randn(3, 6, generator=g), torch.randn(5, 6, generator=g)
    A, B = torch.randn(2, 6, generator=g), torch.randn(5, 2, generator=g)

    def same_tensor(answer, expected):
        if not callable(answer):
            raise Incorrect("pass your function itself (its name, without brackets)")
        try:
            got = answer(x, W, A, B, 16.0, 2)
        except Exception as exc:  # the learner's code
            raise Incorrect(f"your function raised {type(exc).__name__}: {exc}") from None
        want = lora_forward_reference(x, W, A, B, 16.0, 2)
        if not torch.is_tensor(got):
            raise Incorrect(f"your function returned {type(got).__name__}; it should return the output tensor (batch × "
                            "d_out)")
        if tuple(got.shape) != tuple(want.shape):
            raise Incorrect(
                f"the output has shape {tuple(got.shape)}; it should be {tuple(want.shape)} (batch × d_out)")
        if torch.allclose(got, x @ W.T + x @ A.T @ B.T, atol=1e-4):
            raise Incorrect("the update is not scaled: LoRA multiplies B·A·x by alpha / rank")
        if not torch.allclose(got, want, atol=1e-4):
            raise Incorrect("the numbers differ from W·x + (alpha / rank)·B·A·x; check the order of the products")
        return "W stays frozen; only A (rank × d_in) and B (d_out × rank) train, and alpha / rank scales their product."

    return {
        "q1": Exercise(
            "SmolLM2-135M's q_proj is a 576 × 576 matrix. How many parameters does a rank-8 LoRA adapter train on it?",
            lambda: 8 * (576 + 576),
            close_to(0.0,
                     lambda e: f"{e}: A is 8 × 576 and B is 576 × 8, {e / 576 ** 2:.1%} of the matrix's {576 ** 2} "
                     "weights.",
                     {576 * 576: "that is the whole matrix: LoRA trains two thin matrices beside it",
                      8 * 576: "that is one of the two matrices (A); B trains too"}),
            ["LoRA adds B·A with A of shape rank × d_in and B of shape d_out × rank.", "rank × (d_in + d_out)"],
            "answer = 8 * (576 + 576)"),
        "q2": Exercise(
            "Write lora_forward(x, W, A, B, alpha, rank): a linear layer W (d_out × d_in) plus the LoRA update, for a "
            "batch x "
            "(batch × d_in). Check it with q2.check(lora_forward).",
            lambda: None, same_tensor,
            ["x @ W.T is the frozen layer.", "The update is x @ A.T @ B.T, scaled by alpha / rank."],
            "def lora_forward(x, W, A, B, alpha, rank):\n    return x @ W.T + (alpha / rank) * (x @ A.T @ "
            "B.T)\nq2.check(lora_forward)"),
    }


def _nb05() -> dict:
    from labkit.data import load_sweep
    from labkit.forgetting import drop_and_gain, probe_change, sweep_runs

    def lora_runs():
        sweep = load_sweep()
        runs = [r for r in sweep_runs(sweep, "lora", replay=0.0) if r["entry"].get("rank")]
        return sweep, runs

    def most_forgetful():
        _, runs = lora_runs()
        return max(runs, key=lambda r: drop_and_gain(r)["drop"])["entry"]["rank"]

    def measurable():
        sweep, runs = lora_runs()
        run = max(runs, key=lambda r: drop_and_gain(r)["drop"])
        # the whole-probe final scores where the run has them
        return probe_change(run, sweep["setup"]["num_probe"])["measurable"]

    return {
        "q1": Exercise(
            "In the shipped sweep (without replay), which LoRA rank lost the most general knowledge (the largest "
            "general_acc drop)? "
            "Give the rank.",
            most_forgetful, equal(lambda e: f"rank {e}; now look at its interval before calling it a trend (q2)."),
            ["sweep_runs(load_sweep(), 'lora', replay=0.0) lists the runs; drop_and_gain(run)['drop'] is the loss."],
            "from labkit.data import load_sweep\nfrom labkit.forgetting import drop_and_gain, sweep_runs\n"
            "runs = sweep_runs(load_sweep(), 'lora', replay=0.0)\n"
            "answer = max(runs, key=lambda r: drop_and_gain(r)['drop'])['entry']['rank']"),
        "q2": Exercise(
            "Is that run's drop measurable? Each run's final scores are in run['final']: general_acc_before and "
            "general_acc_after "
            "over run['final']['n_probe'] probe items (the whole probe). Answer True if their 95% Wilson intervals do "
            "not overlap, else False.",
            measurable,
            equal(lambda e: ("the intervals do not overlap: a measurable loss." if e else
                             "the intervals overlap: on this many probe items the drop is no measurable difference; "
                             "notebook 05's live run scores the whole probe for that reason."),
                  lambda a, e: "compute both intervals with wilson_interval(rate, n) and compare their ends."),
            ["One item moves the score 1/n.",
             "wilson_interval(run['final']['general_acc_before'], n) and the same for general_acc_after."],
            "from labkit.data import load_sweep\nfrom labkit.stats import wilson_interval\n"
            "from labkit.forgetting import drop_and_gain, sweep_runs\nsweep = load_sweep()\n"
            "run = max(sweep_runs(sweep, 'lora', replay=0.0), key=lambda r: drop_and_gain(r)['drop'])\nf = "
            "run['final']\n"
            "(lo1, hi1) = wilson_interval(f['general_acc_before'], f['n_probe'])\n"
            "(lo2, hi2) = wilson_interval(f['general_acc_after'], f['n_probe'])\nanswer = not (lo1 <= hi2 and lo2 <= "
            "hi1)"),
    }


def _nb06() -> dict:
    from labkit.data import load_shipped

    def ahead():
        d = load_shipped().get("differences") or {}
        return {a for a, x in d.items() if x["measurable"] and x["diff"] > 0}

    def freshest():
        fr = load_shipped()["freshness"]
        return max((k for k, v in fr.items() if isinstance(v, dict) and "new" in v), key=lambda k: fr[k]["new"]["mean"])

    return {
        "q1": Exercise(
            "In the shipped full run (load_shipped()), which approaches are *measurably* ahead of RAG on accuracy on "
            "the taught column (the questions the fine-tunes were taught)? Give a set of names (an empty set if "
            "none).",
            ahead,
            same_set(lambda e: f"{sorted(e) or 'none'}: the others' differences from RAG have intervals that include "
                     "zero."),
            ["results['differences'][name] holds diff, lo, hi and measurable.",
             "Keep the names whose difference is measurable and positive."],
            "from labkit.data import load_shipped\nd = load_shipped()['differences']\n"
            "answer = {a for a, x in d.items() if x['measurable'] and x['diff'] > 0}"),
        "q2": Exercise(
            "After the facts change, which row of the shipped freshness table gives the new value most often? Give its "
            "name.",
            freshest, equal(lambda e: f"{e}; compare what it cost to get there (index update or retraining seconds)."),
            ["results['freshness'] maps each row to its 'new' and 'old' shares."],
            "from labkit.data import load_shipped\nfr = load_shipped()['freshness']\n"
            "answer = max((k for k, v in fr.items() if isinstance(v, dict) and 'new' in v), key=lambda k: "
            "fr[k]['new']['mean'])"),
    }


def _nb07() -> dict:
    from labkit.candidates import CHANGES_PER_YEAR
    from labkit.choose import recommend
    from labkit.data import load_shipped

    answers = {"need": "knowledge", "change": "never", "traceability": "nice to have", "compute": "no training",
               "latency_s": 60}
    return {
        "q1": Exercise(
            "Predict, then ask the guide: knowledge that never changes, traceability nice to have, no training budget. "
            "Which approach does choose.recommend pick on the shipped results? Give its scoreboard name.",
            lambda: recommend(answers, load_shipped()).approach,
            equal(lambda e: f"{e}: with no training budget every trained row is excluded, whatever its accuracy.",
                  lambda a,
                  e: f"{a!r} is not what the guide picks; print(recommend(answers, results).text()) and read its "
                  "reasons."),
            ["choose.recommend(answers, results) returns a Recommendation; its .approach is the row."],
            "from labkit.choose import recommend\nfrom labkit.data import load_shipped\n"
            f"answers = {answers!r}\nanswer = recommend(answers, load_shipped()).approach"),
        "q2": Exercise(
            "Keeping a fine-tune current by retraining after every weekly change: how many seconds of this CPU a year? "
            "Use the shipped results' measured retraining time (results['freshness']['retrain_s']['mean']).",
            lambda: CHANGES_PER_YEAR["weekly or faster"] * load_shipped()["freshness"]["retrain_s"]["mean"],
            close_to(0.02,
                     lambda e: f"about {e:.0f} s ({e / 3600:.1f} h) a year, against seconds for an index update each "
                     "time.",
                     {lambda e: e / 52 * 12: "that is monthly (12 a year); weekly is 52"}),
            ["A year has 52 weeks.", "52 × retrain_s"],
            "from labkit.data import load_shipped\nanswer = 52 * load_shipped()['freshness']['retrain_s']['mean']"),
    }


NOTEBOOKS = {"01": _nb01, "02": _nb02, "03": _nb03, "04": _nb04, "05": _nb05, "06": _nb06, "07": _nb07}


def for_notebook(number: str) -> SimpleNamespace:
    """The exercises of one notebook as q1, q2, ... . Example: for_notebook("04").q1.check(9216) -> True."""
    if number not in NOTEBOOKS:
        raise ValueError(f"no exercises for notebook {number!r}; choose one of {', '.join(NOTEBOOKS)}")
    return SimpleNamespace(**NOTEBOOKS[number]())
