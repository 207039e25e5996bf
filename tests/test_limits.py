"""labkit.limits: the one table of checked ranges; check() accepts everything inside a range and refuses just outside
it."""

import argparse
import math
import os
import tempfile
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.limits import LIMITS, bounds, check, option, read

# Hypothesis keeps a cache of constants even with no example database: outside the checkout, not in .hypothesis/ of the
# cwd
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "labkit-hypothesis"))
FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None)
NAMES = sorted(LIMITS)


@st.composite
def inside(draw):
    name = draw(st.sampled_from(NAMES))
    limit, (low, high) = LIMITS[name], bounds(name)
    if limit.whole:
        return name, draw(st.integers(int(low), int(high)) | st.sampled_from([int(low), int(high)]))
    return name, draw(st.floats(low, high, exclude_min=limit.low_open, exclude_max=limit.high_open))


@FAST
@given(inside())
def test_everything_inside_a_range_is_accepted_as_it_is(case):
    name, value = case
    assert check(name, value) == value and type(check(name, value)) is type(value)
    assert read(name, repr(value)) == value  # typed, as on the command line
    assert option(name)(f" {value!r} ") == value


def _just_outside(name):
    limit, (low, high) = LIMITS[name], bounds(name)
    if limit.whole:
        return [low - 1, high + 1]
    return [low if limit.low_open else math.nextafter(low, -math.inf),
            high if limit.high_open else math.nextafter(high, math.inf)]


@pytest.mark.parametrize("name", NAMES)
def test_just_outside_a_range_is_refused_with_the_reason(name):
    for value in _just_outside(name):
        with pytest.raises(ValueError, match=rf"^{name} must be .*, not .*: ") as refused:
            check(name, value)
        assert LIMITS[name].reason in str(refused.value)
        with pytest.raises(argparse.ArgumentTypeError, match=name):
            option(name)(repr(value))


@FAST
@given(st.sampled_from(NAMES),
       st.sampled_from([math.nan, math.inf, -math.inf]) | st.text(max_size=6) | st.booleans() | st.none())
def test_nan_infinities_and_non_numbers_are_refused(name, value):
    with pytest.raises(ValueError, match=name):
        check(name, value)


@FAST
@given(st.sampled_from(NAMES), st.integers(min_value=2**64) | st.integers(max_value=-(2**64)))
def test_huge_numbers_are_refused_and_said_short(name, value):
    with pytest.raises(ValueError) as refused:
        check(name, value)
    assert len(str(refused.value)) < 400
    with pytest.raises(ValueError, match="at most 40 characters"):
        read(name, "9" * 5000)  # never reaches int(), which refuses 4300 digits with its own words


def test_whole_numbers_take_no_fraction_and_a_label_names_the_option():
    assert check("num_steps", 96.0) == 96 and check("lr", 1e-3) == 0.001 and type(check("replay", 0)) is float
    with pytest.raises(ValueError, match=r"^--top-k takes a whole number, not 2.5"):
        check("top_k", 2.5, "--top-k")
    with pytest.raises(ValueError, match="num_questions takes a whole number or all, not 'x'"):
        read("num_questions", "x", other="all")
    with pytest.raises(ValueError, match=r"^--workers must be between 1 and this machine's \d+ cores"):
        check("workers", 0, "--workers")


def test_the_data_sizes_in_the_table_are_the_datas():
    from labkit.behaviour_facts import fact_messages
    from labkit.data import load_probe, load_qa, load_triage, taught_questions, untaught_questions

    qa = load_qa()
    taught, updates = taught_questions(None, None)
    assert bounds("num_questions")[1] == len(taught) and bounds("num_updates")[1] == len(updates)
    assert bounds("num_untaught")[1] == len(untaught_questions(None))
    assert bounds("num_probe")[1] == len(load_probe()) and bounds("num_behaviour_test")[1] == len(load_triage("test"))
    assert bounds("num_fact_messages")[1] == len(fact_messages(None)) and bounds("fact_statements")[1] == max(
        len(q["facts"]) for q in qa)
    for name in ("num_questions", "num_untaught", "num_updates", "num_probe", "num_behaviour_test", "num_fact_messages",
                 "fact_statements"):
        assert str(int(bounds(name)[1])) in LIMITS[name].reason  # the reason says the count it is


def test_every_number_a_user_sets_has_a_limit():
    """Every numeric CompareConfig field and every numeric command-line option is checked through the table."""
    from labkit.cli import _parser
    from labkit.compare_config import CompareConfig

    numeric = [f.name for f in fields(CompareConfig) if str(f.type).split(" ")[0] in ("int", "float")]
    assert numeric and [n for n in numeric if n not in LIMITS] == []
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    plain = [f"{cmd} {'/'.join(a.option_strings)}" for cmd, sub in commands.items() for a in sub._actions if a.type
             in (int, float)]
    assert plain == []  # a bare int or float type would let 10**9 or nan through


def test_no_setting_allows_more_than_the_training_it_becomes_does():
    """Each run's steps and batch become a TrainConfig's num_steps and batch_size: a value --set allows must not fail
    mid-run."""
    steps = [n for n in LIMITS if n.endswith("_steps")]
    assert steps and all(bounds(n)[1] <= bounds("num_steps")[1] for n in steps)
    assert bounds("raft_batch_size")[1] <= bounds("batch_size")[1]


def test_train_config_refuses_a_billion_steps_before_planning_one():
    from labkit.batching import iter_batches
    from labkit.finetune import make_config

    with pytest.raises(ValueError, match="num_steps must be at most 8000"):
        make_config(num_steps=10**9)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        make_config(lr=math.nan)
    plan = iter_batches([{"input_ids": [1, 2]}], [], num_steps=10**12, batch_size=4)  # drawn as training reaches it
    assert [len(next(plan)) for _ in range(3)] == [4, 4, 4]
