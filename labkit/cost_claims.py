"""The common guidance's claims on cost and speed, tested against a run's results: figures measured once per row.

What it holds: four claims of `labkit.claims`' table, each taking a results dict and returning its row
(claim, verdict, figure, condition) as every claim does: `faster_without_retrieval` (median latency),
`costs_more_per_answer` (prompt tokens per answer), `cheap_up_front` (one-off seconds: training against
the index build) and `pays_off_long_term` (a year of keeping current, `costs.cost_over_time`). Latency,
tokens and seconds are measured once per row (means over seeds), so a verdict is a ratio under
`RATIO_MARGIN` either way (`verdicts.by_ratio`) or where the yearly curves end, never an interval.

What it leaves out: the other claims, their order and the table (`labkit.claims`), and the cost
arithmetic itself (`labkit.costs`).

Example: faster_without_retrieval(load_shipped())["verdict"] -> "supported"
"""

from __future__ import annotations

from labkit.costs import CHANGE_FREQUENCIES, cost_over_time, crossing_day, format_seconds
from labkit.keys import Approach
from labkit.verdicts import CONTRADICTED, NO_DIFFERENCE, RATIO_MARGIN, SUPPORTED, by_ratio, claim_row, missing, stat_of


def _ratio_claim(results: dict, claim: str, metric: str, slow: str, fast: str, unit: str, condition: str) -> dict:
    places = 2 if unit == "s" else 0
    a, b = stat_of(results, slow, metric), stat_of(results, fast, metric)
    n = (stat_of(results, fast, "accuracy") or {}).get("n")
    if not a or not b or not b["mean"] or not n:
        return missing(claim, f"{metric} of {slow} and {fast}")
    ratio = a["mean"] / b["mean"]
    return claim_row(claim, by_ratio(ratio),
                     f"{fast} {b['mean']:.{places}f} {unit} vs {slow} {a['mean']:.{places}f} {unit}: {slow} "
                     f"x{ratio:.2f} "
                f"(median over n={n} answers, measured once per row, no interval; under x{RATIO_MARGIN} either way is "
                "no difference)",
                condition)


def faster_without_retrieval(results: dict) -> dict:
    """Rule: RAG's median answer latency over the fine-tuned row's is at least RATIO_MARGIN (contradicted at most
    1/RATIO_MARGIN); latency is measured once per row, so a ratio, not an interval.

    Example: faster_without_retrieval(results)["verdict"] -> "supported"
    """
    return _ratio_claim(results, "Fine-tuned answers are faster without retrieval", "latency_p50_s", Approach.RAG,
                        Approach.FINE_TUNED, "s", "this CPU, one answer at a time; RAG's prompt carries its sources")


def costs_more_per_answer(results: dict) -> dict:
    """Rule: RAG's median prompt tokens per answer over the fine-tuned row's is at least RATIO_MARGIN (contradicted at
    most 1/RATIO_MARGIN): the running cost that grows with what RAG reads. Measured once per row, a ratio.

    Example: costs_more_per_answer(results)["verdict"] -> "supported"
    """
    return _ratio_claim(results, "RAG costs more as it runs: every answer reads its sources", "prompt_tokens",
                        Approach.RAG,
                        Approach.FINE_TUNED, "tokens",
                        f"per answer, with {(results.get('config') or {}).get('top_k', 'k')} sources in RAG's prompt")


def _seeds(results: dict) -> int:
    return len(results.get("seeds") or []) or 1


def _curves(results: dict) -> tuple[dict | None, dict | None]:
    """RAG's and the fine-tuned row's year of keeping current (`costs.cost_over_time`), None where not measured."""
    try:
        curves = cost_over_time(results)
    except (KeyError, TypeError):
        return None, None
    return curves.get(Approach.RAG), curves.get(Approach.FINE_TUNED)


def cheap_up_front(results: dict) -> dict:
    """Rule: the fine-tuned row's one-off seconds (training) over RAG's (building the index) is at least RATIO_MARGIN
    (contradicted at most 1/RATIO_MARGIN); `costs.keeping_current`'s figures, means over seeds, no interval.

    Example: cheap_up_front(results)["verdict"] -> "supported"
    """
    claim = "RAG costs little up front"
    rag, ft = _curves(results)
    if not rag or not ft or not rag["one_off_s"]:
        return missing(claim, "train_s and index_build_s of RAG and fine-tuned")
    ratio = ft["one_off_s"] / rag["one_off_s"]
    return claim_row(claim, by_ratio(ratio), f"one-off: RAG {format_seconds(rag['one_off_s'])} (index) vs fine-tuned "
                f"{format_seconds(ft['one_off_s'])} (training): x{ratio:.1f} (mean of n={_seeds(results)} seeds, no "
                "interval)",
                "this CPU, the kit's knowledge base; seconds, not money")


def pays_off_long_term(results: dict) -> dict:
    """Rule: over a year of keeping current (`costs.cost_over_time`), supported when at some change frequency the
    fine-tuned row's cumulative seconds end the year below RAG's (RAG's curve crosses it); contradicted when they end
    above at every frequency; no measurable difference when equal. Means over seeds, no interval.

    Example: pays_off_long_term(results)["verdict"] -> "contradicted"
    """
    claim = "Fine-tuning pays off over a long horizon"
    rag, ft = _curves(results)
    fresh = results.get("freshness") or {}
    if not rag or not ft or not fresh.get("update_s") or not fresh.get("retrain_s"):
        return missing(claim, "train_s, index_build_s and the freshness timings (update_s, retrain_s)")
    ends = {f: (rag["curves"][f][-1], ft["curves"][f][-1]) for f in CHANGE_FREQUENCIES}
    if any(r > f for r, f in ends.values()):
        verdict = SUPPORTED
    else:
        verdict = CONTRADICTED if all(r < f for r, f in ends.values()) else NO_DIFFERENCE
    cross = {f: crossing_day(rag["curves"][f], ft["curves"][f]) for f in CHANGE_FREQUENCIES}
    figure = "; ".join(f"{f}: RAG {format_seconds(r)} vs fine-tuned {format_seconds(t)}"
                       + (f" (RAG dearer from day {cross[f]})" if cross[f] is not None else "") for f, (r, t)
                       in ends.items())
    return claim_row(claim, verdict, f"a year's seconds: {figure} (mean of n={_seeds(results)} seeds, no interval)",
                "keeping current only (RAG: index update per change; fine-tune: retraining); answering costs are apart "
                "(see the per-answer claim)")
