"""The guidance's claims: each verdict is computed from the figures, so changing one figure flips it (no model
loads)."""

import copy

import pytest

from labkit import claims
from labkit.behaviour_facts import BEHAVIOUR_FACTS_APPROACHES
from labkit.claims import claims_markdown, claims_table
from labkit.cost_claims import pays_off_long_term
from labkit.data import load_qa, needs_two_documents
from labkit.keys import After, Approach
from labkit.stats import wilson_interval
from labkit.verdicts import CONTRADICTED, NO_DIFFERENCE, NOT_MEASURED, SUPPORTED, VERDICTS

QA = load_qa()
MULTI = [q["id"] for q in QA if needs_two_documents(q)][:10]  # the multi-document column's questions
TAUGHT = MULTI + [q["id"] for q in QA if not needs_two_documents(q)][:40]
UNTAUGHT = [f"u{i:03d}" for i in range(50)]
CHANGED = [f"c{i:03d}" for i in range(30)]


def answers(ids, right: int) -> dict:
    """The first `right` questions answered right, the rest wrong (seeds averaged: 1.0 or 0.0)."""
    return {q: 1.0 if i < right else 0.0 for i, q in enumerate(ids)}


def rate(mean: float, n: int) -> dict:
    lo, hi = wilson_interval(mean, n)
    return {"mean": mean, "spread": 0.0, "n": n, "lo": lo, "hi": hi}


def once(value: float) -> dict:
    return {"mean": value, "spread": 0.0}


def set_answers(results: dict, column: str, row: str, right: int):
    """One row's per-question answers and its scoreboard rate, kept in step."""
    ids = {"taught": TAUGHT, "untaught": UNTAUGHT, "after_update": CHANGED}[column]
    results["per_question"].setdefault(column, {})[row] = answers(ids, right)
    if column == "after_update":
        results["freshness"][row]["new"] = rate(right / len(ids), len(ids))
    else:
        results["scoreboard"][row]["accuracy" if column == "taught" else "untaught_acc"] = rate(right / len(ids),
                                                                                                len(ids))


def make_results() -> dict:
    """A small synthetic run in which every measurable claim is supported (the shipped record's shape, new keys
    included)."""
    taught = {Approach.CLOSED_BOOK: 4, Approach.RAG: 15, Approach.FINE_TUNED: 30, Approach.FINE_TUNED_DOCS: 5,
              Approach.FINE_TUNED_RAG: 42, Approach.RAFT_RAG: 48, Approach.RAG_PERFECT: 35, Approach.READER_RAG: 25}
    untaught = {Approach.CLOSED_BOOK: 2, Approach.RAG: 20, Approach.FINE_TUNED: 3, Approach.FINE_TUNED_DOCS: 2,
                Approach.FINE_TUNED_RAG: 35, Approach.RAFT_RAG: 40, Approach.RAG_PERFECT: 40, Approach.READER_RAG: 30}
    trains = {Approach.FINE_TUNED: 100.0, Approach.FINE_TUNED_DOCS: 110.0, Approach.FINE_TUNED_RAG: 100.0,
              Approach.RAFT_RAG: 200.0}
    results = {"config": {"top_k": 3}, "seeds": [0, 1, 2], "scoreboard": {}, "per_question": {},
               "freshness": {k: {"old": rate(0.0, len(CHANGED))} for k in (After.RAG, After.STALE, After.RETRAINED)}}
    for row in taught:
        retrieves = "RAG" in row
        results["scoreboard"][row] = {
            "general_acc": rate(0.60 if row in trains and row != Approach.RAFT_RAG else 0.81, 120),
            "latency_p50_s": once(0.6 if retrieves else 0.1), "prompt_tokens": once(230.0 if retrieves else 25.0),
            "train_s": once(trains.get(row, 0.0)), "index_build_s": once(4.0 if retrieves else 0.0),
            "retrieval_miss": rate(0.12, len(TAUGHT)) if retrieves else None,
            "multi_acc": rate(0.9 if row == Approach.FINE_TUNED else 0.2, len(MULTI))}
        set_answers(results, "taught", row, taught[row])
        set_answers(results, "untaught", row, untaught[row])
    # multi-document questions come first in TAUGHT: the fine-tune gets all 10 right; RAG's 15 right include them too,
    # so RAG's are moved to the single-document questions (the fine-tune leads on the multi-document ones)
    results["per_question"]["taught"][Approach.RAG] = {q: 1.0 if 10 <= i < 25 else 0.0 for i, q in enumerate(TAUGHT)}
    for row, right in ((After.RAG, 25), (After.STALE, 1), (After.RETRAINED, 12)):
        set_answers(results, "after_update", row, right)
    results["freshness"].update({"update_s": once(4.0), "retrain_s": once(35.0), "n_updates": once(30.0)})
    results["behaviour"] = {"num_test": 40, "num_steps": 80,
                            "zero_shot": {"label_accuracy": 0.0, "format_compliance": 0.0},
                            "few_shot": {"label_accuracy": 0.42, "format_compliance": 0.92},
                            "lora": {"label_accuracy": 0.88, "format_compliance": 1.0},
                            "behaviour_facts": {"before": {
                                BEHAVIOUR_FACTS_APPROACHES[0]: {"label_accuracy": 0.12, "fact_accuracy": 0.29, "n": 24},
                                BEHAVIOUR_FACTS_APPROACHES[1]: {"label_accuracy": 0.96, "fact_accuracy": 0.0, "n": 24},
                                BEHAVIOUR_FACTS_APPROACHES[2]: {"label_accuracy": 1.0, "fact_accuracy": 0.67,
                                                                "n": 24}}}}
    return results


def verdicts(results: dict) -> dict:
    return {row["claim"]: row["verdict"] for row in claims_table(results)}


def verdict(claim, results: dict) -> str:
    return claim(results)["verdict"]


def test_the_synthetic_run_supports_every_claim_but_the_long_horizon():
    found = verdicts(make_results())
    assert set(found.values()) <= set(VERDICTS)
    # keeping current costs RAG 4 s a change and the fine-tune 35 s: it never pays off over a year
    assert verdict(pays_off_long_term, make_results()) == CONTRADICTED
    others = {c: v for c, v in found.items() if c != pays_off_long_term(make_results())["claim"]}
    assert set(others.values()) == {SUPPORTED}, others


def test_every_verdict_is_one_of_four_and_every_measured_figure_carries_an_n():
    for results in (make_results(), {}):
        for row in claims_table(results):
            assert row["verdict"] in VERDICTS
            assert set(row) == {"claim", "verdict", "figure", "condition"}
            if row["verdict"] != NOT_MEASURED:
                assert "n=" in row["figure"], row


def test_wide_updates_flip_with_the_untaught_column():
    results = make_results()
    assert verdict(claims.wide_updates, results) == SUPPORTED
    set_answers(results, "untaught", Approach.FINE_TUNED, 20)  # the fine-tune now answers what RAG answers
    assert verdict(claims.wide_updates, results) == NO_DIFFERENCE
    set_answers(results, "untaught", Approach.FINE_TUNED, 45)
    assert verdict(claims.wide_updates, results) == CONTRADICTED
    assert "untaught" in claims.wide_updates(results)["condition"]


def test_retrieval_matters_flips_when_the_perfect_retriever_adds_nothing():
    results = make_results()
    assert verdict(claims.retrieval_matters, results) == SUPPORTED
    for column in ("taught", "untaught"):
        results["per_question"][column][Approach.RAG_PERFECT] = dict(results["per_question"][column][Approach.RAG])
    assert verdict(claims.retrieval_matters, results) == NO_DIFFERENCE


def test_updates_against_retraining_flip_and_fall_back_to_intervals():
    results = make_results()
    assert verdict(claims.updates_against_retraining, results) == SUPPORTED
    set_answers(results, "after_update", After.RETRAINED, 29)
    assert verdict(claims.updates_against_retraining, results) == CONTRADICTED
    results = make_results()
    del results["per_question"]["after_update"]  # an older record: rates only
    row = claims.updates_against_retraining(results)
    assert row["verdict"] == SUPPORTED and "Wilson" in row["figure"]
    # 29/30 against RAG's 25/30: the paired answers saw it, the two intervals overlap
    results["freshness"][After.RETRAINED]["new"] = rate(29 / 30, len(CHANGED))
    assert verdict(claims.updates_against_retraining, results) == NO_DIFFERENCE


def test_documents_teach_no_facts_is_contradicted_when_the_docs_fine_tune_gains():
    results = make_results()
    assert verdict(claims.documents_teach_no_facts, results) == SUPPORTED
    set_answers(results, "taught", Approach.FINE_TUNED_DOCS, 20)
    assert verdict(claims.documents_teach_no_facts, results) == CONTRADICTED
    # no gain, but the fine-tune on questions gains nothing over the docs either: the test could not have seen one
    set_answers(results, "taught", Approach.FINE_TUNED_DOCS, 5)
    set_answers(results, "taught", Approach.FINE_TUNED, 5)
    assert verdict(claims.documents_teach_no_facts, results) == NO_DIFFERENCE


def test_forgetting_flips_with_the_general_probe():
    results = make_results()
    assert verdict(claims.forgetting, results) == SUPPORTED
    results["scoreboard"][Approach.FINE_TUNED]["general_acc"] = rate(0.78, 120)
    assert verdict(claims.forgetting, results) == NO_DIFFERENCE
    results["scoreboard"][Approach.FINE_TUNED]["general_acc"] = rate(0.97, 120)
    assert verdict(claims.forgetting, results) == CONTRADICTED


def test_behaviour_flips():
    results = make_results()
    results["behaviour"]["lora"]["label_accuracy"] = 0.45
    assert verdict(claims.behaviour_task, results) == NO_DIFFERENCE


def test_the_combined_and_multi_document_claims_flip():
    results = make_results()
    for row in (Approach.FINE_TUNED_RAG, Approach.RAFT_RAG):  # combined rows no better than RAG on the untaught column
        set_answers(results, "untaught", row, 20)
    row = claims.combined_beats_either(results)
    assert row["verdict"] == NO_DIFFERENCE and "taught column" in row["condition"]
    set_answers(results, "untaught", Approach.RAFT_RAG, 5)
    set_answers(results, "untaught", Approach.FINE_TUNED_RAG, 5)
    assert verdict(claims.combined_beats_either, results) == CONTRADICTED
    assert verdict(claims.across_documents, results) == SUPPORTED
    results["per_question"]["taught"][Approach.RAG].update(dict.fromkeys(MULTI, 1.0))
    assert verdict(claims.across_documents, results) == NO_DIFFERENCE
    results["behaviour"]["behaviour_facts"]["before"][BEHAVIOUR_FACTS_APPROACHES[2]]["fact_accuracy"] = 0.0
    assert verdict(claims.behaviour_and_facts, results) == NO_DIFFERENCE


@pytest.mark.parametrize("drop", ["per_question", "behaviour", "freshness", "scoreboard"])
def test_missing_figures_are_not_measured_here(drop):
    results = make_results()
    del results[drop]
    found = claims_table(results)
    assert any(row["verdict"] == NOT_MEASURED for row in found)
    for row in found:
        if row["verdict"] == NOT_MEASURED:
            assert row["figure"].startswith("not in these results")


def test_without_per_question_answers_paired_claims_say_not_measured_here():
    results = make_results()
    del results["per_question"]
    for claim in (claims.wide_updates, claims.retrieval_matters, claims.documents_teach_no_facts,
                  claims.combined_beats_either):
        assert verdict(claim, results) == NOT_MEASURED


def test_markdown_has_one_row_per_claim():
    results = make_results()
    lines = claims_markdown(copy.deepcopy(results)).splitlines()
    assert lines[0] == "| claim | verdict | figure | condition |"
    assert len(lines) == 2 + len(claims.CLAIMS)
