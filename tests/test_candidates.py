"""labkit.candidates: the learner's answers are checked, and a constraint excludes a candidate saying why."""

import pytest

from labkit.candidates import behaviour_candidates, check_answers


def test_check_answers_rejects_unknown_values():
    with pytest.raises(ValueError, match="need"):
        check_answers({"need": "vibes"})
    with pytest.raises(ValueError, match="latency"):
        check_answers({"latency_s": 0})




def test_no_training_budget_excludes_the_lora_saying_why():
    results = {"behaviour": {"num_test": 40, **{a: {"label_accuracy": acc, "format_compliance": 1.0, "train_s": 30.0}
                                                for a, acc in (("zero_shot", 0.1), ("few_shot", 0.5), ("lora", 0.9))}}}
    out = {c.approach: c for c in behaviour_candidates({"need": "behaviour", "compute": "no training"}, results)}
    assert list(out) == ["zero_shot", "few_shot", "lora"] and out["lora"].score == 0.9
    assert out["lora"].excluded.startswith("needs training (30 s here)") and out["few_shot"].excluded is None
