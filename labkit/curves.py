"""Plots of the fine-tuning track: learning and forgetting curves, the frontier, replay and lr.

Each function draws on a matplotlib Axes (a new one if `ax` is None) and returns it, so a
notebook can lay several out side by side. Inputs are plain histories (lists of dicts with
step, domain_acc, general_acc, loss) or sweep runs from data/forgetting_sweep.json. What is
left out: the RAG track's figures (labkit.plots) and any styling beyond labels and legends.
"""

from __future__ import annotations


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 3.6))
    return ax


def plot_curves(history: list[dict], ax=None, title: str | None = None, label: str = ""):
    """domain_acc (learning) and general_acc (forgetting) against step. Example: plot_curves(run.history) -> Axes."""
    ax = _axes(ax)
    steps = [h["step"] for h in history]
    tag = f" ({label})" if label else ""
    ax.plot(steps, [h["domain_acc"] for h in history], "o-", color="tab:blue", label=f"new knowledge (domain_acc){tag}")
    ax.plot(steps, [h["general_acc"] for h in history], "s--", color="tab:orange", label=f"general probe (general_acc){tag}")
    ax.axhline(0.25, color="grey", lw=0.8, ls=":", label="chance (4 choices)")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("multiple-choice accuracy")
    ax.set_title(title or "Learning and forgetting")
    ax.legend(fontsize=8, loc="lower left")
    return ax


def plot_frontier(runs: list[dict], ax=None, title: str = "Learning versus forgetting"):
    """general_acc against domain_acc along each run (one line per run, arrows show time). Example: plot_frontier(sweep["runs"][:3])."""
    ax = _axes(ax)
    for run in runs:
        h = run["history"]
        line, = ax.plot([p["domain_acc"] for p in h], [p["general_acc"] for p in h], "o-", ms=3, label=run["key"])
        ax.annotate(f"{h[-1]['step']}", (h[-1]["domain_acc"], h[-1]["general_acc"]), fontsize=7, color=line.get_color())
    ax.set_xlabel("new knowledge: domain_acc (held-out paraphrases)")
    ax.set_ylabel("general_acc (general probe)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def plot_compare(runs: list[dict], metric: str = "general_acc", ax=None, title: str | None = None):
    """One metric against step for several runs. Example: plot_compare([lora_run, full_run], "general_acc")."""
    ax = _axes(ax)
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
    """Final domain_acc and general_acc of several runs as paired bars. Example: plot_final_bars(sweep["runs"])."""
    ax = _axes(ax)
    keys = [r["key"] for r in runs]
    x = range(len(runs))
    ax.bar([i - 0.2 for i in x], [r["history"][-1]["domain_acc"] for r in runs], 0.4, label="domain_acc")
    ax.bar([i + 0.2 for i in x], [r["history"][-1]["general_acc"] for r in runs], 0.4, label="general_acc")
    ax.set_xticks(list(x))
    ax.set_xticklabels(keys, rotation=30, ha="right", fontsize=7)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax
