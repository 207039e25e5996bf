"""Plots: the kit's matplotlib figures, one function a figure, `plot_x(..., ax=None) -> Axes`.

Each function draws on the Axes it is given (or a new one) and returns it, so a notebook
can put several on one figure. In order: the RAG track's figures (embeddings, similarity,
retrieval, sweeps, latency, before/after), the side-by-side report's (scoreboard bars,
freshness, accuracy against cost), and pictures (the RAG pipeline, LoRA's matrices, the cost
projection). What it leaves out: the fine-tuning track's learning and forgetting curves
(`labkit.forgetting_plots`), styling themes, interactive plots (see `labkit.widgets`), and any
computation beyond a 2-D projection.
"""

from __future__ import annotations

import numpy as np

from labkit.evaluate import METRIC_LABELS


def _axes(ax, figsize=(6, 4)):
    """The Axes to draw on: `ax`, or a new figure's (labkit.forgetting_plots draws this way too)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def project_2d(vectors) -> np.ndarray:
    """The first two principal components of some vectors. Example: project_2d(np.eye(3)).shape -> (3, 2)."""
    x = np.asarray(vectors, dtype="float64")
    x = x - x.mean(axis=0, keepdims=True)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T if vt.shape[0] >= 2 else np.hstack([x @ vt[:1].T, np.zeros((len(x), 1))])


def plot_embedding_map(vectors, groups, ax=None, labels=None, max_legend: int = 8):
    """Chunks as points in a 2-D PCA projection of their embeddings, coloured by group (e.g. document kind).

    Example: plot_embedding_map(vectors, ["product", "policy", ...]) -> Axes
    Points that are close here are often close in 384-d too, though a projection loses much.
    """
    ax = _axes(ax, (6, 5))
    xy = project_2d(vectors)
    names = list(dict.fromkeys(groups))
    for i, name in enumerate(names):
        mask = np.array([g == name for g in groups])
        ax.scatter(xy[mask, 0], xy[mask, 1], s=14, alpha=0.7, label=name if i < max_legend else None)
    if labels is not None:
        for (x, y), text in zip(xy, labels, strict=True):
            if text:
                ax.annotate(text, (x, y), fontsize=7)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title("Chunk embeddings (2-D PCA)")
    if names:
        ax.legend(fontsize=7, loc="best")
    return ax


def plot_similarity_matrix(similarity, row_labels, col_labels=None, ax=None):
    """A heat map of cosine similarities (rows: questions, columns: chunks, say).

    Example: plot_similarity_matrix(q @ c.T, questions, chunk_ids) -> Axes
    """
    ax = _axes(ax, (7, 4))
    sim = np.asarray(similarity)
    image = ax.imshow(sim, cmap="viridis", aspect="auto", vmin=min(0.0, float(sim.min())), vmax=1.0)
    ax.set_yticks(range(len(row_labels)), [str(t)[:40] for t in row_labels], fontsize=7)
    if col_labels is not None:
        ax.set_xticks(range(len(col_labels)), [str(t)[:30] for t in col_labels], fontsize=7, rotation=60, ha="right")
    ax.figure.colorbar(image, ax=ax, label="cosine similarity")
    ax.set_title("Question-chunk similarity")
    return ax


def plot_retrieval_scores(hits, ax=None, gold_doc_ids=()):
    """Bar chart of the top hits' scores, gold documents highlighted.
    Example: plot_retrieval_scores(index.search(q, 5)) -> Axes."""
    ax = _axes(ax, (6, 3))
    names = [h.chunk.id for h in hits][::-1]
    scores = [h.score for h in hits][::-1]
    colours = ["tab:green" if h.chunk.doc_id in gold_doc_ids else "tab:blue" for h in hits][::-1]
    ax.barh(names, scores, color=colours)
    ax.set_xlabel("cosine similarity")
    ax.set_title("Retrieved chunks" + (" (green: gold document)" if gold_doc_ids else ""))
    return ax


def plot_sweep(xs, series: dict, xlabel: str, ylabel: str = "score", ax=None, title: str | None = None):
    """Lines of several metrics over one swept parameter.
    Example: plot_sweep([1, 3, 5], {"recall": [0.8, 0.95, 0.98]}, "top_k") -> Axes."""
    ax = _axes(ax)
    for name, ys in series.items():
        ax.plot(xs, ys, marker="o", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks(list(xs))
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or f"Sweep of {xlabel}")
    return ax


def plot_accuracy_bars(scores: dict, ax=None, title: str = "Answer accuracy on held-out paraphrases",
                       ylabel: str = "accuracy", chance: float | None = None, intervals: dict | None = None):
    """One bar per approach, value on top; `chance` draws the guessing level as a dashed line; `intervals`
    (name -> (low, high), e.g. the 95% Wilson interval) draws error bars.

    Example: plot_accuracy_bars({"closed-book": 0.02, "RAG": 0.6}, intervals={"RAG": (0.47, 0.72)}) -> Axes
    """
    ax = _axes(ax, (5, 3.5))
    names, values = list(scores), [float(v) for v in scores.values()]
    yerr = None
    if intervals:
        yerr = np.array([[v - intervals[n][0] if n in intervals else 0.0 for n, v in zip(names, values, strict=True)],
                         [intervals[n][1] - v if n in intervals else 0.0 for n, v in zip(names, values, strict=True)]])
    bars = ax.bar(names, values, color=[f"C{i}" for i in range(len(names))], yerr=yerr, capsize=4 if intervals else 0)
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.2f}", ha="center", va="bottom")
    if chance is not None:
        ax.axhline(chance, ls="--", c="gray", label=f"chance ({chance:.2f})")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_ylim(0, max(1.0, max(values, default=0) + 0.1))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


def plot_miss_split(splits: dict, ax=None, title: str = "Where RAG answers go wrong"):
    """One horizontal bar per system: right, wrong with the gold source retrieved (reading miss), wrong without it
    (retrieval miss).

    Example: plot_miss_split({"RAG": evaluate.miss_split(with_rag.records)}) -> Axes
    """
    ax = _axes(ax, (7, 0.9 + 0.6 * len(splits)))
    parts = (("right", "C2", "right"), ("reading_miss", "C1", "reading miss (gold source retrieved)"),
             ("retrieval_miss", "C3", "retrieval miss (no gold source)"))
    names = list(splits)
    left = [0.0] * len(names)
    for key, colour, label in parts:
        values = [float(splits[n][key]) for n in names]
        ax.barh(names, values, left=left, color=colour, label=label)
        for i, (x, v) in enumerate(zip(left, values, strict=True)):
            if v >= 0.06:
                ax.text(x + v / 2, i, f"{v:.2f}", ha="center", va="center", color="white", fontsize=9)
        left = [x + v for x, v in zip(left, values, strict=True)]
    ax.set_yticks(range(len(names)), [f"{n} (n={splits[n]['n']})" for n in names])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of answers")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, fontsize=8, frameon=False)
    ax.set_title(title)
    return ax


def plot_latency(latency_ms: dict, ax=None, title: str = "Search latency per index kind"):
    """Grouped bars of latency percentiles per index kind.
    Example: plot_latency({"flat": {"p50": 0.1, "p95": 0.2}}) -> Axes."""
    ax = _axes(ax, (6, 3.5))
    kinds = list(latency_ms)
    stats = list(next(iter(latency_ms.values()), {}).keys())
    width = 0.8 / max(1, len(stats))
    for j, stat in enumerate(stats):
        xs = [i + j * width for i in range(len(kinds))]
        ax.bar(xs, [latency_ms[k][stat] for k in kinds], width, label=stat)
    ax.set_xticks([i + width * (len(stats) - 1) / 2 for i in range(len(kinds))], kinds)
    ax.set_ylabel("milliseconds")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_before_after(labels, before, after, ax=None, title: str = "Answers matching the updated facts"):
    """Paired bars: a score before and after a change, per label.
    Example: plot_before_after(["old fact", "new fact"], [1, 0], [0, 1]) -> Axes."""
    ax = _axes(ax, (6, 3.5))
    xs = np.arange(len(labels))
    ax.bar(xs - 0.2, before, 0.4, label="before update")
    ax.bar(xs + 0.2, after, 0.4, label="after update")
    ax.set_xticks(xs, labels)
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend()
    return ax


# ---------------------------------------------------------------- the side-by-side report


def _error_bars(stats: list) -> np.ndarray:
    """Lower and upper error-bar lengths: the 95% interval where a rate has one, else the spread over seeds."""
    low, high = [], []
    for st in stats:
        st = st or {}
        mean = st.get("mean", 0.0)
        low.append(mean - st["lo"] if "lo" in st else st.get("spread", 0.0))
        high.append(st["hi"] - mean if "hi" in st else st.get("spread", 0.0))
    return np.array([low, high])


def plot_metric_bars(board: dict,
                     metrics=("accuracy", "f1", "mc_acc", "cited_by_model", "cited_gold_by_model", "general_acc"),
                     ax=None):
    """Grouped bars: one group per metric, one bar per approach, 95% intervals as error bars.
    Example: plot_metric_bars(results["scoreboard"])."""
    ax = _axes(ax, (10, 4))
    approaches = list(board)
    width = 0.8 / max(1, len(approaches))
    x = np.arange(len(metrics))
    for i, a in enumerate(approaches):
        stats = [board[a].get(m) for m in metrics]
        vals = [(st or {}).get("mean", 0.0) for st in stats]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, yerr=_error_bars(stats), label=a)
    ax.set_xticks(x, [METRIC_LABELS[m] for m in metrics], rotation=15, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Scoreboard (error bars: 95% intervals; bars missing = n/a or 0)")
    ax.legend(fontsize=7, ncol=3)
    return ax


def plot_freshness(freshness: dict, ax=None):
    """Bars: share of changed facts answered with the new value, per model.
    Example: plot_freshness(results["freshness"])."""
    ax = _axes(ax, (7, 3.5))
    keys = [k for k, v in freshness.items() if isinstance(v, dict) and "new" in v]
    vals = [freshness[k]["new"]["mean"] for k in keys]
    ax.bar(range(len(keys)), vals, yerr=_error_bars([freshness[k]["new"] for k in keys]),
           color=["tab:green", "tab:olive", "tab:red", "tab:blue", "tab:purple"][: len(keys)])
    ax.set_xticks(range(len(keys)), keys, rotation=10, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("answers with the new value")
    ax.set_title("Freshness after data/updates.jsonl")
    return ax


def plot_accuracy_vs_cost(board: dict, ax=None):
    """Scatter: accuracy against one-off cost (index build + training seconds).
    Example: plot_accuracy_vs_cost(results["scoreboard"])."""
    ax = _axes(ax, (6, 4))
    for a, row in board.items():
        cost = row["index_build_s"]["mean"] + row["train_s"]["mean"]
        ax.scatter(cost, row["accuracy"]["mean"], s=60)
        ax.annotate(a, (cost, row["accuracy"]["mean"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("one-off cost: index build + training (s, this CPU)")
    ax.set_ylabel("accuracy on held-out paraphrases")
    ax.set_title("Accuracy against cost")
    return ax


def plot_cost_over_time(results: dict, change: str = "weekly", ax=None):
    """Cumulative seconds of this CPU to build each approach and keep it current over a year of fact changes.

    Example: plot_cost_over_time(results, "daily"). The curves of labkit.costs.cost_over_time (measured one-off and
    per-change seconds); log scale, because retraining and index updates differ by orders of magnitude.
    """
    from labkit.costs import cost_over_time

    ax = _axes(ax, (6, 4))
    for approach, c in cost_over_time(results).items():
        curve = c["curves"][change]
        ax.plot(range(1, len(curve) + 1), curve, label=f"{approach} ({c['how']})")
    ax.set_yscale("log")
    ax.set_xlabel("day of the year")
    ax.set_ylabel("cumulative compute (s, this CPU)")
    ax.set_title(f"Keeping current: {change} fact changes")
    ax.legend(fontsize=7)
    return ax


# ---------------------------------------------------------------- pictures a learner would rather look at


def _box(ax, x, y, w, h, text, color="#dbe9f6"):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="#444"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5, wrap=True)


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#444"})


def plot_rag_pipeline(ax=None, top_k: int = 3):
    """The RAG pipeline as boxes and arrows: built once (top row), then per question (bottom row).
    Example: plot_rag_pipeline()."""
    ax = _axes(ax, (11, 3.2))
    once = ["documents\n(data/kb)", "chunks\n(corpus.chunk_corpus)", "vectors\n(embedder, 384-d)",
            "FAISS index\n(retrieval.VectorIndex)"]
    each = ["question", "question vector", f"top_k={top_k} sources\n(index.search)",
            "prompt: sources\n[1]..[k] + question", "model", "answer with [n]\ncitations"]
    w, h = 0.13, 0.28
    for i, text in enumerate(once):
        _box(ax, 0.02 + i * 0.2, 0.62, w + 0.03, h, text, "#e8f3e8")
        if i:
            _arrow(ax, 0.02 + (i - 1) * 0.2 + w + 0.03, 0.76, 0.02 + i * 0.2, 0.76)
    for i, text in enumerate(each):
        _box(ax, 0.01 + i * 0.165, 0.08, w, h, text)
        if i:
            _arrow(ax, 0.01 + (i - 1) * 0.165 + w, 0.22, 0.01 + i * 0.165, 0.22)
    _arrow(ax, 0.02 + 3 * 0.2 + 0.08, 0.62, 0.01 + 2 * 0.165 + 0.06, 0.36)  # the index answers the search
    ax.text(0.86, 0.76, "built once;\nan update re-embeds\nonly changed documents", fontsize=8, va="center")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title("RAG: retrieve sources, then let the model read them")
    return ax


def plot_lora_update(weight_shape: tuple, rank: int, ax=None):
    """W (frozen) beside the two thin matrices LoRA trains, drawn to scale. Example: plot_lora_update((576, 576), 4)."""
    from matplotlib.patches import Rectangle

    ax = _axes(ax, (9, 3.4))
    out_dim, in_dim = weight_shape
    s = 1.0 / max(out_dim, in_dim)
    ax.add_patch(Rectangle((0, 0), in_dim * s, out_dim * s, fc="#cccccc", ec="#444"))
    ax.text(in_dim * s / 2, out_dim * s / 2, f"W  {out_dim} x {in_dim}\nfrozen\n{out_dim * in_dim:,} weights",
            ha="center", va="center", fontsize=9)
    ax.text(in_dim * s + 0.14, out_dim * s / 2, "+ (alpha/rank) x", ha="center", va="center", fontsize=9)
    bx = in_dim * s + 0.3
    ax.add_patch(Rectangle((bx, 0), max(rank * s, 0.015), out_dim * s, fc="#f4a261", ec="#444"))
    ax.text(bx + 0.05, -0.08, f"B  {out_dim} x {rank}", ha="left", fontsize=9)
    ax_ = bx + 0.12
    ax.add_patch(Rectangle((ax_, out_dim * s - max(rank * s, 0.015)), in_dim * s, max(rank * s, 0.015), fc="#2a9d8f",
                           ec="#444"))
    ax.text(ax_ + in_dim * s / 2, out_dim * s + 0.05, f"A  {rank} x {in_dim}", ha="center", fontsize=9)
    trained = rank * (in_dim + out_dim)
    ax.text(ax_ + in_dim * s / 2, out_dim * s / 2 - 0.1,
            f"trained: {trained:,} weights\n({trained / (out_dim * in_dim):.1%} of W)",
            ha="center", va="center", fontsize=9)
    ax.set_xlim(-0.05, ax_ + in_dim * s + 0.05)
    ax.set_ylim(-0.15, out_dim * s + 0.15)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("LoRA: W x + (alpha / rank) B A x, with only A and B trained")
    return ax


def plot_cost_projection(cost_projection: dict, ax=None):
    """Horizontal bars (log scale) of the projected fine-tune time per model and device.
    Example: plot_cost_projection(results["cost_projection"])."""
    ax = _axes(ax, (8, 4))
    rows = cost_projection["rows"]
    labels = [f"{r['model']} on {r['device']}" for r in rows]
    values = [r["train_s"] for r in rows]
    colors = ["tab:blue" if r["device"] == "this CPU" else "tab:orange" for r in rows]
    ax.barh(range(len(rows)), values, color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    for ref, text in ((60, "1 min"), (3600, "1 h"), (86400, "1 day")):
        ax.axvline(ref, ls=":", color="grey")
        ax.text(ref, len(rows) - 0.4, text, fontsize=7, color="grey")
    ax.set_xlabel("one fine-tune on the same data (s, log scale): estimates, not measurements")
    ax.set_title("Cost projection: this CPU (measured speed, blue) scaled to larger models and GPUs (orange)")
    return ax
