"""labkit.plots: every figure function draws on a given Axes and returns it."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labkit import plots  # noqa: E402
from labkit.corpus import Chunk  # noqa: E402
from labkit.retrieval import Hit  # noqa: E402

rng = np.random.default_rng(0)
hits = [Hit(Chunk(f"d#{i}", "d" if i else "g", i, "t"), 0.9 - i / 10, i + 1) for i in range(3)]

CASES = {
    "embedding_map": lambda ax: plots.plot_embedding_map(rng.normal(size=(12, 8)), ["a"] * 6 + ["b"] * 6, ax=ax),
    "similarity": lambda ax: plots.plot_similarity_matrix(rng.uniform(size=(3, 5)), ["q1", "q2", "q3"], list("abcde"), ax=ax),
    "scores": lambda ax: plots.plot_retrieval_scores(hits, ax=ax, gold_doc_ids={"g"}),
    "sweep": lambda ax: plots.plot_sweep([1, 3, 5], {"recall@k": [0.8, 0.9, 0.95]}, "top_k", ax=ax),
    "bars": lambda ax: plots.plot_accuracy_bars({"closed-book": 0.0, "RAG": 0.6}, ax=ax),
    "latency": lambda ax: plots.plot_latency({"flat": {"p50": 0.1, "p95": 0.2}, "hnsw": {"p50": 0.05, "p95": 0.1}}, ax=ax),
    "before_after": lambda ax: plots.plot_before_after(["old", "new"], [1.0, 0.0], [0.0, 1.0], ax=ax),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_plot_returns_given_axes(name):
    fig, ax = plt.subplots()
    assert CASES[name](ax) is ax
    assert ax.has_data() or ax.images
    plt.close(fig)


def test_plot_makes_its_own_axes():
    ax = plots.plot_accuracy_bars({"RAG": 0.5})
    assert ax is not None
    plt.close(ax.figure)


def test_project_2d_shapes():
    assert plots.project_2d(np.eye(4)).shape == (4, 2)
    assert plots.project_2d(np.ones((1, 3))).shape == (1, 2)
