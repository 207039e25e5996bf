"""Grading: an exercise (a task, `check`, `hint`, `solution`) and the graders that give feedback (after learntools).

What it holds:
- `Exercise`: one task. `check(answer)` prints "Correct" or "Not yet: " with feedback that
  says what the answer got wrong (not just that it is wrong) and returns True/False; `hint()`
  prints the next hint; `solution()` prints code that computes the answer.
- The graders, each `grade(answer, expected) -> why` or raising `Incorrect` with the feedback:
  `close_to` (a number, with messages for known mistakes), `same_set`, `equal`, and
  `function_like` (a function the learner writes, run against labkit's own).

What it leaves out: the notebooks' exercises themselves (`labkit.exercises`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Incorrect(Exception):
    """Raised by a grader with the feedback a learner sees."""


@dataclass
class Exercise:
    """One exercise. `expected()` computes the right answer; `grade(answer, expected)` raises Incorrect with
    feedback."""

    task: str  # what to do, shown by `print(q)`
    expected: Callable[[], Any]  # the right answer, computed from the kit's data when checked
    grade: Callable[[Any, Any], str]  # returns the "Correct" explanation or raises Incorrect
    hints: list[str] = field(default_factory=list)
    solution_code: str = ""
    _hints_shown: int = 0

    def check(self, answer) -> bool:
        """Print whether `answer` is right, with feedback; return True/False. Example: q.check(0.25) -> True."""
        if answer is None or answer is Ellipsis:
            print("Not yet: replace the ... (or None) with your answer, then run the cell again.")
            return False
        try:
            why = self.grade(answer, self.expected())
        except Incorrect as exc:
            print(f"Not yet: {exc}")
            return False
        print(f"Correct: {why}")
        return True

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
