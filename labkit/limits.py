"""Checked ranges: every number a user can hand the kit, with the reason for its range, checked in one place.

What is here: `LIMITS`, the table (a setting's name -> `Limit`: whole number or not, lowest and highest
value, why); `check(name, value)`, which returns the value or raises a ValueError that says the range and
the reason; `read(name, text)`, the same from a typed text (`--set rank=8`); `option(name)`, an argparse
`type=` made from it, so the command line refuses a bad number before anything loads. The command line
(`labkit.cli`), `CompareConfig` (`compare_config`) and `TrainConfig` (`finetune`) all check through here.
NaN and infinities are never a setting.

What it leaves out: what a setting's meaning allows besides a number (`all` for every question, the
choices of `--method`), which its owner reads, and every non-number (paths, names, questions).

Example: check("rank", 8) -> 8; check("num_steps", 10**9)
    -> ValueError("num_steps must be at most 8000, not 1000000000: ...")
"""

from __future__ import annotations

import argparse
import math
import operator
import os
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """One setting's range and why. Example: Limit(True, 1, 256, "LoRA's rank: ...") is rank's."""

    whole: bool  # a whole number (steps, counts) or any real number (rates, shares)
    low: float
    high: float | Callable[[], int]  # a function where the ceiling is this machine's (its cores)
    reason: str  # why the range is what it is; every refusal prints it
    low_open: bool = False  # the range excludes low itself (lr > 0)
    high_open: bool = False  # the range excludes high itself (lr < 1)
    says: str = ""  # the range in words where the plain "at most N" would hide where N comes from ({high} filled in)


# The steps' ceilings are about two hours of training each at the pace measured in make report's run (data/results.json,
# one thread under the other worker's load): the kit's lessons take minutes, so more is nearly always a slip of the
# keyboard.
_TWO_HOURS = "steps are about two hours of training at the pace make report measured"
LIMITS: dict[str, Limit] = {
    "num_steps": Limit(
        True,
        0,
        8000,
        f"0 trains nothing (the scores after are the base model's); 8000 {_TWO_HOURS} (120 steps in 103 s)",
    ),
    "num_docs_steps": Limit(
        True, 1, 3000, f"the documents-only fine-tune needs a step; 3000 {_TWO_HOURS} (48 steps in 113 s)"
    ),
    "num_raft_steps": Limit(
        True, 1, 2000, f"the retrieval-aware fine-tune needs a step; 2000 {_TWO_HOURS} (60 steps in 206 s)"
    ),
    "num_retrain_steps": Limit(
        True,
        1,
        8000,
        "bringing the adapter up to date needs a step; 8000 (num_steps' ceiling: every training "
        "is a TrainConfig) are about 1.6 hours at the pace make report measured (48 "
        "steps in 34 s)",
    ),
    "num_behaviour_steps": Limit(True, 1, 2500, f"the triage LoRA needs a step; 2500 {_TWO_HOURS} (80 steps in 221 s)"),
    "num_reader_steps": Limit(
        True,
        1,
        1000,
        "the reading adapter needs a step; 1000 steps are about two hours of training "
        "(the shipped one took 444 s for 64 steps on 2 cores, data/reader/labkit.json)",
    ),
    "batch_size": Limit(True, 1, 64, "a step holds its whole batch in memory at once: 64 is 8 times the kit's 8"),
    "raft_batch_size": Limit(
        True,
        1,
        32,
        "a step holds its whole batch of ~450-token RAFT prompts in memory at once: 32 is 8 times the kit's 4",
    ),
    "rank": Limit(
        True,
        1,
        256,
        "LoRA's rank: the kit uses 4 to 64, and 256 is almost half the width of SmolLM2-135M "
        "(hidden size 576): past it the update is hardly low-rank any more",
    ),
    "lr": Limit(
        False,
        0,
        1,
        "AdamW's step size, above 0: the kit's runs use 1e-5 to 0.01 (0.002 for LoRA); "
        "1 or more throws the weights off in one step",
        low_open=True,
        high_open=True,
    ),
    "replay": Limit(
        False,
        0,
        0.9,
        "the share of each batch drawn from general text: above 0.9 hardly a row is left for the company's facts",
    ),
    "abstain_share": Limit(
        False,
        0,
        1,
        "the share of the reading adapter's training questions that also teach the abstention (an example without "
        "their gold source); 1 would leave no question answered from its source",
        high_open=True,
    ),
    "fact_statements": Limit(True, 0, 4, "fact statements trained per question: data/qa.jsonl has at most 4 for each"),
    "top_k": Limit(
        True,
        1,
        20,
        "sources per prompt, up to 128 tokens each: 20 already overflow the 1536-token prompt "
        "(Config.max_prompt_tokens), so more would only be cut; 3 is a good start",
    ),
    "keep_loaded": Limit(
        False,
        0,
        1440,
        "minutes labkit ask keeps the model and the folder's index loaded after a question (default 10; 0 keeps "
        "nothing): at most a day, as the process holds ~1 GB of memory all the while",
    ),
    "max_file_mb": Limit(
        False,
        0,
        100,
        "the size cap on one file of a --docs folder, in megabytes (default 5): a 100 MB text "
        "is ~130,000 chunks, hours of embedding on a CPU",
        low_open=True,
    ),
    "max_new_tokens": Limit(True, 1, 256, "every answer is cut at 256 new tokens (Config.max_new_tokens_limit)"),
    "num_questions": Limit(
        True, 1, 120, "120 of data/qa.jsonl's questions are on trained documents (all teaches every one)"
    ),
    "num_untaught": Limit(True, 1, 75, "75 questions touch an unseen document (all asks every one)"),
    "num_updates": Limit(
        True, 1, 16, "16 of data/updates.jsonl's fact changes are in trained documents (all applies every one)"
    ),
    "num_probe": Limit(True, 1, 120, "data/general_probe.jsonl holds 120 items (all scores every one)"),
    "num_behaviour_test": Limit(True, 1, 88, "data/triage.jsonl holds 88 test messages (all scores every one)"),
    "num_fact_messages": Limit(
        True,
        0,
        57,
        "0 skips behaviour + facts; there are 57 product-fact questions to ask (labkit.behaviour_facts.fact_messages)",
    ),
    "seeds": Limit(
        True, 1, 20, "one whole run per seed: make report's 3 took 23 minutes, so 20 are about two and a half hours"
    ),
    "seed": Limit(True, 0, 2**32 - 1, "NumPy takes seeds from 0 to 2**32 - 1 (labkit.config.set_seed seeds it)"),
    "workers": Limit(
        True,
        1,
        lambda: os.cpu_count() or 1,
        "each worker process gets at least one core of its own (and peaks at about 6 GB)",
        says="between 1 and this machine's {high} cores",
    ),
}


def bounds(name: str) -> tuple[float, float]:
    """A setting's lowest and highest value (the machine's where it depends on it).
    Example: bounds("rank") -> (1, 256)."""
    limit = LIMITS[name]
    return limit.low, (limit.high() if callable(limit.high) else limit.high)


def _show(value) -> str:
    if isinstance(value, int) and value.bit_length() > 64:  # str() of a huge int is slow, and refused past 4300 digits
        return f"{'-' if value < 0 else ''}a number of about {int(value.bit_length() * math.log10(2))} digits"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _as_number(value) -> int | float | None:
    """An int (int, numpy integers) or a float (float, numpy floats), or None for anything else."""
    try:
        return operator.index(value)
    except TypeError:
        pass
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check(name: str, value, label: str | None = None):
    """The value if it is inside the setting's range, as its kind (int or float); else a ValueError saying the range and
    why.

    Example: check("lr", 2e-3) -> 0.002; check("lr", float("nan"))
        -> ValueError("lr must be a finite number, not nan: ...")
    `label` names the setting as the user wrote it (`--top-k`); it defaults to the table's name.
    """
    limit, label = LIMITS[name], label or name
    kind = "whole number" if limit.whole else "number"
    # True is an int to Python and "8" a float to float(): neither is a setting (read() is for typed text)
    number = None if isinstance(value, (bool, str, bytes)) else _as_number(value)
    if number is None:
        raise ValueError(f"{label} takes a {kind}, not {value!r}: {limit.reason}")
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"{label} must be a finite number, not {_show(number)}: {limit.reason}")
        if limit.whole and not number.is_integer():
            raise ValueError(f"{label} takes a whole number, not {_show(number)}: {limit.reason}")
        number = int(number) if limit.whole else number  # 96.0 is 96 steps
    low, high = bounds(name)
    too_low = number <= low if limit.low_open else number < low
    too_high = number >= high if limit.high_open else number > high
    if too_low or too_high:
        if limit.says:
            rule = limit.says.format(low=_show(low), high=_show(high))
        elif too_low:
            rule = f"{'above' if limit.low_open else 'at least'} {_show(low)}"
        else:
            rule = f"{'below' if limit.high_open else 'at most'} {_show(high)}"
        raise ValueError(f"{label} must be {rule}, not {_show(number)}: {limit.reason}")
    return number if limit.whole else float(number)


_LONGEST = 40  # characters of a typed number: enough for any float, and no 5000-digit text reaches int()


def read(name: str, text: str, label: str | None = None, other: str = "") -> int | float:
    """A typed text read as the setting's kind and checked.
    Example: read("rank", "8") -> 8; read("rank", "8.5") -> ValueError.

    `other` names what else the caller accepts in words ("all"), so the refusal says it too.
    """
    limit, label = LIMITS[name], label or name
    text = str(text).strip()
    kind = "whole number" if limit.whole else "number"
    if len(text) > _LONGEST:
        raise ValueError(f"{label} takes a {kind} of at most {_LONGEST} characters, not {text[:_LONGEST] + '...'!r}: "
                         f"{limit.reason}")
    try:
        number = int(text) if limit.whole else float(text)
    except ValueError:
        raise ValueError(
            f"{label} takes a {kind}{f' or {other}' if other else ''}, not {text!r}: {limit.reason}") from None
    return check(name, number, label)


def option(name: str, label: str | None = None) -> Callable[[str], int | float]:
    """An argparse `type=` for a setting: the typed text read and checked, a refusal is argparse's usage error (exit 2).

    Example: parser.add_argument("--rank", type=option("rank")); "--rank 1000"
        -> "error: argument --rank: rank must be at most 256, ..."
    """
    def typed(text: str):
        try:
            return read(name, text, label)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    typed.__name__ = name  # argparse names the type in some of its messages
    return typed
