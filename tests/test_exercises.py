"""labkit.exercises: every solution passes its check, wrong answers fail with feedback, hints and solutions print."""

import pytest

from labkit.exercises import NOTEBOOKS, for_notebook

ALL = [(nb, name) for nb in NOTEBOOKS for name in vars(for_notebook(nb))]
def unfinished(*args):
    ...  # the notebook's placeholder: a function whose body is still "..."


WRONG = [12345, "no such thing", lambda *a: 0.0, unfinished]  # each wrong for every exercise


def run_solution(q):
    """Execute the printed solution as a learner would paste it; return what it leaves in `answer` (None if it checks
    itself)."""
    ns = {"q1": q, "q2": q}
    exec(q.solution_code, ns)
    return ns.get("answer")


@pytest.mark.parametrize(("nb", "name"), ALL)
def test_the_solution_passes_and_wrong_answers_get_feedback(nb, name, capsys):
    q = getattr(for_notebook(nb), name)
    answer = run_solution(q)
    if answer is not None:
        assert q.check(answer) is True
    assert "Correct: " in capsys.readouterr().out
    for wrong in WRONG:
        assert q.check(wrong) is False
        out = capsys.readouterr().out
        # says what is wrong, not only that it is
        assert out.startswith("Not yet: ") and len(out) > len("Not yet: ") + 15
    q.hint()
    q.solution()
    out = capsys.readouterr().out
    assert out.startswith("Hint 1/") and "Solution:" in out


def test_a_blank_answer_says_what_to_do(capsys):
    q = for_notebook("01").q1
    assert q.check(...) is False and "replace the ..." in capsys.readouterr().out


def test_known_mistakes_get_their_own_feedback(capsys):
    assert for_notebook("04").q1.check(576 * 576) is False
    assert "whole matrix" in capsys.readouterr().out
    assert for_notebook("01").q2.check((0.538, 0.962)) is False  # rate ± 1.96 sd
    assert "normal approximation" in capsys.readouterr().out

    def unscaled(x, W, A, B, alpha, rank):
        return x @ W.T + x @ A.T @ B.T
    assert for_notebook("04").q2.check(unscaled) is False
    assert "alpha / rank" in capsys.readouterr().out


def test_hints_get_more_specific_then_stay_on_the_last(capsys):
    q = for_notebook("01").q1
    for _ in range(3):
        q.hint()
    lines = capsys.readouterr().out.splitlines()
    assert [line[:8] for line in lines] == ["Hint 1/2", "Hint 2/2", "Hint 2/2"]


def test_unknown_notebook_is_a_clear_error():
    with pytest.raises(ValueError, match="choose one of 01"):
        for_notebook("99")
