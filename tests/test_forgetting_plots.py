"""labkit.forgetting_plots: each figure draws the runs it is given (steps, mc_acc, general_acc), on a given Axes or its
own."""

import pytest

from labkit import forgetting_plots as fplots

HISTORY = [{"step": 0, "mc_acc": 0.25, "general_acc": 0.8, "loss": None},
           {"step": 4, "mc_acc": 0.5, "general_acc": 0.75, "loss": 1.2},
           {"step": 8, "mc_acc": 0.9, "general_acc": 0.7, "loss": 0.4}]
RUNS = [{"key": "lora", "entry": {"method": "lora"}, "history": HISTORY},
        {"key": "full", "entry": {"method": "full"},
         "history": [dict(h, general_acc=h["general_acc"] - 0.3) for h in HISTORY]}]


def test_curves_draw_both_histories(ax):
    assert fplots.plot_curves(HISTORY, ax=ax, title="t") is ax
    domain, general, chance = ax.get_lines()
    assert list(domain.get_xdata()) == [0, 4, 8] and list(domain.get_ydata()) == [0.25, 0.5, 0.9]
    assert list(general.get_ydata()) == [0.8, 0.75, 0.7] and list(chance.get_ydata()) == [0.25, 0.25]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "mc_acc" in labels[0] and "general_acc" in labels[1] and ax.get_title() == "t"


def test_frontier_has_one_line_per_run_from_domain_to_general(ax):
    fplots.plot_frontier(RUNS, ax=ax)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["lora", "full"]
    assert list(lines[1].get_xdata()) == [0.25, 0.5,
                                          0.9] and list(lines[1].get_ydata()) == pytest.approx([0.5, 0.45, 0.4])


@pytest.mark.parametrize("metric", ["mc_acc", "general_acc"])
def test_compare_plots_the_metric_of_each_run(ax, metric):
    fplots.plot_compare(RUNS, metric, ax=ax)
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[h[metric] for h in r["history"]] for r in RUNS]
    assert ax.get_ylabel() == metric


def test_final_bars_pair_domain_and_general(ax):
    fplots.plot_final_bars(RUNS, ax=ax)
    # domain bars of both runs, then general bars
    assert [round(p.get_height(), 4) for p in ax.patches] == [0.9, 0.9, 0.7, 0.4]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lora", "full"]


def test_curves_png_is_a_png_of_the_history():
    a, b = fplots.curves_png(HISTORY, "x"), fplots.curves_png(HISTORY[:2], "x")
    assert a[:4] == b"\x89PNG" and a != b and fplots.curves_png([], "")[:4] == b"\x89PNG"
