"""Hostile input at the command line: every command refuses a bad option value or `--set` with exit code 2 and a
message, before any model loads and without touching a file.

Property-based (Hypothesis, derandomized, no example database): the values are drawn from `labkit.limits`' table (just
outside a range, far outside it, NaN, infinities, text that is no number) and from each command's choices.
`labkit.cli.main` runs in-process with the model loaders replaced by a function that fails the test, a temporary
LABKIT_CACHE and a temporary working folder whose listings must not change (nor the shipped files in data/ and
README.md).
"""

import argparse
import contextlib
import io
import json
import math
import os
import tempfile
from dataclasses import fields
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit.adapters
import labkit.compare
import labkit.models
from labkit.cli import _parser, main
from labkit.compare_config import CompareConfig
from labkit.config import DATA_DIR, REPO_ROOT
from labkit.keys import APPROACHES
from labkit.limits import LIMITS, bounds

# Hypothesis keeps a cache of constants even with no example database: outside the checkout, not in .hypothesis/ of the
# cwd
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "labkit-hypothesis"))
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SHIPPED = [REPO_ROOT / "README.md", DATA_DIR / "results.json", DATA_DIR / "forgetting_sweep.json",
           *sorted((DATA_DIR / "reader").iterdir())]


def _loaded(*args, **kwargs):
    raise AssertionError("loaded a model")


def _listing(folder: Path) -> list:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def run_cli(argv: list[str], prepare=None) -> tuple[int, str, dict]:
    """main(argv) in a fresh temporary cache and working folder with no model loadable: (exit code, stderr, what
    changed).

    `prepare(cwd)` may put files there first (they are part of the "before" listing).
    """
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        cache, cwd = Path(tmp, "cache"), Path(tmp, "cwd")
        cache.mkdir()
        cwd.mkdir()
        if prepare is not None:
            prepare(cwd)
        before = (_listing(cache), _listing(cwd), [(p.stat().st_size, p.stat().st_mtime_ns) for p in SHIPPED])
        err = io.StringIO()
        try:
            os.environ["LABKIT_CACHE"] = str(cache)
            os.chdir(cwd)
            with contextlib.ExitStack() as stack:
                # compare and adapters import the loaders by name
                for module in (labkit.models, labkit.compare, labkit.adapters):
                    for name in ("load_generator", "load_embedder"):
                        if hasattr(module, name):
                            stack.enter_context(mock.patch.object(module, name, _loaded))
                stack.enter_context(contextlib.redirect_stderr(err))
                stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
                try:
                    rc = main([a.replace("{cwd}", str(cwd)) for a in argv])
                except SystemExit as exc:  # argparse's usage error
                    rc = exc.code
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)  # compare --quick sets LABKIT_QUICK in-process
        after = (_listing(cache), _listing(cwd), [(p.stat().st_size, p.stat().st_mtime_ns) for p in SHIPPED])
        changed = {what: (b, a) for what, b, a in zip(("cache", "cwd", "shipped"), before, after, strict=True) if b
                   != a}
    return rc, err.getvalue(), changed


def assert_refused(argv, says: str, prepare=None):
    rc, err, changed = run_cli(argv, prepare)
    command = argv[0]
    assert rc == 2, (argv, rc, err)
    # a command body's refusal is "labkit CMD: ..."; argparse's is "labkit CMD: error: ..." (or "labkit: error:" for an
    # unknown option)
    assert f"labkit {command}: " in err or "labkit: error: " in err, (argv, err)
    assert says in err, (argv, says, err)
    assert changed == {}, (argv, changed)


# ---------------------------------------------------------------- values a setting must refuse, from the limits table


def _parses(text: str, whole: bool) -> bool:
    try:
        (int if whole else float)(text.strip())
    except ValueError:
        return False
    return True


def outside(name: str, allow=()) -> st.SearchStrategy[str]:
    """Typed texts the setting must refuse: numbers outside its range (just and far), NaN, infinities, words, fractions.
    `allow` lists texts its owner accepts besides numbers ("all")."""
    limit = LIMITS[name]
    low, high = bounds(name)
    if limit.whole:
        numbers = st.integers(max_value=low - 1) | st.integers(min_value=high
                                                               + 1) | st.sampled_from([low - 1, high + 1])
        junk = st.sampled_from(["1.5", "1e3", "0x10", "nan", "inf", "-inf", "", "ten", "--"])
    else:
        def out_of_range(x):  # -0.0 is 0 (a share of 0 is fine), so only values really outside count
            return not (low < x if limit.low_open else low <= x) or not (x < high if limit.high_open else x <= high)

        numbers = (st.floats(max_value=low) | st.floats(min_value=high)
                   | st.sampled_from([low, high, math.nan, math.inf, -math.inf])
                   ).filter(out_of_range)
        junk = st.sampled_from(["", "ten", "1,5", "0.1.2", "--"])
    words = st.text(max_size=12).filter(lambda t: not _parses(t, limit.whole) and t.strip().lower() not in allow)
    return st.one_of(numbers.map(str), junk, words)


def inside(name: str) -> st.SearchStrategy[str]:
    """Typed texts inside the setting's range."""
    limit = LIMITS[name]
    low, high = bounds(name)
    if limit.whole:
        return st.integers(int(low), int(high)).map(str)
    return st.floats(low, high, exclude_min=limit.low_open, exclude_max=limit.high_open).map(repr)


# each command's numeric options (flag -> limit), the words it needs, and valid extras drawn beside the bad value
OPTIONS = {
    "ask": (["ask", "How long is the return window?"], {"--top-k": "top_k"}),
    "train-reader": (["train-reader", "--out", "{cwd}/reader", "--no-eval"],
                     {"--steps": "num_reader_steps", "--seed": "seed"}),
    "finetune": (["finetune", "--json"],
                 {"--rank": "rank", "--lr": "lr", "--num-steps": "num_steps", "--steps": "num_steps",
                                         "--replay": "replay", "--fact-statements": "fact_statements"}),
    "compare": (["compare", "--quick", "--out", "{cwd}/reports"], {"--seeds": "seeds", "--workers": "workers"}),
}
CHOICES = {"ask": (["ask", "A question?"], "--reader", ("adapter", "plain")),
           "finetune": (["finetune"], "--method", ("lora", "full")), "bundle": (["bundle"], None, ("pack", "unpack"))}


@st.composite
def bad_option(draw):
    command = draw(st.sampled_from(sorted(OPTIONS)))
    base, options = OPTIONS[command]
    flag = draw(st.sampled_from(sorted(options)))
    pool = sorted(f for f in options if options[f] != options[flag])
    others = draw(st.lists(st.sampled_from(pool), unique=True)) if pool else []
    argv = list(base)
    for other in others:  # valid values beside the bad one: the refusal must not depend on them
        argv.append(f"{other}={draw(inside(options[other]))}")
    bad = draw(outside(options[flag]))
    at = len(base) + draw(st.integers(0, len(others)))
    argv[at:at] = [f"{flag}={bad}"]  # "--rank=-5": a value starting with "-" reaches the check
    return argv, flag


@FAST
@given(bad_option())
def test_a_bad_number_for_any_option_is_refused_before_anything_loads(case):
    argv, flag = case
    assert_refused(argv, flag)


@FAST
@given(st.sampled_from(sorted(CHOICES)), st.text(max_size=12))
def test_a_choice_outside_the_choices_is_refused(command, word):
    base, flag, choices = CHOICES[command]
    # a positional starting with "-" is an option to argparse
    if word in choices or (flag is None and word.startswith("-")):
        return
    assert_refused(base + [f"{flag}={word}" if flag else word], "invalid choice")


# ---------------------------------------------------------------- compare --set


NUMERIC = [f.name for f in fields(CompareConfig) if f.name in LIMITS]
NULLABLE = {f.name for f in fields(CompareConfig) if "None" in str(f.type)}
BOOLS = [f.name for f in fields(CompareConfig) if str(f.type) == "bool"]
KEYS = {f.name for f in fields(CompareConfig)}


@st.composite
def bad_setting(draw):
    how = draw(st.sampled_from(["number", "no equals", "unknown key", "bool", "approaches", "seeds"]))
    if how == "number":
        key = draw(st.sampled_from(NUMERIC))
        return f"{key}={draw(outside(key, allow={'all', 'none'} if key in NULLABLE else ()))}"
    if how == "no equals":
        return draw(st.text(max_size=16).filter(lambda t: "=" not in t))
    if how == "unknown key":
        key = draw(st.text(max_size=16).filter(lambda k: "=" not in k and k.strip() not in KEYS))
        return f"{key}={draw(st.text(max_size=8))}"
    if how == "bool":
        word = draw(st.text(max_size=8).filter(lambda w: w.strip().lower() not
                                               in {"1", "true", "yes", "on", "0", "false", "no", "off"}))
        return f"{draw(st.sampled_from(BOOLS))}={word}"
    if how == "approaches":
        row = draw(st.text(min_size=1,
                           max_size=12).filter(lambda a: "," not in a and a.strip() and a.strip() not in APPROACHES))
        return f"approaches=RAG,{row}"
    return f"seeds={draw(st.integers(1, 3))}"


@FAST
@given(st.lists(st.sampled_from(["num_steps=24", "rank=8", "lr=0.001", "num_questions=all", "multi_document=no"]),
                max_size=3),
       bad_setting())
def test_a_bad_set_is_refused_before_anything_loads(good, bad):
    argv = ["compare", "--quick", "--out", "{cwd}/reports"]
    for pair in [*good, bad]:
        # "--set=" so a value starting with "-" reaches the check, not argparse's option reader
        argv.append(f"--set={pair}")
    assert_refused(argv, "--set")


# ---------------------------------------------------------------- the other commands: doctor, sweep, bundle, publish


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@FAST
@given(st.sampled_from(["doctor", "ask", "train-reader", "finetune", "sweep", "compare", "bundle", "publish"]),
       st.from_regex(r"--[a-z][a-z-]{2,12}", fullmatch=True))
def test_an_unknown_option_is_refused(command, flag):
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    known = {o for sub in commands.values() for a in sub._actions for o in a.option_strings}
    if any(k.startswith(flag) for k in known):  # argparse takes unambiguous prefixes of known options
        return
    needs = {"ask": ["A question?"], "bundle": ["pack"], "publish": ["results.json"]}.get(command, [])
    assert_refused([command, *needs, flag], "unrecognized arguments")


@FAST
@given(st.text(max_size=200).filter(lambda t: not _is_json(t)) | st.just(json.dumps({"quick": True, "scoreboard": {}})))
def test_publish_refuses_a_results_file_that_is_not_a_full_run_and_writes_nothing(text):
    assert_refused(["publish", "results.json"], "labkit publish: ",
                   prepare=lambda cwd: (cwd / "results.json").write_text(text))



def test_publish_and_sweep_refuse_a_missing_file_or_a_folder():
    assert_refused(["publish", "missing.json"], "missing.json")
    assert_refused(["sweep", "--out", "{cwd}"], "is a folder")
    assert_refused(["sweep", "--quick", "--out", str(DATA_DIR / "forgetting_sweep.json")], "quick sweep would replace")


# ---------------------------------------------------------------- the issue's two cases, by hand


@pytest.mark.parametrize("argv, says", [
    # built its step plan: 4 GB, no step
    (["finetune", "--num-steps", "1000000000"], "num_steps must be at most 8000, not 1000000000"),
    # started the run
    (["compare", "--quick", "--set", "lr=nan", "--set", "rank=1000"], "lr must be a finite number, not nan"),
    (["compare", "--quick", "--set", "rank=1000"], "rank must be at most 256, not 1000"),
])
def test_the_issues_absurd_values_are_refused_before_any_model_loads(argv, says):
    assert_refused(argv, says)
