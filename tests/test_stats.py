"""labkit.stats: the Wilson interval at known values, the paired bootstrap, and when two intervals overlap."""

import pytest

from labkit import stats


@pytest.mark.parametrize("rate, n, lo, hi",
                         [(0.5, 40, 0.352, 0.648), (0.0, 15, 0.0, 0.2039), (1.0, 15, 0.7961, 1.0),
                          (0.27, 59, 0.1734, 0.3947)])
def test_wilson_interval(rate, n, lo, hi):
    assert stats.wilson_interval(rate, n) == pytest.approx((lo, hi), abs=1e-3)


def test_paired_bootstrap_separates_a_real_difference_from_noise():
    real = stats.paired_bootstrap([1.0] * 30 + [0.0] * 10, [0.0] * 30 + [0.0] * 10)
    assert real["diff"] == 0.75 and real["measurable"] and 0.55 <= real["lo"] < 0.75 < real["hi"] <= 0.9
    noise = stats.paired_bootstrap([1.0, 0.0] * 10, [0.0, 1.0] * 10)
    assert noise["diff"] == 0.0 and not noise["measurable"] and noise["lo"] < 0 < noise["hi"]
    assert stats.paired_bootstrap([1, 0, 1], [0, 0, 1], seed=3) == stats.paired_bootstrap([1, 0, 1], [0, 0, 1], seed=3)
    with pytest.raises(ValueError):
        stats.paired_bootstrap([1], [1, 0])


@pytest.mark.parametrize(("a", "b", "overlap"),
                         [((0.64, 0.97), (0.28, 0.72), True), ((0.64, 0.97), (0.18, 0.61), False),
                                                 ((0.2, 0.4), (0.4, 0.6), True), ((0.5, 0.6), (0.1, 0.2), False)])
def test_intervals_overlap_is_symmetric(a, b, overlap):
    assert stats.intervals_overlap(a, b) is overlap and stats.intervals_overlap(b, a) is overlap


def test_a_mixed_score_is_bootstrapped_part_by_part():
    from labkit.stats import mixed_paired_bootstrap, paired_bootstrap

    a, b = [1, 1, 0, 1] * 10, [0, 1, 0, 0] * 10
    # one part: the kit's paired bootstrap itself
    assert mixed_paired_bootstrap([(1.0, a, b)]) == paired_bootstrap(a, b)
    mixed = mixed_paired_bootstrap([(0.5, a, b), (0.5, [0] * 20, [1] * 20)])  # ahead on one set, behind on the other
    assert mixed["diff"] == 0.5 * 0.5 - 0.5 and mixed["measurable"] and mixed["hi"] < 0 and mixed["n"] == 60
    # weight 0: left out
    assert mixed_paired_bootstrap([(0.0, [0] * 20, [1] * 20), (1.0, a, b)]) == paired_bootstrap(a, b)
    with pytest.raises(ValueError, match="equal lists"):
        mixed_paired_bootstrap([(1.0, [1, 0], [1])])
    with pytest.raises(ValueError, match="at least one part"):
        mixed_paired_bootstrap([(0.0, a, b)])


def test_every_kind_of_rate_record_prints_with_its_interval_and_n():
    assert stats.rate_of((0.5, 40)) == "0.50 [0.35, 0.65] (n=40)"
    assert stats.rate_of({"hits": 3, "n": 4}) == "0.75 [0.30, 0.95] (n=4)"
    assert stats.rate_of({"mean": 0.35, "spread": 0.05, "n": 120, "lo": 0.27, "hi": 0.44}) == \
        "0.35 [0.27, 0.44] ± 0.05 (n=120)"
    assert stats.rate_of(None) == "n/a"
    with pytest.raises(ValueError, match="not a rate with its n"):
        stats.rate_of({"mean": 0.3})  # a bare mean is refused, not printed without its interval


def test_rate_table_is_markdown_with_a_column_per_measure_and_na_where_a_row_lacks_one():
    table = stats.rate_table({"RAG": {"accuracy": (0.5, 40)}, "fine-tuned": {"accuracy": (0.25, 40), "mc": (1.0, 4)}},
                             "row")
    assert table.splitlines() == ["| row | accuracy | mc |", "|---|---|---|",
                                  "| RAG | 0.50 [0.35, 0.65] (n=40) | n/a |",
                                  "| fine-tuned | 0.25 [0.14, 0.40] (n=40) | 1.00 [0.51, 1.00] (n=4) |"]
