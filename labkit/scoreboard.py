"""The scoreboard: how one row is scored, and how seed runs become means, spreads, intervals and paired differences.

What it holds:
- a row's record: `score_closed_book` / `score_rag` (accuracy, F1, `multi_document`, MC, the general
  probe, traceability, where wrong answers come from, latency, prompt tokens, each on the held-out
  paraphrases of the taught questions) and `row_costs` (its one-off costs: the index, the training);
- the arithmetic over seeds: `METRICS` (the columns), `aggregate` (mean and spread over seeds of every
  metric, each rate with its n and 95% Wilson interval; the freshness figures likewise) and
  `differences` (each approach's accuracy minus RAG's, paired by question, with a 95% bootstrap
  interval over questions). The rows' names are `labkit.keys`'.

What it leaves out: training and running the rows (`labkit.rows`, `labkit.freshness`, `labkit.compare`),
the metrics themselves (`labkit.evaluate`), and writing it down (`labkit.report`).

Example: aggregate(seed_runs)["scoreboard"]["RAG"]["accuracy"]
    -> {"mean": 0.27, "spread": 0.0, "n": 59, "lo": 0.17, "hi": 0.40}
"""

from __future__ import annotations

import statistics

from labkit.data import needs_two_documents, unseen_documents
from labkit.evaluate import METRIC_LABELS, MISS_LABELS, RATE_N, EvalResult, miss_split, summarize
from labkit.keys import APPROACHES, Approach
from labkit.multiple_choice import mc_accuracy, mc_items_from_qa
from labkit.rag import RAG, evaluate_closed_book, evaluate_rag
from labkit.stats import paired_bootstrap, wilson_interval

COLUMNS = ("taught", "untaught")  # the questions every fine-tune was taught, and those touching an unseen document
METRICS = tuple(METRIC_LABELS) + tuple(MISS_LABELS)  # aggregated per row (closed-book rows have no miss split: n/a)

# ---------------------------------------------------------------- one row


def multi_document(records: list[dict], questions: list[dict]) -> dict:
    """Accuracy on the questions whose answer needs two documents (e.g. "Which is heavier, the Brimble Kettle or the
    Drumlin Toaster?"), and how many answers that is: reasoning across documents as its own column.

    Example: multi_document(ev.records, qs) -> {"multi_acc": 0.25, "n_multi": 4}
    """
    multi = {q["id"] for q in questions if needs_two_documents(q)}
    picked = [r for r in records if r["id"].split("/")[0] in multi]
    return {"multi_acc": round(sum(r["match"] for r in picked) / len(picked), 4) if picked else None,
            "n_multi": len(picked)}


def split_columns(records: list[dict], untaught: list[dict]) -> tuple[list[dict], list[dict]]:
    """Answer records of taught and of untaught questions, each record labelled with its column.

    Example: split_columns(ev.records, untaught)[1][0]["column"] -> "untaught"
    """
    ids = {q["id"] for q in untaught}
    for r in records:
        r["column"] = "untaught" if r["id"].split("/")[0] in ids else "taught"
    return [r for r in records if r["column"] == "taught"], [r for r in records if r["column"] == "untaught"]


def untaught_score(records: list[dict]) -> dict:
    """The untaught column: accuracy on the questions nobody trained on, and its n.
    Example: -> {"untaught_acc": 0.21, "n_untaught": 75}."""
    return {"untaught_acc": round(sum(r["match"] for r in records) / len(records), 4) if records else None,
            "n_untaught": len(records)}


def score_closed_book(gen, questions: list[dict], probe_items: list, max_new_tokens: int,
                      untaught: list[dict] = ()) -> dict:
    """A closed-book row: accuracy (taught questions), F1, MC accuracy, general probe, latency, prompt tokens, and the
    accuracy on the `untaught` questions (asked in the same batch).
    Example: score_closed_book(gen, qs, probe, 32)["accuracy"] -> 0.06
    """
    ev = evaluate_closed_book(gen, [*questions, *untaught], max_new_tokens=max_new_tokens)
    taught_records, untaught_records = split_columns(ev.records, list(untaught))
    ev = EvalResult(taught_records, summarize(taught_records))
    mc_items = mc_items_from_qa(questions)
    general = probe_score(gen, probe_items)
    return {"accuracy": ev.summary["accuracy"], **untaught_score(untaught_records), "f1": ev.summary["f1"],
            **multi_document(ev.records, questions), "mc_acc": round(mc_accuracy(gen, mc_items), 4),
            "cited": 0.0, "cited_by_model": 0.0, "cited_gold": 0.0, "cited_gold_by_model": 0.0,
            **general, "n": len(ev.records), "n_mc": len(mc_items),
            "latency_p50_s": ev.summary["latency_p50_s"],
            "prompt_tokens": statistics.median(gen.count_tokens(gen.chat_prompt(r["question"])) for r in ev.records),
            "records": ev.records + untaught_records}


def probe_score(gen, probe_items: list) -> dict:
    """The general probe (forgetting): the model's accuracy, its n, and which items it got right (what the paired
    bootstrap of two rows' probe scores resamples). Example: probe_score(gen, probe)["general_acc"] -> 0.81
    """
    acc, records = mc_accuracy(gen, probe_items, return_records=True)
    return {"general_acc": round(acc, 4), "n_probe": len(probe_items),
            "probe_records": {r["id"]: int(r["correct"]) for r in records}}


def score_rag(rag_system: RAG, questions: list[dict], general_acc: float, n_probe: int, untaught: list[dict] = (),
              probe_records: dict | None = None) -> dict:
    """A RAG row: accuracy, F1, where wrong answers come from (retrieval or reading), traceability, latency, prompt
    tokens (all on the taught questions), and the accuracy on the `untaught` ones (asked in the same batch); MC is n/a.

    Example: score_rag(RAG(index, gen), qs, 0.6, 40)["cited_gold"] -> 0.81
    `general_acc` is the probe score (over n_probe items) of the model that answers: RAG leaves
    a model's weights as they are. Traceability is counted twice: citations the model wrote
    (`cited_by_model`, `cited_gold_by_model`) and those including the ones labkit attributed
    afterwards by word overlap (`cited`, `cited_gold`), which are 1.00 by construction. MC is n/a
    because it measures what a model *stores*; with sources in the prompt it would measure
    reading, which the open-answer accuracy already does.
    """
    by_id = {q["id"]: q for q in questions}
    ev = evaluate_rag(rag_system, [*questions, *untaught])
    taught_records, untaught_records = split_columns(ev.records, list(untaught))
    ev = EvalResult(taught_records, summarize(taught_records))
    n = max(1, len(ev.records))

    def gold(r):
        return any(r["sources"][c - 1] in by_id[r["id"].split("/")[0]]["doc_ids"] for c in r["cited"])

    def share(test):
        return round(sum(bool(test(r)) for r in ev.records) / n, 4)

    split = miss_split(ev.records)
    return {"accuracy": ev.summary["accuracy"], **untaught_score(untaught_records), "f1": ev.summary["f1"],
            **multi_document(ev.records, questions), "mc_acc": None,
            "retrieval_miss": split["retrieval_miss"], "reading_miss": split["reading_miss"],
            "cited": share(lambda r: r["cited"]),
            "cited_by_model": share(lambda r: r["cited"] and r["cited_by"] == "model"),
            "cited_gold": share(gold), "cited_gold_by_model": share(lambda r: r["cited_by"] == "model" and gold(r)),
            "general_acc": general_acc, "n": len(ev.records), "n_probe": n_probe,
            **({"probe_records": probe_records} if probe_records else {}),
            "latency_p50_s": ev.summary["latency_p50_s"],
            "prompt_tokens": statistics.median(r["prompt_tokens"] for r in ev.records),
            "records": ev.records + untaught_records}


def row_costs(index_info: dict, rag: bool, train_s: float = 0.0, adapter_bytes: int = 0) -> dict:
    """A row's one-off costs: the index (RAG rows only: `index_info` is `rows.measure_index`'s) and the training.

    Example: row_costs({"index_build_s": 4.1, "index_bytes": 1480000}, rag=False)["index_bytes"] -> 0
    """
    return {"index_build_s": index_info["index_build_s"] if rag else 0.0,
            "index_bytes": index_info["index_bytes"] if rag else 0, "train_s": train_s, "adapter_bytes": adapter_bytes}


# ---------------------------------------------------------------- over seeds


def _stats(values: list, n: int | None = None) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = sum(values) / len(values)
    spread_ = statistics.stdev(values) if len(values) > 1 else 0.0
    out = {"mean": round(mean, 4), "spread": round(spread_, 4)}
    if n:  # a rate: its n and the 95% Wilson interval of the mean over the n items
        out["n"] = n
        out["lo"], out["hi"] = wilson_interval(mean, n)
    return out


def aggregate(seed_runs: list[dict]) -> dict:
    """Mean and spread (sample standard deviation; 0 for one seed) of every metric over seeds; rates get n and a 95%
    interval.

    Example: aggregate([{"rows": {"RAG": {"accuracy": 0.6, "n": 40}}}, {"rows": {"RAG": {"accuracy": 0.8, "n":
        40}}}])["scoreboard"]["RAG"]["accuracy"]
    -> {"mean": 0.7, "spread": 0.1414, "n": 40, "lo": 0.5457, "hi": 0.8193}
    """
    approaches = [a for a in APPROACHES if any(a in r["rows"] for r in seed_runs)]

    def n_of(a, m):
        return next((r["rows"][a].get(RATE_N[m]) for r in seed_runs if a in r["rows"]),
                    None) if m in RATE_N and m != "f1" else None

    board = {a: {m: _stats([r["rows"][a].get(m) for r in seed_runs if a in r["rows"]], n_of(a, m)) for m in METRICS}
             for a in approaches}
    fresh_runs = [r["freshness"] for r in seed_runs if r.get("freshness")]
    fresh = None
    if fresh_runs:
        keys = [k for k, v in fresh_runs[0].items() if isinstance(v, dict)]
        n = fresh_runs[0]["n_questions"]  # answers asked about the changed facts
        fresh = {k: {"new": _stats([f[k]["new"] for f in fresh_runs], n),
                     "old": _stats([f[k]["old"] for f in fresh_runs], n)} for k in keys}
        for k in ("update_s", "update_per_document_s", "retrain_s", "n_updates", "n_questions", "num_retrain_steps"):
            fresh[k] = _stats([f[k] for f in fresh_runs if k in f])
        for k in ("kept_acc_before", "kept_acc_after"):  # the unchanged facts, before and after the update training
            if k in fresh_runs[0]:
                fresh[k] = _stats([f[k] for f in fresh_runs], fresh_runs[0]["n_kept"])
    return {"scoreboard": board, "freshness": fresh}


def per_question(seed_runs: list[dict], approach: str, column: str = "taught") -> dict:
    """One approach's match per question of one column (taught or untaught), averaged over seeds.

    Example: per_question(runs, "RAG", "untaught") -> {"q003": 1.0, "q007": 0.0, ...}
    """
    scores: dict[str, list[float]] = {}
    for r in seed_runs:
        for rec in r["rows"].get(approach, {}).get("records", []):
            if rec.get("column", "taught") == column:
                scores.setdefault(rec["id"].split("/")[0], []).append(float(rec["match"]))
    return {qid: round(sum(v) / len(v), 4) for qid, v in sorted(scores.items())}


def per_question_table(seed_runs: list[dict]) -> dict:
    """Every approach's per-question matches in both columns, after a fact change who gave the new value, and which
    general probe items it got right (each averaged over seeds): what the decision guide and the claims bootstrap
    (results["per_question"]).

    Example: per_question_table(runs)["untaught"]["RAG"]["q003"]
        -> 1.0; per_question_table(runs)["after_update"]["RAG after update"]
    """
    approaches = [a for a in APPROACHES if any(a in r["rows"] for r in seed_runs)]
    table = {column: {a: per_question(seed_runs, a, column) for a in approaches} for column in COLUMNS}
    after: dict[str, dict[str, list[int]]] = {}  # freshness: who gave each changed fact's new value
    for r in seed_runs:
        for key, figure in (r.get("freshness") or {}).items():
            if isinstance(figure, dict) and "by_question" in figure:
                for qid, gave in figure["by_question"].items():
                    after.setdefault(key, {}).setdefault(qid, []).append(gave)
    probe = {a: _mean_by_item([r["rows"][a].get("probe_records") or {} for r in seed_runs if a in r["rows"]])
             for a in approaches}
    if any(probe.values()):
        table["probe"] = {a: v for a, v in probe.items() if v}
    if after:
        table["after_update"] = {k: {q: round(sum(v) / len(v), 4) for q, v in sorted(by.items())} for k, by
                                 in after.items()}
    return table


def _mean_by_item(runs: list[dict]) -> dict:
    items: dict[str, list[float]] = {}
    for run in runs:
        for item, right in run.items():
            items.setdefault(item, []).append(right)
    return {i: round(sum(v) / len(v), 4) for i, v in sorted(items.items())}


def differences(seed_runs: list[dict], against: str = Approach.RAG, column: str = "taught") -> dict:
    """Each approach's accuracy minus `against`'s on one column, paired by question (each question's match averaged
    over seeds), with a 95% bootstrap interval over questions: the kit's one test of "measurable".

    Example: differences(runs)["fine-tuned"] -> {"diff": 0.19, "lo": 0.03, "hi": 0.34, "n": 59, "measurable": True}
    """
    base = per_question(seed_runs, against, column)
    out = {}
    for approach in APPROACHES:
        if approach == against:
            continue
        mine = per_question(seed_runs, approach, column)
        shared_ids = sorted(set(base) & set(mine))
        if shared_ids:
            out[approach] = paired_bootstrap([mine[q] for q in shared_ids], [base[q] for q in shared_ids])
    return out


def coverage_record(setup) -> dict:
    """What each column asked: how many taught and untaught questions, and the unseen documents (a `rows.Setup`).

    Example: coverage_record(setup)
        -> {"taught": 120, "untaught": 75, "unseen_documents": ["changelog-app-2-4", ...], ...}
    """
    return {"taught": len(setup.questions), "untaught": len(setup.untaught), "updates": len(setup.updates),
            "unseen_documents": unseen_documents(),
            "what": "taught: every fine-tune trained on these questions' wording and fact statements (their "
            "paraphrases are asked); "
                    "untaught: questions touching an unseen document, of which no training example of any row shows a "
                    "word"}
