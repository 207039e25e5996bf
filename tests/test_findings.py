"""labkit.findings: what a run's numbers say, each sentence computed from them and naming its column; one cell's
format."""

import pytest

from labkit import findings


def stat(x, spread=0.0):
    return {"mean": x, "spread": spread}


@pytest.mark.parametrize("value, metric, text", [
    (stat(0.625, 0.05), "", "0.62 ± 0.05"), (None, "", "n/a"), (stat(0.5), "", "0.50"),
    (stat(14.05e6), "adapter_bytes", "14.05 MB"), (stat(227.0, 3.0), "prompt_tokens", "227 ± 3"),
    (stat(91.5, 2.8), "train_s", "91.5 ± 2.8"),
])
def test_fmt(value, metric, text):
    assert findings.fmt(value, metric) == text


def test_meaning_follows_the_numbers_not_the_literature():
    board = {"closed-book": {"accuracy": stat(0.02)}, "RAG": {"accuracy": stat(0.27)},
             "fine-tuned": {"accuracy": stat(0.46)}, "fine-tuned (docs)": {"accuracy": stat(0.05)}}
    text = findings.meaning({"scoreboard": board})[0]
    assert "0.46, ahead of RAG" in text and "0.05, behind RAG (no paired interval in this record): as Ovadia" in text
    board["fine-tuned (docs)"] = {"accuracy": stat(0.40)}
    board["fine-tuned"] = {"accuracy": stat(0.10)}
    text = findings.meaning({"scoreboard": board})[0]
    assert "0.10, behind RAG" in text and "does not hold on this run" in text


@pytest.mark.parametrize("diff, lo, hi, words",
                         [(0.19, 0.03, 0.34, "ahead of RAG by 0.19"), (-0.2, -0.35, -0.05, "behind RAG by 0.20"),
                                                 (0.08, -0.05, 0.2, "no measurable difference from RAG")])
def test_a_difference_inside_its_interval_is_no_measurable_difference(diff, lo, hi, words):
    board = {"closed-book": {"accuracy": stat(0.02)}, "RAG": {"accuracy": stat(0.27)},
             "fine-tuned": {"accuracy": stat(0.27 + diff)}}
    d = {"diff": diff, "lo": lo, "hi": hi, "n": 59, "measurable": not lo <= 0 <= hi}
    results = {"scoreboard": board, "differences": {"fine-tuned": d}}
    assert findings.versus(results, "fine-tuned").startswith(words)
    assert words in findings.meaning(results)[0]


def test_fmt_shows_a_rate_with_its_interval():
    assert findings.fmt({"mean": 0.27, "spread": 0.0, "n": 59, "lo": 0.1749, "hi": 0.3962},
                        "accuracy") == "0.27 [0.17, 0.40]"
    assert findings.fmt({"mean": 0.46, "spread": 0.09, "n": 59, "lo": 0.34, "hi": 0.59},
                        "accuracy") == "0.46 [0.34, 0.59] ± 0.09"


def test_a_cell_carries_its_n_and_a_difference_says_when_it_is_not_measurable():
    multi = {"mean": 0.25, "spread": 0.0, "n": 4, "lo": 0.05, "hi": 0.70}
    assert findings.fmt_n(multi) == "0.25 [0.05, 0.70] (n=4)" and findings.fmt_n(None) == "n/a"
    assert findings.fmt_n(stat(0.5)) == "0.50"  # no n recorded: none is made up
    assert findings.diff_cell({"diff": 0.08, "lo": -0.03, "hi": 0.19, "measurable": False}) == (
        "+0.08 [-0.03, +0.19], none measurable")
    assert findings.diff_cell({"diff": -0.32, "lo": -0.41, "hi": -0.23, "measurable": True}) == "-0.32 [-0.41, -0.23]"
    assert findings.diff_cell(None) == "—"


def test_the_multi_document_bullet_names_the_best_row_and_says_when_the_others_are_within_its_interval():
    def multi(mean, lo, hi):
        return {"mean": mean, "spread": 0.0, "n": 4, "lo": lo, "hi": hi}
    board = {"RAG": {"accuracy": stat(0.27), "multi_acc": multi(0.25, 0.05, 0.70)},
             "RAFT + RAG": {"accuracy": stat(0.7), "multi_acc": multi(0.75, 0.30, 0.95)}}
    line = next(x for x in findings.meaning({"scoreboard": board}) if "two documents" in x)
    assert "on the 4 answers" in line and "The best is RAFT + RAG, with no measurable difference from RAG" in line
    board["RAG"]["multi_acc"] = multi(0.0, 0.0, 0.20)
    line = next(x for x in findings.meaning({"scoreboard": board}) if "two documents" in x)
    assert "measurably ahead of every other row" in line


def test_no_finding_ends_in_a_bare_unlabelled_figure():
    """Issue 27: the README's generated bullets ended in "(0.25)": whose figure? Every figure in brackets is named."""
    import re

    from labkit.data import load_shipped
    from labkit.readme import readme_markdown

    assert not re.findall(r"\(\d\.\d\d\)[.;]", readme_markdown(load_shipped()))  # a figure closing a sentence
