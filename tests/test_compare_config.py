"""labkit.compare_config: a run's sizes, quick and full, and the `--set` overrides read as their fields' types."""

import pytest

from labkit.compare_config import CompareConfig, default_compare_config, parse_settings


def test_quick_mode_is_smaller_than_full_and_overrides_apply():
    quick, full = default_compare_config(quick=True), default_compare_config(quick=False)
    # the full run asks every question: 120 taught, 75 untaught
    assert full.num_questions is None and full.num_untaught is None
    assert (
        quick.num_questions < 120
        and quick.num_untaught < 75
        and quick.num_steps < full.num_steps
        and quick.seeds == [0]
    )
    assert full == CompareConfig() and len(full.seeds) == 3
    assert default_compare_config(quick=False, seeds=2, num_steps=96).num_steps == 96
    with pytest.raises(ValueError, match="'num_step' is not a CompareConfig setting"):
        default_compare_config(num_step=96)


def test_settings_are_read_as_their_fields_types():
    assert parse_settings(["num_questions=all", "num_raft_steps=48", "multi_document=no", "lr=1e-3",
                           "approaches=RAG, RAFT + RAG", "num_fact_messages=0"]) == {
        "num_questions": None, "num_raft_steps": 48, "multi_document": False, "lr": 0.001,
        "approaches": ("RAG", "RAFT + RAG"), "num_fact_messages": 0}
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
    ("lr=nan", "lr must be a finite number, not nan"),  # passed "checked before anything loads", and the run started
    ("lr=inf", "lr must be a finite number"),
    ("rank=1000", "rank must be at most 256, not 1000"),  # the same
    ("num_steps=1000000000", "num_steps must be at most 8000"),
    ("num_questions=196",
     "num_questions must be at most 120, not 196: 120 of data/qa.jsonl's questions are on trained documents"),
])
def test_a_wrong_setting_says_what_would_be_accepted(pair, says):
    with pytest.raises(ValueError, match=says.replace("(", r"\(")):
        parse_settings([pair])


def test_every_way_of_setting_a_size_is_checked_against_the_same_limits():
    """--set, default_compare_config's overrides and CompareConfig itself: one table (labkit.limits), one message."""
    for make in (lambda: default_compare_config(quick=True, rank=1000), lambda: CompareConfig(rank=1000),
                 lambda: default_compare_config(quick=False, **parse_settings(["rank=1000"]))):
        with pytest.raises(ValueError, match="rank must be at most 256, not 1000: LoRA's rank"):
            make()
    with pytest.raises(ValueError, match="lr must be a finite number"):
        CompareConfig(lr=float("nan"))
    with pytest.raises(ValueError, match="--seeds must be at least 1"):
        default_compare_config(seeds=0)
    with pytest.raises(ValueError, match="--seeds must be at most 20"):
        default_compare_config(seeds=10**9)  # list(range(10**9)) before any check
    with pytest.raises(ValueError, match="seed must be at most 4294967295"):
        CompareConfig(seeds=[0, 2**32])
    with pytest.raises(ValueError, match="multi_document is true or false"):
        default_compare_config(multi_document="no")
    assert default_compare_config(quick=True, num_questions=None, num_fact_messages=0, lr=1e-3).lr == 0.001
