"""Plots: matplotlib figures for the notebooks, one function a figure, `plot_x(..., ax=None) -> Axes`.

Each function draws on the Axes it is given (or a new one) and returns it, so a notebook
can put several on one figure. The RAG track's figures come first; the fine-tuning track
adds its own below. What it leaves out: styling themes, interactive plots (see
`labkit.widgets`), and any computation beyond a 2-D projection.
"""

from __future__ import annotations

import numpy as np


def _axes(ax, figsize=(6, 4)):
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
    """Bar chart of the top hits' scores, gold documents highlighted. Example: plot_retrieval_scores(index.search(q, 5)) -> Axes."""
    ax = _axes(ax, (6, 3))
    names = [h.chunk.id for h in hits][::-1]
    scores = [h.score for h in hits][::-1]
    colours = ["tab:green" if h.chunk.doc_id in gold_doc_ids else "tab:blue" for h in hits][::-1]
    ax.barh(names, scores, color=colours)
    ax.set_xlabel("cosine similarity")
    ax.set_title("Retrieved chunks" + (" (green: gold document)" if gold_doc_ids else ""))
    return ax


def plot_sweep(xs, series: dict, xlabel: str, ylabel: str = "score", ax=None, title: str | None = None):
    """Lines of several metrics over one swept parameter. Example: plot_sweep([1, 3, 5], {"recall": [0.8, 0.95, 0.98]}, "top_k") -> Axes."""
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


def plot_accuracy_bars(scores: dict, ax=None, title: str = "Answer accuracy on held-out paraphrases", ylabel: str = "accuracy"):
    """One bar per approach, value on top. Example: plot_accuracy_bars({"closed-book": 0.02, "RAG": 0.6}) -> Axes."""
    ax = _axes(ax, (5, 3.5))
    names, values = list(scores), [float(v) for v in scores.values()]
    bars = ax.bar(names, values, color=[f"C{i}" for i in range(len(names))])
    for bar, v in zip(bars, values, strict=True):
        ax.text(bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.2f}", ha="center", va="bottom")
    ax.set_ylim(0, max(1.0, max(values, default=0) + 0.1))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


def plot_latency(latency_ms: dict, ax=None, title: str = "Search latency per index kind"):
    """Grouped bars of latency percentiles per index kind. Example: plot_latency({"flat": {"p50": 0.1, "p95": 0.2}}) -> Axes."""
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
    """Paired bars: a score before and after a change, per label. Example: plot_before_after(["old fact", "new fact"], [1, 0], [0, 1]) -> Axes."""
    ax = _axes(ax, (6, 3.5))
    xs = np.arange(len(labels))
    ax.bar(xs - 0.2, before, 0.4, label="before update")
    ax.bar(xs + 0.2, after, 0.4, label="after update")
    ax.set_xticks(xs, labels)
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend()
    return ax
