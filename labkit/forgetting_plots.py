"""Forgetting plots: the fine-tuning track's figures, mc_acc (learning) and general_acc (forgetting) of runs.

What it holds, each `plot_x(..., ax=None) -> Axes` as in `labkit.plots`: `plot_curves` (both
scores against step), `plot_frontier` (one against the other along each run), `plot_compare`
(one score of several runs), `plot_final_bars` (where runs end, with 95% intervals), and
`curves_png`, the forgetting lab's live picture, drawn without pyplot so a training thread may
draw it.

What it leaves out: running and scoring the training (`labkit.forgetting`), the lab's widget
(`labkit.forgetting_lab`), and every other figure (`labkit.plots`).
"""

from __future__ import annotations

import io

from labkit.plots import _axes  # the one way a figure gets its Axes: the given one or a new one
from labkit.stats import wilson_interval


def plot_curves(history: list[dict], ax=None, title: str | None = None, label: str = ""):
    """mc_acc (learning) and general_acc (forgetting) against step. Example: plot_curves(run.history) -> Axes."""
    ax = _axes(ax, (6, 3.6))
    steps = [h["step"] for h in history]
    tag = f" ({label})" if label else ""
    ax.plot(steps, [h["mc_acc"] for h in history], "o-", color="tab:blue", label=f"new knowledge (mc_acc){tag}")
    ax.plot(steps, [h["general_acc"] for h in history], "s--", color="tab:orange",
            label=f"general probe (general_acc){tag}")
    ax.axhline(0.25, color="grey", lw=0.8, ls=":", label="chance (4 choices)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("multiple-choice accuracy")
    ax.set_title(title or "Learning and forgetting")
    ax.legend(fontsize=8, loc="lower left")
    return ax


def plot_frontier(runs: list[dict], ax=None, title: str = "Learning versus forgetting"):
    """general_acc against mc_acc along each run (one line per run, arrows show time).
    Example: plot_frontier(sweep["runs"][:3])."""
    ax = _axes(ax, (6, 3.6))
    for run in runs:
        h = run["history"]
        line, = ax.plot([p["mc_acc"] for p in h], [p["general_acc"] for p in h], "o-", ms=3, label=run["key"])
        ax.annotate(f"{h[-1]['step']}", (h[-1]["mc_acc"], h[-1]["general_acc"]), fontsize=7, color=line.get_color())
    ax.set_xlabel("new knowledge: mc_acc (held-out paraphrases)")
    ax.set_ylabel("general_acc (general probe)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def plot_compare(runs: list[dict], metric: str = "general_acc", ax=None, title: str | None = None):
    """One metric against step for several runs. Example: plot_compare([lora_run, full_run], "general_acc")."""
    ax = _axes(ax, (6, 3.6))
    for run in runs:
        h = run["history"]
        ax.plot([p["step"] for p in h], [p[metric] for p in h], "o-", ms=3, label=run["key"])
    ax.set_xlabel("training step")
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1.02)
    ax.set_title(title or metric)
    ax.legend(fontsize=7)
    return ax


def plot_final_bars(runs: list[dict], ax=None, title: str = "After training"):
    """Final mc_acc and general_acc of several runs as paired bars. Example: plot_final_bars(sweep["runs"]).

    general_acc is the run's whole-probe final score where it has one, drawn with its 95% interval.
    """
    ax = _axes(ax, (6, 3.6))
    keys = [r["key"] for r in runs]
    x = range(len(runs))
    general = [r["final"]["general_acc_after"] if r.get("final") else r["history"][-1]["general_acc"] for r in runs]
    cis = [wilson_interval(g, r["final"]["n_probe"]) if r.get("final") else (g, g) for g, r
           in zip(general, runs, strict=True)]
    ax.bar([i - 0.2 for i in x], [r["history"][-1]["mc_acc"] for r in runs], 0.4, label="mc_acc")
    ax.bar([i + 0.2 for i in x], general, 0.4, label="general_acc (95% interval)",
           yerr=[[g - lo for g, (lo, _) in zip(general, cis, strict=True)],
                 [hi - g for g, (_, hi) in zip(general, cis, strict=True)]], capsize=3)
    ax.set_xticks(list(x))
    ax.set_xticklabels(keys, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def curves_png(history: list[dict], title: str) -> bytes:
    """The two curves as PNG bytes, drawn without pyplot (safe from a training thread).
    Example: curves_png(run.history, "lora")[:4] -> b"\\x89PNG"."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), dpi=90)
    ax = fig.subplots()
    if history:
        plot_curves(history, ax=ax, title=title)
    else:
        ax.set_title("press Train (live) or pick instant mode")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
