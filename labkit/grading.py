"""Grading: an exercise (a task, `check`, `hint`, `solution`) and the graders that give feedback (after learntools).

What it holds:
- `Exercise`: one task. `check(answer)` prints "Correct" or "Not yet: " with feedback that
  says what the answer got wrong (not just that it is wrong) and returns True/False; `hint()`
  prints the next hint (a ladder that stops short of the answer); `solution()` prints code that
  computes the answer. A modify-and-rerun exercise reads the learner's own run: `check(answer,
  run=...)`. A write-a-function exercise knows the kit's function it is checked against, and
  `use(fn)` hands back the learner's function once it passed, else the kit's, so a notebook goes on
  with whichever is right.
- The graders, each `grade(answer, expected) -> why` or raising `Incorrect` with the feedback:
  `close_to` (a number, with messages for known mistakes), `same_set`, `equal`, `one_of` (a word
  from a fixed list), `function_like` (a function the learner writes, run against labkit's own).
- `reading`: what a learner should read off two measured rates ("higher", "lower", "no measurable
  difference"), from a paired bootstrap or, without paired items, the two 95% intervals.

What it leaves out: the notebooks' exercises themselves (`labkit.exercises`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.stats import intervals_overlap, paired_bootstrap, wilson_interval


class Incorrect(Exception):
    """Raised by a grader with the feedback a learner sees."""


@dataclass
class Exercise:
    """One exercise. `expected()` computes the right answer (`expected(run)` when it reads the learner's run);
    `grade(answer, expected) -> why` raises Incorrect with feedback."""

    task: str  # what to do, shown by `print(q)`
    expected: Callable[..., Any]  # the right answer, computed from the kit's data (and the learner's run) when checked
    grade: Callable[[Any, Any], str]  # returns the "Correct" explanation or raises Incorrect
    hints: list[str] = field(default_factory=list)  # each more specific than the last; none gives the answer away
    solution_code: str = ""
    reference: Callable | None = None  # the kit's own function a write-a-function exercise is checked against
    run_name: str = ""  # the notebook variable a modify-and-rerun check reads: check(answer, run=<run_name>)
    lazy: bool = False  # grade gets `expected` as a function to call only if it needs it (it runs a model)
    _hints_shown: int = 0
    _passed: Any = None  # the last answer that passed: `use` hands a passed function back
    # the right answer once computed: from the data (it stays right), or [run, answer] for the run last checked
    _expected: list = field(default_factory=list)

    def check(self, answer, run=None) -> bool:
        """Print whether `answer` is right, with feedback; return True/False. Example: q.check(0.25) -> True."""
        if answer is None or answer is Ellipsis:
            print("Not yet: replace the ... (or None) with your answer, then run the cell again.")
            return False
        if self.run_name and run is None:
            print(f"Not yet: this check reads your run too: q.check(answer, run={self.run_name}).")
            return False
        try:
            want = (lambda: self._from_run(run)) if self.run_name else self._from_data
            why = self.grade(answer, want if self.lazy else want())
        except Incorrect as exc:
            print(f"Not yet: {exc}")
            return False
        print(f"Correct: {why}")
        self._passed = answer
        return True

    def _from_data(self):
        if not self._expected:
            self._expected.append(self.expected())
        return self._expected[0]

    def _from_run(self, run):
        """The right answer for this run, computed once per run object (a check may bootstrap)."""
        if not self._expected or self._expected[0] is not run:
            self._expected[:] = [run, self.expected(run)]
        return self._expected[1]

    def use(self, mine: Callable) -> Callable:
        """Your function if it passed this check, else the kit's own (saying which), so the notebook goes on with a
        right one. Example: chunker = ex.chunker.use(chunk)"""
        if self.reference is None:
            raise ValueError("this exercise has no function of the kit's to fall back on")
        kit = f"labkit's {self.reference.__module__.removeprefix('labkit.')}.{self.reference.__name__}"
        if mine is not None and mine is self._passed:
            print(f"Using your {getattr(mine, '__name__', 'function')} (it agrees with {kit}).")
            return mine
        print(f"Using {kit}: yours has not passed its check yet (run the check cell after you change it).")
        return self.reference

    def hint(self) -> None:
        """Print the next hint (they get more specific). Example: q.hint()."""
        if not self.hints:
            print("No hint for this one: re-read the section above.")
            return
        print(f"Hint {min(self._hints_shown, len(self.hints) - 1) + 1}/{len(self.hints)}: "
              f"{self.hints[min(self._hints_shown, len(self.hints) - 1)]}")
        self._hints_shown += 1

    def solution(self) -> None:
        """Print code that computes the answer. Example: q.solution()."""
        print("Solution:\n" + self.solution_code.strip())

    def __repr__(self) -> str:
        return self.task


# ---- graders ------------------------------------------------------------------------------

def close_to(tolerance: float, why: Callable[[Any], str], wrong: dict | None = None):
    """A grader for a number within `tolerance` (relative), with feedback for known wrong answers (value -> message).

    Example: close_to(0.01, lambda e: "right", {0.5: "that is two choices"})(0.5, 0.25)
        -> raises Incorrect("that is two choices")
    """
    def grade(answer, expected):
        try:
            value = float(answer)
        except (TypeError, ValueError):
            raise Incorrect(f"give a number, not {answer!r}") from None
        if math.isclose(value, expected, rel_tol=tolerance, abs_tol=1e-9):
            return why(expected)
        for bad, message in (wrong or {}).items():
            if math.isclose(value, bad(expected) if callable(bad) else bad, rel_tol=tolerance, abs_tol=1e-9):
                raise Incorrect(message.format(answer=answer))
        raise Incorrect(f"{answer} is not it; {'too high' if value > expected else 'too low'}. Try hint().")
    return grade


def same_set(why: Callable[[Any], str]):
    """A grader for a collection whose order does not matter; feedback names what is missing and what is extra.

    Example: same_set(str)(["a", "x"], {"a", "b"}) -> raises Incorrect("1 missing (b); 1 not expected (x)")
    """
    def grade(answer, expected):
        if isinstance(answer, str):
            answer = [answer]
        try:
            got = set(answer)
        except TypeError:
            raise Incorrect(f"give a list or set of names, not {answer!r}") from None
        want = set(expected)
        if got == want:
            return why(expected)

        def some(items):
            items = sorted(map(str, items))
            return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
        missing, extra = want - got, got - want
        raise Incorrect("; ".join(part for part in (f"{len(missing)} missing ({some(missing)})" if missing else "",
                                                    f"{len(extra)} not expected ({some(extra)})" if extra else "")
                                                    if part))
    return grade


def equal(why: Callable[[Any], str], explain: Callable[[Any, Any], str] | None = None):
    """A grader for an exact answer (a name, a bool, an int).
    Example: equal(lambda e: f"{e} it is")("RAG", "RAG") -> "RAG it is"."""
    def grade(answer, expected):
        if answer == expected:
            return why(expected)
        raise Incorrect(explain(answer, expected) if explain else f"{answer!r} is not it. Try hint().")
    return grade


def one_of(options, why: Callable[[Any], str], explain: Callable[[Any, Any], str] | None = None):
    """A grader for one word of a fixed list (case and spaces ignored); anything else is told the list.

    Example: one_of(("retrieval", "reading"), str)("Reading ", "reading") -> "reading"
    """
    options = tuple(options)

    def grade(answer, expected):
        word = " ".join(str(answer).lower().split()) if isinstance(answer, str) else answer
        if word not in options:
            raise Incorrect(f"answer one of: {', '.join(repr(o) for o in options)} (not {answer!r})")
        if word == expected:
            return why(expected)
        raise Incorrect(explain(word, expected) if explain else f"{answer!r} is not what was measured. Try hint().")
    return grade


READINGS = ("higher", "lower", "no measurable difference")  # what a learner reads off two measured rates


def reading(mine: list | tuple, theirs: list | tuple) -> dict:
    """How a rate measured in the learner's run reads against the notebook's: "higher", "lower" or "no measurable
    difference", with the figures behind it. Each side is a list of 0/1 per item (paired: the same items in the same
    order, a paired bootstrap) or a (rate, n) pair (95% Wilson intervals, apart or not).

    Example: reading((0.9, 120), (0.5, 120))["reading"] -> "higher"; reading([1, 0], [0, 1])["reading"]
        -> "no measurable difference"
    """
    if isinstance(mine, tuple) and isinstance(theirs, tuple):
        (a, n_a), (b, n_b) = mine, theirs
        ci_a, ci_b = wilson_interval(a, n_a), wilson_interval(b, n_b)
        apart = not intervals_overlap(ci_a, ci_b)
        basis = (f"{a:.2f} [{ci_a[0]:.2f}, {ci_a[1]:.2f}] (n={n_a}) against {b:.2f} [{ci_b[0]:.2f}, {ci_b[1]:.2f}] "
                 f"(n={n_b}): the intervals {'are apart' if apart else 'overlap'}")
        diff = a - b
    else:
        d = paired_bootstrap([float(x) for x in mine], [float(x) for x in theirs])
        a, b = sum(mine) / len(mine), sum(theirs) / len(theirs)
        apart, diff = d["measurable"], d["diff"]
        basis = (f"{a:.2f} against {b:.2f} on the same {d['n']} items, difference {d['diff']:+.2f} "
                 f"[{d['lo']:+.2f}, {d['hi']:+.2f}] (paired bootstrap){'' if apart else ': it includes zero'}")
    word = READINGS[2] if not apart or diff == 0 else READINGS[0] if diff > 0 else READINGS[1]
    return {"reading": word, "basis": basis}


def function_like(reference: Callable, cases: list[tuple], why: str):
    """A grader for a function the learner writes: it must agree with labkit's on every case.

    Example: function_like(recall_at_k, [(["a"], ["a"], 1)], "agrees")(lambda r, g, k: 1.0, None) -> "agrees"
    """
    def grade(answer, expected):
        if not callable(answer):
            raise Incorrect("pass your function itself (its name, without brackets)")
        for args in cases:
            try:
                got = answer(*args)
            except Exception as exc:  # the learner's code: show what it raised, on which input
                raise Incorrect(f"your function raised {type(exc).__name__}: {exc} on {args!r}") from None
            want = reference(*args)
            if got is None:
                raise Incorrect(f"on {args!r} it returned None: did you forget `return`? Expected {want!r}")
            try:
                same = (
                    math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-9)
                    if isinstance(want, (int, float))
                    else got == want
                )
            except (TypeError, ValueError):
                same = False
            if not same:
                raise Incorrect(f"on {args!r} it returned {got!r}; expected {want!r}")
        return why
    return grade
