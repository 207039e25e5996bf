"""labkit.cost_claims: the speed and cost claims flip with the figures measured once per row, over the synthetic run of
test_claims."""

from labkit.cost_claims import cheap_up_front, faster_without_retrieval, pays_off_long_term
from labkit.keys import Approach
from labkit.verdicts import CONTRADICTED, NO_DIFFERENCE, SUPPORTED
from tests.test_claims import make_results, once, verdict


def test_the_synthetic_run_supports_the_speed_and_up_front_claims_but_not_the_long_horizon():
    results = make_results()
    assert verdict(faster_without_retrieval, results) == SUPPORTED
    assert verdict(cheap_up_front, results) == SUPPORTED
    # keeping current costs RAG 4 s a change and the fine-tune 35 s: it never pays off over a year
    assert verdict(pays_off_long_term, results) == CONTRADICTED


def test_speed_and_costs_flip():
    results = make_results()
    results["scoreboard"][Approach.FINE_TUNED]["latency_p50_s"] = once(1.2)
    assert verdict(faster_without_retrieval, results) == CONTRADICTED
    assert "measured once per row" in faster_without_retrieval(results)["figure"]
    results["scoreboard"][Approach.FINE_TUNED]["train_s"] = once(4.2)  # within 10% of the index's 4 s
    assert verdict(cheap_up_front, results) == NO_DIFFERENCE
    results["freshness"]["retrain_s"] = once(1.0)  # retraining cheaper than an index update: the fine-tune pays off
    assert verdict(pays_off_long_term, results) == SUPPORTED
