"""labkit.question_check: an empty question is refused with what to do; bytes that are not UTF-8 are read."""

import pytest

from labkit.question_check import check_question


@pytest.mark.parametrize("bad", ["", "  \n ", None, 3])
def test_check_question_refuses_empty_with_what_to_do(bad):
    with pytest.raises(ValueError, match="type a question"):
        check_question(bad)
    assert check_question("Who?") == "Who?"


@pytest.mark.parametrize("raw, expected",
                         [("caf\udce9 hours?", "café hours?"), (b"caf\xe9 hours?", "café hours?"), ("café?", "café?")])
def test_check_question_reads_latin1_bytes_instead_of_crashing(raw, expected):
    assert check_question(raw) == expected
