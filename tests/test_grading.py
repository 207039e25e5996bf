"""labkit.grading: an Exercise computes its answer when checked, and each grader says what is wrong, not only that it
is."""

import pytest

from labkit.evaluate import recall_at_k
from labkit.grading import Exercise, Incorrect, close_to, equal, function_like, same_set


def test_expected_answers_follow_the_data_not_a_typed_number(capsys):
    data = {"answer": 3.0}
    calls = []
    q = Exercise("x", lambda: calls.append(1) or data["answer"], close_to(0.0, lambda e: f"{e}"))
    data["answer"] = 2.0  # the data as it is when checked, not when the exercise was written, gives the right answer
    assert q.check(2.0) and not q.check(3.0)
    assert "too high" in capsys.readouterr().out.splitlines()[-1]
    assert len(calls) == 1  # computed once (a check may bootstrap): the committed data does not change in a session


@pytest.mark.parametrize(("grader", "answer", "expected", "feedback"), [
    (close_to(0.01, str, {0.5: "two choices, not {answer}"}), 0.5, 0.25, "two choices, not 0.5"),
    (close_to(0.01, str), "many", 0.25, "give a number, not 'many'"),
    (same_set(str), ["a", "x"], {"a", "b"}, "1 missing (b); 1 not expected (x)"),
    (equal(str, lambda a, e: f"{a!r}, not {e!r}"), "RAG", "fine-tuned", "'RAG', not 'fine-tuned'"),
    (function_like(recall_at_k, [(["a", "b"], ["b"], 1)], "agrees"), lambda r, g, k: 1.0, None,
     "returned 1.0; expected 0.0"),
    (function_like(recall_at_k, [(["a"], ["a"], 1)], "agrees"), lambda r, g, k: None, None, "did you forget `return`?"),
    (function_like(recall_at_k, [(["a"], ["a"], 1)], "agrees"), lambda r, g, k: 1 / 0, None,
     "raised ZeroDivisionError"),
    (function_like(recall_at_k, [(["a"], ["a"], 1)], "agrees"), 1.0, None, "pass your function itself"),
])
def test_each_grader_says_what_is_wrong(grader, answer, expected, feedback):
    with pytest.raises(Incorrect) as caught:
        grader(answer, expected)
    assert feedback in str(caught.value)


def test_right_answers_get_the_why():
    assert close_to(0.01, lambda e: f"{e} it is")(0.2502, 0.25) == "0.25 it is"
    assert same_set(lambda e: f"{len(e)} of them")(("b", "a"), {"a", "b"}) == "2 of them"
    assert equal(lambda e: f"{e} it is")("RAG", "RAG") == "RAG it is"
    assert function_like(recall_at_k, [(["a", "b"], ["b"], 2)], "agrees")(lambda r, g, k: 1.0, None) == "agrees"
