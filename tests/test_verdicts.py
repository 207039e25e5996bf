"""labkit.verdicts: a comparison becomes one of four verdicts by one rule per kind of figure; figures carry their n."""

from labkit.verdicts import (
    CONTRADICTED,
    NO_DIFFERENCE,
    NOT_MEASURED,
    SUPPORTED,
    by_bootstrap,
    by_overlap,
    by_ratio,
    paired,
    rate_figure,
)


def test_a_paired_difference_is_measured_on_the_questions_both_rows_answered():
    results = {"per_question": {"taught": {"a": {"q1": 1.0, "q2": 1.0, "q3": 1.0},
                                           "b": {"q1": 0.0, "q2": 0.0, "q4": 1.0}}}}
    d = paired(results, "taught", "a", "b")
    assert (d["n"], d["diff"]) == (2, 1.0)  # q3 and q4 have one row each: left out
    assert paired(results, "untaught", "a", "b") is None and by_bootstrap(None) == NOT_MEASURED


def test_each_rule_gives_all_three_measured_verdicts():
    assert by_bootstrap({"diff": 0.2, "measurable": True}) == SUPPORTED
    assert by_bootstrap({"diff": -0.2, "measurable": True}) == CONTRADICTED
    assert by_bootstrap({"diff": 0.2, "measurable": False}) == NO_DIFFERENCE
    high, low = {"mean": 0.9, "lo": 0.8, "hi": 0.95}, {"mean": 0.4, "lo": 0.3, "hi": 0.5}
    assert (by_overlap(high, low), by_overlap(low, high), by_overlap(high, high)) == (SUPPORTED, CONTRADICTED,
                                                                                      NO_DIFFERENCE)
    assert by_overlap(high, {"mean": 0.4}) == NOT_MEASURED  # no interval, no verdict
    assert (by_ratio(1.5), by_ratio(0.5), by_ratio(1.05), by_ratio(None)) == (SUPPORTED, CONTRADICTED, NO_DIFFERENCE,
                                                                              NOT_MEASURED)


def test_a_rate_figure_carries_its_interval_and_n():
    assert rate_figure("RAG", {"mean": 0.25, "lo": 0.17, "hi": 0.36, "n": 75}) == "RAG 0.25 [0.17, 0.36] (n=75)"
    assert rate_figure("RAG", {"mean": 0.25, "spread": 0.0}) == "RAG 0.25 (no interval or n in these results)"
