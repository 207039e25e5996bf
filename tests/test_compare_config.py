"""labkit.compare_config: a run's sizes, quick and full, and the `--set` overrides read as their fields' types."""

import pytest

from labkit.compare_config import CompareConfig, default_compare_config, parse_settings


def test_quick_mode_is_smaller_than_full_and_overrides_apply():
    quick, full = default_compare_config(quick=True), default_compare_config(quick=False)
    assert quick.num_questions < full.num_questions and quick.num_steps < full.num_steps and quick.seeds == [0]
    assert full == CompareConfig() and len(full.seeds) == 3
    assert default_compare_config(quick=False, seeds=2, num_steps=96).num_steps == 96
    with pytest.raises(ValueError, match="'num_step' is not a CompareConfig setting"):
        default_compare_config(num_step=96)


def test_settings_are_read_as_their_fields_types():
    assert parse_settings(["num_questions=all", "raft_steps=48", "multi_document=no", "lr=1e-3", "approaches=RAG, RAFT + RAG",
                           "hybrid_messages=0"]) == {
        "num_questions": None, "raft_steps": 48, "multi_document": False, "lr": 0.001, "approaches": ("RAG", "RAFT + RAG"),
        "hybrid_messages": 0}
    assert parse_settings(None) == {} and parse_settings(["rebuild_index=1"]) == {"rebuild_index": True}


@pytest.mark.parametrize("pair, says", [
    ("num_steps", "write key=value with one of num_questions"),
    ("seeds=3", "seeds: use --seeds"),
    ("num_steps=x", "num_steps takes a whole number"),
    ("num_questions=1.5", "num_questions takes a whole number or all"),
    ("num_steps=all", "num_steps takes a whole number"),  # no "all" where None means nothing
    ("top_k=0", "top_k must be at least 1"),
    ("lr=-1", "lr must be above 0"),
    ("multi_document=maybe", "multi_document is true or false"),
    ("approaches=RAG,RAGG", "approaches are rows of the scoreboard"),
])
def test_a_wrong_setting_says_what_would_be_accepted(pair, says):
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        parse_settings([pair])
