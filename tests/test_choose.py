"""Tests for labkit.choose: the rules of recommend(), reasons quoting measured numbers, the widget headless."""

import re

import pytest

from labkit.choose import check_answers, recommend


def stat(mean, spread=0.0):
    return {"mean": mean, "spread": spread}


RESULTS = {
    "scoreboard": {
        "closed-book": {"accuracy": stat(0.06), "cited_gold": stat(0.0), "general_acc": stat(0.62), "latency_p50_s": stat(0.41), "prompt_tokens": stat(31)},
        "RAG": {"accuracy": stat(0.69), "cited_gold": stat(1.0), "cited_gold_by_model": stat(0.81), "general_acc": stat(0.62), "latency_p50_s": stat(1.37),
                "prompt_tokens": stat(402), "index_build_s": stat(24.3)},
        "fine-tuned": {"accuracy": stat(0.19), "cited_gold": stat(0.0), "general_acc": stat(0.55), "train_s": stat(88.8)},
    },
    "freshness": {"update_s": stat(0.37), "retrain_s": stat(91.0), "RAG after update": {"new": stat(0.92)},
                  "fine-tuned (stale)": {"new": stat(0.04)}},
    "behaviour": {"zero_shot": {"format_compliance": 0.12, "label_accuracy": 0.25},
                  "few_shot": {"format_compliance": 0.71, "label_accuracy": 0.46},
                  "lora": {"format_compliance": 0.97, "label_accuracy": 0.58, "train_s": 120.0}},
}


def measured_numbers(results) -> set[str]:
    """Every number in the results, printed with 0, 1 and 2 decimals."""
    out = set()

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (int, float)):
            out.update({f"{x:.0f}", f"{x:.1f}", f"{x:.2f}"})

    walk(results)
    return out


@pytest.mark.parametrize("answers, choice", [
    ({"need": "knowledge", "change": "weekly or faster"}, "RAG"),
    ({"need": "knowledge", "compute": "no training"}, "RAG"),
    ({"need": "behaviour", "compute": "some training"}, "fine-tuning"),
    ({"need": "behaviour", "compute": "no training"}, "RAG"),
    ({"need": "both", "compute": "some training"}, "both"),
])
def test_recommend_rules(answers, choice):
    assert recommend(answers, RESULTS).choice == choice


@pytest.mark.parametrize("need", ["knowledge", "behaviour", "both"])
@pytest.mark.parametrize("compute", ["no training", "some training"])
def test_every_reason_quotes_a_measured_number(need, compute):
    rec = recommend({"need": need, "compute": compute, "latency_s": 0.5}, RESULTS)
    numbers = measured_numbers(RESULTS)
    assert rec.reasons
    for reason in rec.reasons:
        quoted = set(re.findall(r"\d+\.\d+|\d+", reason))
        assert quoted & numbers, reason
    assert set(rec.figures.values()) <= numbers | {"0.00"}


def test_behaviour_follows_the_measurements():
    worse = {**RESULTS, "behaviour": {**RESULTS["behaviour"], "lora": {**RESULTS["behaviour"]["lora"], "label_accuracy": 0.2, "prompt_tokens": 46}}}
    worse["behaviour"]["few_shot"] = {**worse["behaviour"]["few_shot"], "prompt_tokens": 642, "seconds_per_message": 1.0}
    rec = recommend({"need": "behaviour", "compute": "some training", "latency_s": 5.0}, worse)
    assert rec.choice == "RAG" and "0.46" in rec.text() and "0.20" in rec.text()
    assert recommend({"need": "behaviour", "compute": "some training", "latency_s": 0.5}, worse).choice == "fine-tuning"


def test_freshness_and_latency_reasons():
    rec = recommend({"need": "knowledge", "change": "weekly or faster", "latency_s": 0.5}, RESULTS)
    text = rec.text()
    assert "0.92" in text and "0.04" in text  # fresh RAG, stale fine-tune
    assert "over your 0.5 s budget" in text


def test_check_answers_rejects_unknown_values():
    with pytest.raises(ValueError, match="need must be one of"):
        check_answers({"need": "vibes"})


@pytest.mark.parametrize("lora_labels, few_labels, few_seconds, budget, wins", [
    (0.9, 0.4, 2.3, 5.0, True), (0.38, 0.75, 2.3, 5.0, False), (0.71, 0.75, 2.3, 5.0, True), (0.38, 0.75, 6.0, 5.0, True)])
def test_the_behaviour_rule_follows_labels_and_latency(lora_labels, few_labels, few_seconds, budget, wins):
    from labkit.choose import lora_wins_behaviour

    behaviour = {"lora": {"label_accuracy": lora_labels}, "few_shot": {"label_accuracy": few_labels, "seconds_per_message": few_seconds}}
    assert lora_wins_behaviour(behaviour, budget) is wins
    results = {**RESULTS, "behaviour": {**RESULTS["behaviour"],
                                         "lora": {**RESULTS["behaviour"]["lora"], "label_accuracy": lora_labels, "prompt_tokens": 44},
                                         "few_shot": {**RESULTS["behaviour"]["few_shot"], "label_accuracy": few_labels,
                                                      "seconds_per_message": few_seconds, "prompt_tokens": 628}}}
    assert recommend({"need": "behaviour", "compute": "some training", "latency_s": budget}, results).choice == ("fine-tuning" if wins else "RAG")
