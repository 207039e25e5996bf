"""Verdicts: how a comparison of two measured figures becomes "supported", "contradicted", "no measurable difference"
or "not measured here", and the figure text that shows what it rests on (n and interval always).

Three rules, one per kind of figure:
- `by_bootstrap`: a paired difference over questions (`paired`: `stats.paired_bootstrap` over the
  per-question matches of results["per_question"], seeds averaged): the kit's one "measurable";
- `by_overlap`: two rates with no per-item answers in the results (the behaviour task, the probe):
  whether their 95% Wilson intervals are apart, and the figure says it is this fallback;
- `by_ratio`: a figure measured once per row (latency, tokens, seconds): within `RATIO_MARGIN` either way is no
difference.

What it leaves out: which claims are tested and their rules (`labkit.claims`), running anything.

Example: by_bootstrap({"diff": 0.2, "lo": 0.05, "hi": 0.35, "measurable": True}) -> "supported"
"""

from __future__ import annotations

from labkit.stats import intervals_overlap, paired_bootstrap, wilson_interval

SUPPORTED, CONTRADICTED, NO_DIFFERENCE, NOT_MEASURED = VERDICTS = (
    "supported", "contradicted", "no measurable difference", "not measured here")
RATIO_MARGIN = 1.1  # a figure measured once per row has no interval: under 10% apart either way is no difference

def stat_of(results: dict, row: str, metric: str) -> dict | None:
    return ((results.get("scoreboard") or {}).get(row) or {}).get(metric)


def rate_figure(label: str, s: dict) -> str:
    """A rate with its stored interval and n (a record without them says so rather than guessing).
    Example: rate_figure("RAG", {"mean": 0.25, "lo": 0.17, "hi": 0.36, "n": 75}) -> "RAG 0.25 [0.17, 0.36] (n=75)"."""
    if "lo" not in s or "n" not in s:
        return f"{label} {s['mean']:.2f} (no interval or n in these results)"
    return f"{label} {s['mean']:.2f} [{s['lo']:.2f}, {s['hi']:.2f}] (n={s['n']})"


def diff_figure(label: str, d: dict) -> str:
    return f"{label} {d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}] (n={d['n']} questions, paired bootstrap)"


def paired(results: dict, columns, a: str, b: str, only=None) -> dict | None:
    """a's per-question match minus b's on the questions both answered in `columns` (one name or several, pooled),
    `stats.paired_bootstrap` over them; None where the results hold no per-question answers for both.

    Example: paired(results, "untaught", "RAG", "fine-tuned")
        -> {"diff": 0.12, "lo": 0.02, "hi": 0.22, "n": 75, "measurable": True}
    """
    table = results.get("per_question") or {}
    mine, theirs = {}, {}
    for column in [columns] if isinstance(columns, str) else columns:
        mine.update((table.get(column) or {}).get(a) or {})
        theirs.update((table.get(column) or {}).get(b) or {})
    shared = sorted(q for q in set(mine) & set(theirs) if only is None or q in only)
    return paired_bootstrap([mine[q] for q in shared], [theirs[q] for q in shared]) if shared else None


def by_bootstrap(d: dict | None) -> str:
    """The verdict on a paired difference (claimed direction: positive).
    Example: by_bootstrap({"diff": 0.2, "measurable": True}) -> "supported"."""
    if d is None:
        return NOT_MEASURED
    if not d["measurable"]:
        return NO_DIFFERENCE
    return SUPPORTED if d["diff"] > 0 else CONTRADICTED


def by_overlap(a: dict | None, b: dict | None) -> str:
    """The fallback verdict on two rates without per-item answers (claimed: a above b): their 95% intervals apart.

    Example: by_overlap({"mean": 0.9, "lo": 0.8, "hi": 0.95}, {"mean": 0.4, "lo": 0.3, "hi": 0.5}) -> "supported"
    """
    if not a or not b or "lo" not in a or "lo" not in b:
        return NOT_MEASURED
    if intervals_overlap((a["lo"], a["hi"]), (b["lo"], b["hi"])):
        return NO_DIFFERENCE
    return SUPPORTED if a["mean"] > b["mean"] else CONTRADICTED


def by_ratio(ratio: float | None) -> str:
    """The verdict on a figure measured once per row (claimed: ratio above 1).
    Example: by_ratio(1.5) -> "supported"; by_ratio(1.05) -> "no measurable difference"."""
    if ratio is None:
        return NOT_MEASURED
    if ratio >= RATIO_MARGIN:
        return SUPPORTED
    return CONTRADICTED if ratio <= 1 / RATIO_MARGIN else NO_DIFFERENCE


def with_wilson(rate: float | None, n: int | None) -> dict | None:
    """A rate stored without its interval (the behaviour task's) given one. Example: _wilson(0.5, 40)["lo"] -> 0.352."""
    if rate is None or not n:
        return None
    lo, hi = wilson_interval(rate, n)
    return {"mean": rate, "lo": lo, "hi": hi, "n": n}


def claim_row(claim: str, verdict: str, figure: str, condition: str) -> dict:
    return {"claim": claim, "verdict": verdict, "figure": figure, "condition": condition}


def missing(claim: str, what: str, condition: str = "—") -> dict:
    return claim_row(claim, NOT_MEASURED, f"not in these results: {what}", condition)
