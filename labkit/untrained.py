"""The untrained rows: closed-book, RAG, the shipped reading adapter and their perfect-retriever twins, once per run.

They decode greedily and train nothing, so every seed would give the same answers (spread 0): `labkit.compare`
computes them once and gives every seed the same rows. What it holds:
- `untrained_rows`: the rows and, where the run has freshness figures (`fresh_too`), the same models' answers on the
  updated index; in two parts (`UNTRAINED_PARTS`: the base model's rows, the reading adapter's), which a parallel run
  computes as two tasks and `join_untrained` puts together;
- a perfect-retriever row asks most questions with its real row's prompt, word for word: those are answered once
  (`answer_memo.RememberingGenerator`).

What it leaves out: the rows themselves (`labkit.rows`), the trained rows and the seeds (`labkit.compare`).

Example: untrained_rows(setup, ccfg).rows["RAG"]["accuracy"] -> 0.35
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from labkit.answer_memo import RememberingGenerator
from labkit.compare_config import CompareConfig
from labkit.freshness import untrained_after_update
from labkit.keys import Approach
from labkit.rows import Setup, fitting_reader, row_closed_book, row_perfect, row_rag, row_reader
from labkit.scoreboard import probe_score

# no training, greedy: once per run, the same for every seed
UNTRAINED = (Approach.CLOSED_BOOK, Approach.RAG, Approach.READER_RAG, Approach.RAG_PERFECT, Approach.READER_PERFECT)
READER_ROWS = {Approach.READER_RAG, Approach.READER_PERFECT}
# the untrained rows in two parts, a task each in a parallel run: the base model's rows, the reading adapter's
UNTRAINED_PARTS = ("base", "reader")


def fresh_too(ccfg: CompareConfig, updates: list[dict]) -> bool:
    """Whether a run has freshness figures: facts change, and a fine-tune is there to go stale.
    Example: fresh_too(default_compare_config(quick=True), load_updates()) -> True"""
    return bool(updates) and bool({Approach.FINE_TUNED, Approach.FINE_TUNED_RAG} & set(ccfg.approaches))


@dataclass(frozen=True)
class Untrained:
    """The rows that need no training and the same models' answers after the facts change: computed once per run."""

    rows: dict  # closed-book, RAG, reading adapter + RAG: those the run has, by name
    # After.RAG (and After.READER_RAG) -> answers on the updated index; empty without freshness figures
    after_update: dict


def untrained_rows(setup: Setup, ccfg: CompareConfig, log=print, parts=UNTRAINED_PARTS) -> Untrained:
    """The rows that need no training (closed-book, RAG, the shipped reading adapter) and, where the run has freshness
    figures, the same models' answers on the updated index (`freshness.untrained_after_update`).

    Example: untrained_rows(setup, ccfg).rows["RAG"]["accuracy"] -> 0.25
    They decode greedily, so every seed would give the same answers (spread 0): computed once, they
    are every seed's (recomputing them cost a third of a full-mode seed). `parts` picks the base model's rows
    ("base") and the reading adapter's ("reader"): a parallel run computes them in two tasks (`join_untrained`).
    A perfect-retriever row asks most questions with its real row's prompt, word for word: those are answered once
    (`answer_memo.RememberingGenerator`).
    """
    approaches, rows, t0 = set(ccfg.approaches), {}, time.perf_counter()

    def keep(name, row):
        rows[name] = row
        log(
            f"  {name} accuracy {row['accuracy']} ({time.perf_counter() - t0:.0f} s; every seed's: no training, greedy)"
        )

    def perfect(model, row):
        generated, remembered = model.generated, model.remembered
        out = row_perfect(setup, ccfg, model, row)
        reused = model.remembered - remembered
        log(f"  perfect retriever: {reused} of {reused + model.generated - generated} prompts were the real row's, "
            "answered once")
        return out

    if "base" in parts and {Approach.CLOSED_BOOK, Approach.RAG, Approach.RAG_PERFECT} & approaches:
        # RAG's probe score is the base model's: without the closed-book row (notebook 07) only the probe is scored
        closed_book = (row_closed_book(setup, ccfg) if Approach.CLOSED_BOOK in approaches
                       else probe_score(setup.gen, setup.probe))
        if Approach.CLOSED_BOOK in approaches:
            keep(Approach.CLOSED_BOOK, closed_book)
        base = RememberingGenerator(setup.gen)
        rag = row_rag(setup, ccfg, closed_book, base) if {Approach.RAG, Approach.RAG_PERFECT} & approaches else None
        if Approach.RAG in approaches:
            keep(Approach.RAG, rag)
        if Approach.RAG_PERFECT in approaches:
            keep(Approach.RAG_PERFECT, perfect(base, rag))
    wants_reader = "reader" in parts and bool(READER_ROWS & approaches)
    reader = fitting_reader(setup.gen) if wants_reader else None
    if wants_reader:
        if reader is None:
            log(f"  {Approach.READER_RAG}: skipped (the shipped adapter was trained on another base model)")
        else:
            reader = RememberingGenerator(reader)
            reading = row_reader(setup, ccfg, reader)
            if Approach.READER_RAG in approaches:
                keep(Approach.READER_RAG, reading)
            if Approach.READER_PERFECT in approaches:
                keep(Approach.READER_PERFECT, perfect(reader, reading))
    return Untrained(rows, untrained_after_update(setup, ccfg, reader, parts) if fresh_too(ccfg, setup.updates)
                     else {})


def join_untrained(parts: list[Untrained]) -> Untrained:
    """The untrained rows computed in parts (`untrained_rows(..., parts=...)`) as one.

    Example: join_untrained([Untrained({"RAG": r}, {}), Untrained({"reading adapter + RAG": a}, {})]).rows
        -> {"RAG": r, "reading adapter + RAG": a}
    """
    return Untrained({k: v for p in parts for k, v in p.rows.items()},
                     {k: v for p in parts for k, v in p.after_update.items()})
