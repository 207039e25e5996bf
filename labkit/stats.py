"""Statistics: the 95% intervals every rate the kit prints carries, and how two of them compare.

What it holds:
- `wilson_interval`: a proportion's 95% interval (Wilson score), honest at 0 and 1 with small n;
  `rate_text` writes a rate with it and its n, as every printed rate reads; `rate_table` puts several such rates in a
  Markdown table (the notebooks print rates this way, never as a bare dict).
- `intervals_overlap`: the kit's "no measurable difference" between two rates.
- `paired_bootstrap`: a difference's 95% interval over paired items (questions resampled), the kit's one test of
  "measurable"; `mixed_paired_bootstrap` the same for a score mixing several item sets (the decision guide's).

What it leaves out: what is measured (`labkit.evaluate`), and the arithmetic over seeds (`labkit.scoreboard`).
"""

from __future__ import annotations

import math


def wilson_interval(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion observed as `rate` over n items.

    Example: wilson_interval(0.5, 40) -> (0.352, 0.648); wilson_interval(0.0, 15) -> (0.0, 0.204)
    Unlike rate ± 1.96 sd it stays inside [0, 1] and is honest at 0 and 1 with small n.
    """
    if n <= 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denom
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denom
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def rate_text(value: float, n: int, show_n: bool = True) -> str:
    """A rate with its 95% Wilson interval (and n), as every printed rate reads.
    Example: rate_text(0.9, 40) -> "0.90 [0.77, 0.96] (n=40)"."""
    lo, hi = wilson_interval(value, n)
    return f"{value:.2f} [{lo:.2f}, {hi:.2f}]" + (f" (n={n})" if show_n else "")


def rate_of(value) -> str:
    """Any of the kit's rate records as "rate [lo, hi] (n=N)": a (rate, n) pair, a scoreboard stat (mean, lo, hi, n,
    spread over seeds), or a counted rate (hits, n); None is "n/a".

    Example: rate_of((0.5, 40)) -> "0.50 [0.35, 0.65] (n=40)"; rate_of({"hits": 3, "n": 4}) -> "0.75 [0.30, 0.95] (n=4)"
    """
    if value is None:
        return "n/a"
    if isinstance(value, tuple):
        return rate_text(value[0], value[1])
    if "hits" in value:
        return rate_text(value["hits"] / value["n"], value["n"]) if value["n"] else "n/a (n=0)"
    if "lo" not in value or "n" not in value:
        raise ValueError(f"not a rate with its n: {value!r} (give (rate, n), or a stat with mean, lo, hi and n)")
    spread = f" ± {value['spread']:.2f}" if value.get("spread") else ""
    return f"{value['mean']:.2f} [{value['lo']:.2f}, {value['hi']:.2f}]{spread} (n={value['n']})"


def rate_table(rows: dict, first: str = "") -> str:
    """A Markdown table of rates, each with its 95% interval and n: one row per name, one column per measure.

    Example: rate_table({"RAG": {"accuracy": (0.5, 40)}}, "approach")
        -> "| approach | accuracy |\n|---|---|\n| RAG | 0.50 [0.35, 0.65] (n=40) |"
    rows: {name: {measure: a rate `rate_of` reads (or None: n/a)}}; every row gets every measure's column.
    """
    columns = list(dict.fromkeys(c for cells in rows.values() for c in cells))
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(rate_of(cells.get(c)) for c in columns) + " |"
              for name, cells in rows.items()]
    return "\n".join(lines)


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two (lo, hi) intervals share a point: the kit's "no measurable difference" between two rates.

    Example: intervals_overlap((0.64, 0.97), (0.28, 0.72)) -> True; intervals_overlap((0.64, 0.97), (0.18, 0.61))
        -> False
    """
    return a[0] <= b[1] and b[0] <= a[1]


def _resampled_means(diffs, resamples: int, rng):
    """The mean of each of `resamples` resamples of diffs (items drawn with replacement), as a numpy array.
    Example: _resampled_means(np.array([1.0, 0.0]), 3, np.random.default_rng(0)) -> array([0.5, 1. , 0. ])"""
    import numpy as np

    n, out = len(diffs), np.empty(resamples)
    block = max(1, 2_000_000 // n)  # a block of resamples at a time: the index matrix stays under ~16 MB
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        out[start : start + size] = diffs[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return out


def paired_bootstrap(a: list[float], b: list[float], resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of a - b over paired items (questions) and its 95% bootstrap interval (items resampled with replacement).

    Example: paired_bootstrap([1, 1, 0, 1], [0, 1, 0, 0])
        -> {"diff": 0.5, "lo": 0.0, "hi": 1.0, "n": 4, "measurable": False}
    "measurable" is False when the interval includes 0: then the kit says "no measurable difference".
    Vectorised (numpy, seeded): the decision guide runs a hundred of these per grid of answers.
    """
    if len(a) != len(b) or not a:
        raise ValueError(f"paired_bootstrap needs two equal, non-empty lists (got {len(a)} and {len(b)})")
    return mixed_paired_bootstrap([(1.0, a, b)], resamples, seed)


def mixed_paired_bootstrap(parts: list[tuple[float, list[float], list[float]]], resamples: int = 2000,
                           seed: int = 0) -> dict:
    """A weighted sum of paired differences over several item sets (e.g. taught questions, untaught questions, changed
    facts), each set resampled on its own: the 95% interval of a score that mixes them.

    Example: mixed_paired_bootstrap([(0.5, [1, 1, 0, 1], [0, 1, 0, 0]), (0.5, [1, 0], [1, 0])])["diff"] -> 0.25
    Parts with weight 0 or no items are left out; with one part of weight 1 it is `paired_bootstrap`.
    """
    import numpy as np

    parts = [(w, list(a), list(b)) for w, a, b in parts if w > 0 and len(a)]
    if not parts:
        raise ValueError("mixed_paired_bootstrap needs at least one part with a weight above 0 and items")
    for _, a, b in parts:
        if len(a) != len(b):
            raise ValueError(f"each part pairs two equal lists (got {len(a)} and {len(b)})")
    rng = np.random.default_rng(seed)
    diffs = [(w, np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) for w, a, b in parts]
    means = np.sort(sum(w * _resampled_means(d, resamples, rng) for w, d in diffs))
    lo, hi = float(means[int(0.025 * resamples)]), float(means[int(0.975 * resamples) - 1])
    diff = float(sum(w * d.mean() for w, d in diffs))
    return {"diff": round(diff, 4), "lo": round(lo, 4), "hi": round(hi, 4), "n": sum(len(d) for _, d in diffs),
            "measurable": not lo <= 0.0 <= hi}
