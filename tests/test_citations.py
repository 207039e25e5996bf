"""labkit.citations: a citation of a source without the answer's words is flagged; a quote for an answer without
content; the terminal view."""

import pytest

from labkit.citations import citation_check, content_words, format_answer, supporting_quote
from labkit.rag import RAGAnswer, Source

SOURCES = [
    Source(1, "kettle#2", "kettle", "kettle.md", "Brimble Kettle", "Brimble Kettle > Price", 0.7,
           "The Brimble Kettle costs $89."),
    Source(2, "lamp#0", "lamp", "lamp.md", "Orrin Desk Lamp", "Orrin Desk Lamp", 0.4,
           "The lamp has a five year warranty."),
]
OFFICE = Source(2, "office-hours#0", "office-hours", "office-hours.md", "Office Hours", "Office Hours", 0.5,
                "The office is open 9 to 5 on weekdays.")
LABEL = Source(1, "policy-returns#3", "policy-returns", "policy-returns.md", "Returns Policy",
               "Returns Policy > Return shipping", 0.6, "A return label costs $41, taken from the refund.")


def _answer(answer, cited, question="How much is a return label?", sources=(LABEL, OFFICE)):
    return RAGAnswer(question, answer, list(sources), cited)


def test_a_citation_of_a_source_without_the_answer_is_flagged():
    wrong = _answer("A return label costs 41 dollars [2].", [2])  # the right answer, citing the office-hours file
    assert content_words(wrong.answer, wrong.question) == ["cost", "41", "dollar"]
    assert citation_check(wrong) == {"checked": False, "cited": [2], "missing": ["cost", "41", "dollar"]}
    text = format_answer(wrong)
    assert (
        "*[2] 0.50  office-hours#0  (office-hours.md)  <- cited [2], but [2] does not contain the answer's words "
        "(cost, 41, dollar)"
        in text
    )
    assert " [1] 0.60  policy-returns#3  (policy-returns.md)\n" in text  # the uncited source: no star, no warning
    right = _answer("A return label costs 41 dollars [1].", [1])
    # the number is there; "dollars" is "$"
    assert citation_check(right) == {"checked": True, "cited": [1], "missing": ["dollar"]}
    assert "does not contain" not in format_answer(right) and "*[1] 0.60" in format_answer(right)
    # a wrong number in the right file
    assert citation_check(_answer("It costs 14 dollars [1].", [1]))["checked"] is False


def test_words_without_numbers_need_a_clear_majority_in_the_cited_sources():
    kettle, lamp = SOURCES
    q = "Who makes the kettle?"
    assert citation_check(RAGAnswer(q, "Brimble makes it [1].", [kettle, lamp], [1]))["checked"] is True
    assert citation_check(RAGAnswer(q, "Orrin Lighting makes it [1].", [kettle, lamp], [1]))["checked"] is False
    two = RAGAnswer(q, "Brimble Kettle desk lamp warranty [1][2].", [kettle, lamp], [1, 2])  # read together
    assert citation_check(two)["checked"] is True and "[1][2] do not" in format_answer(RAGAnswer(q, "Zeta Corp [1][2].",
                                                                                                 [kettle, lamp],
                                                                                                 [1, 2]))


@pytest.mark.parametrize("answer,cited", [("The sources do not say.", []), ("The sources do not say [1].", [1]),
                                          ("A return label [1].", [1]), ("It costs 41 dollars.", [])])
def test_nothing_to_check_is_not_called_checked(answer, cited):
    assert citation_check(_answer(answer, cited))["checked"] is None


def test_a_quote_for_an_empty_answer_is_the_sentence_closest_to_the_question():
    sources = [Source(1, "a#0", "a", "a.md", "A", "", 0.9,
                      "The shop opens at 9am. The Brimble Kettle costs $89. It is green."),
               Source(2, "b#0", "b", "b.md", "B", "", 0.8, "Returns take 45 days.")]
    result = RAGAnswer("How much does the Brimble Kettle cost?", "the answer is: [1]", sources, [1])
    assert supporting_quote(result) == {"source": 1, "sentence": "The Brimble Kettle costs $89."}
    assert supporting_quote(RAGAnswer("q", "a", [], [])) is None
