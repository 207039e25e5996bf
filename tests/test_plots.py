"""labkit.plots: every figure draws what it is given (line data, bar heights, labels), on a given Axes or its own."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from labkit import plots  # noqa: E402
from labkit.corpus import Chunk  # noqa: E402
from labkit.retrieval import Hit  # noqa: E402


def stat(mean, **more):
    return {"mean": mean, "spread": 0.0, **more}


BOARD = {"closed-book": {m: stat(v) for m, v in (("accuracy", 0.1), ("index_build_s", 0.0), ("train_s", 0.0))}
         | {"general_acc": stat(0.8)},
         "RAG": {m: stat(v) for m, v in (("accuracy", 0.4), ("index_build_s", 7.0), ("train_s", 0.0))}
         | {"general_acc": stat(0.8)}}


def heights(ax):
    return [round(p.get_height(), 4) for p in ax.patches]


def test_accuracy_bars_heights_and_labels(ax):
    plots.plot_accuracy_bars({"closed-book": 0.02, "RAG": 0.6}, ax=ax, chance=0.25)
    assert heights(ax) == [0.02, 0.6] and [t.get_text() for t in ax.texts] == ["0.02", "0.60"]
    assert list(ax.get_lines()[0].get_ydata()) == [0.25, 0.25]


def test_metric_bars_one_bar_per_approach_and_metric_with_interval(ax):
    board = {a: {m: dict(v) for m, v in row.items()} for a, row in BOARD.items()}
    board["RAG"]["accuracy"] = stat(0.4, n=40, lo=0.26, hi=0.56)
    plots.plot_metric_bars(board, metrics=("accuracy", "general_acc"), ax=ax)
    assert heights(ax) == [0.1, 0.8, 0.4, 0.8]
    bars = [c for c in ax.containers if hasattr(c, "errorbar") and c.errorbar is not None]
    segments = bars[1].errorbar.lines[2][0].get_segments()
    assert np.allclose(segments[0][:, 1], [0.26, 0.56])  # RAG accuracy's error bar spans its 95% interval


def test_freshness_bars(ax):
    fresh = {"RAG after update": {"new": stat(0.35), "old": stat(0.0)},
             "fine-tuned (stale)": {"new": stat(0.0), "old": stat(0.4)}, "update_s": stat(2.0)}
    plots.plot_freshness(fresh, ax=ax)
    assert heights(ax) == [0.35, 0.0] and [t.get_text() for t in ax.get_xticklabels()] == ["RAG after update",
                                                                                           "fine-tuned (stale)"]


def test_accuracy_vs_cost_places_each_approach(ax):
    plots.plot_accuracy_vs_cost(BOARD, ax=ax)
    points = [tuple(c.get_offsets()[0]) for c in ax.collections]
    assert points == [(0.0, 0.1), (7.0, 0.4)] and [t.get_text() for t in ax.texts] == ["closed-book", "RAG"]


def test_sweep_latency_before_after(ax):
    plots.plot_sweep([1, 3, 5], {"recall": [0.8, 0.9, 0.95]}, "top_k", ax=ax)
    assert list(ax.get_lines()[0].get_ydata()) == [0.8, 0.9, 0.95] and ax.get_xlabel() == "top_k"
    ax.clear()
    plots.plot_latency({"flat": {"p50": 0.1, "p95": 0.2}, "hnsw": {"p50": 0.05, "p95": 0.1}}, ax=ax)
    assert heights(ax) == [0.1, 0.05, 0.2, 0.1]
    ax.clear()
    plots.plot_before_after(["old", "new"], [1.0, 0.0], [0.0, 1.0], ax=ax)
    assert heights(ax) == [1.0, 0.0, 0.0, 1.0]


def test_retrieval_figures(ax):
    hits = [Hit(Chunk(f"d#{i}", "d" if i else "g", i, "t"), 0.9 - i / 10, i + 1) for i in range(3)]
    plots.plot_retrieval_scores(hits, ax=ax, gold_doc_ids={"g"})
    widths = [round(p.get_width(), 4) for p in ax.patches]
    assert widths == [0.7, 0.8, 0.9]  # best at the top
    assert ax.patches[-1].get_facecolor() != ax.patches[0].get_facecolor()  # the gold chunk stands out
    ax.clear()
    rng = np.random.default_rng(0)
    plots.plot_embedding_map(rng.normal(size=(12, 8)), ["a"] * 6 + ["b"] * 6, ax=ax)
    assert [len(c.get_offsets()) for c in ax.collections] == [6, 6]


def test_similarity_matrix_shows_the_array():
    fig, ax = plt.subplots()
    sim = np.random.default_rng(1).uniform(size=(3, 5))
    plots.plot_similarity_matrix(sim, ["q1", "q2", "q3"], list("abcde"), ax=ax)
    assert np.allclose(ax.images[0].get_array(), sim)
    plt.close(fig)


def test_functions_make_their_own_axes():
    ax = plots.plot_accuracy_bars({"RAG": 0.5})
    assert heights(ax) == [0.5]
    plt.close(ax.figure)


def test_project_2d_shapes():
    assert plots.project_2d(np.eye(4)).shape == (4, 2)
    assert plots.project_2d(np.ones((1, 3))).shape == (1, 2)


def test_pictures_draw_what_they_are_given(ax):
    plots.plot_lora_update((576, 576), 4, ax=ax)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "576 x 576" in texts and "4,608" in texts and "1.4% of W" in texts  # 4 x (576 + 576) of 331,776
    ax.clear()
    plots.plot_rag_pipeline(ax=ax, top_k=5)
    assert any("top_k=5" in t.get_text() for t in ax.texts)
    ax.clear()
    cp = {"rows": [{"model": "SmolLM2-135M", "device": "this CPU", "train_s": 90.0},
                   {"model": "7B model", "device": "NVIDIA A100 (bf16)", "train_s": 4.0}]}
    plots.plot_cost_projection(cp, ax=ax)
    assert [round(p.get_width(), 1) for p in ax.patches] == [90.0, 4.0] and ax.get_xscale() == "log"


def test_cost_over_time_draws_a_line_per_kept_approach(ax):
    fresh = {"update_s": stat(2.0), "retrain_s": stat(88.0)}
    plots.plot_cost_over_time({"scoreboard": BOARD, "freshness": fresh}, "weekly", ax=ax)
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    assert set(lines) == {"RAG (index update)"} and lines["RAG (index update)"][-1] == 7.0 + 52 * 2.0


def test_miss_split_stacks_to_one_per_system(ax):
    splits = {"RAG": {"right": 0.3, "reading_miss": 0.6, "retrieval_miss": 0.1, "n": 40},
              "RAFT + RAG": {"right": 0.7, "reading_miss": 0.2, "retrieval_miss": 0.1, "n": 40}}
    plots.plot_miss_split(splits, ax=ax)
    widths = {}
    for bar in ax.patches:
        widths.setdefault(round(bar.get_y(), 3), []).append(bar.get_width())
    assert sorted(round(sum(w), 6) for w in widths.values()) == [1.0, 1.0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["RAG (n=40)", "RAFT + RAG (n=40)"]
