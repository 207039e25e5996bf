"""The scoreboard's arithmetic: one experiment's seed runs become means, spreads, intervals and paired differences.

What it holds: `APPROACHES` (the scoreboard's rows, in order) and `METRICS` (its columns);
`aggregate` (mean and spread over seeds of every metric, each rate with its n and 95% Wilson
interval; the freshness figures likewise) and `differences` (each approach's accuracy minus
RAG's, paired by question, with a 95% bootstrap interval over questions).

What it leaves out: running anything (`labkit.compare`), and writing it down (`labkit.report`).

Example: aggregate(seed_runs)["scoreboard"]["RAG"]["accuracy"] -> {"mean": 0.27, "spread": 0.0, "n": 59, "lo": 0.17, "hi": 0.40}
"""

from __future__ import annotations

import statistics

from labkit.evaluate import METRIC_LABELS, MISS_LABELS, RATE_N
from labkit.stats import paired_bootstrap, wilson_interval

APPROACHES = ("closed-book", "RAG", "reading adapter + RAG", "fine-tuned", "fine-tuned (docs)", "fine-tuned + RAG", "RAFT + RAG")
METRICS = tuple(METRIC_LABELS) + tuple(MISS_LABELS)  # aggregated per row (closed-book rows have no miss split: n/a)


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
    """Mean and spread (sample standard deviation; 0 for one seed) of every metric over seeds; rates get n and a 95% interval.

    Example: aggregate([{"rows": {"RAG": {"accuracy": 0.6, "n": 40}}}, {"rows": {"RAG": {"accuracy": 0.8, "n": 40}}}])["scoreboard"]["RAG"]["accuracy"]
    -> {"mean": 0.7, "spread": 0.1414, "n": 40, "lo": 0.5457, "hi": 0.8193}
    """
    approaches = [a for a in APPROACHES if any(a in r["rows"] for r in seed_runs)]

    def n_of(a, m):
        return next((r["rows"][a].get(RATE_N[m]) for r in seed_runs if a in r["rows"]), None) if m in RATE_N and m != "f1" else None

    board = {a: {m: _stats([r["rows"][a].get(m) for r in seed_runs if a in r["rows"]], n_of(a, m)) for m in METRICS} for a in approaches}
    fresh_runs = [r["freshness"] for r in seed_runs if r.get("freshness")]
    fresh = None
    if fresh_runs:
        keys = [k for k, v in fresh_runs[0].items() if isinstance(v, dict)]
        n = fresh_runs[0]["n_questions"]  # answers asked about the changed facts
        fresh = {k: {"new": _stats([f[k]["new"] for f in fresh_runs], n), "old": _stats([f[k]["old"] for f in fresh_runs], n)} for k in keys}
        for k in ("update_s", "update_per_document_s", "retrain_s", "n_updates", "n_questions", "retrain_steps"):
            fresh[k] = _stats([f[k] for f in fresh_runs if k in f])
        for k in ("kept_acc_before", "kept_acc_after"):  # the unchanged facts, before and after the update training
            if k in fresh_runs[0]:
                fresh[k] = _stats([f[k] for f in fresh_runs], fresh_runs[0]["n_kept"])
    return {"scoreboard": board, "freshness": fresh}


def differences(seed_runs: list[dict], against: str = "RAG") -> dict:
    """Each approach's accuracy minus `against`'s, paired by question (each question's match averaged over seeds), with a
    95% bootstrap interval over questions. Example: differences(runs)["fine-tuned"] -> {"diff": 0.19, "lo": 0.03, "hi": 0.34, "n": 59, "measurable": True}
    """
    def per_question(approach):
        scores: dict[str, list[float]] = {}
        for r in seed_runs:
            for rec in r["rows"].get(approach, {}).get("records", []):
                scores.setdefault(rec["id"], []).append(float(rec["match"]))
        return {qid: sum(v) / len(v) for qid, v in scores.items()}

    base = per_question(against)
    out = {}
    for approach in APPROACHES:
        if approach == against:
            continue
        mine = per_question(approach)
        shared_ids = sorted(set(base) & set(mine))
        if shared_ids:
            out[approach] = paired_bootstrap([mine[q] for q in shared_ids], [base[q] for q in shared_ids])
    return out
