"""labkit.rag: prompts with numbered sources, cited answers from the real model, the terminal view of an answer."""

import json

import pytest

from labkit.config import KB_DIR
from labkit.folder_index import index_folder
from labkit.rag import (
    RAG,
    RAGAnswer,
    Source,
    best_source,
    build_prompt,
    citation_check,
    cited_numbers,
    clean_answer,
    closed_book,
    content_words,
    format_answer,
)

SOURCES = [
    Source(1, "kettle#2", "kettle", "kettle.md", "Brimble Kettle", "Brimble Kettle > Price", 0.7,
           "The Brimble Kettle costs $89."),
    Source(2, "lamp#0", "lamp", "lamp.md", "Orrin Desk Lamp", "Orrin Desk Lamp", 0.4,
           "The lamp has a five year warranty."),
]


@pytest.fixture(scope="module")
def kb_index(embedder):
    return index_folder(KB_DIR, embedder, progress=False)


def test_prompt_numbers_sources_then_question():
    prompt = build_prompt("What does the kettle cost?", SOURCES)
    assert prompt.index("[1] Brimble Kettle > Price: The Brimble Kettle costs $89.") < prompt.index(
        "[2] Orrin") < prompt.index("Question: What does")
    assert len(build_prompt("q", [Source(1, "a#0", "a", "a", "A", "", 0.1, "word " * 500)], max_words=10).split()) < 40


@pytest.mark.parametrize("answer,n,expected",
                         [("It costs $89 [1].", 2, [1]), ("See [2] and [1][2]", 2, [2, 1]), ("[7] nope", 2, []),
                          ("none", 2, [])])
def test_cited_numbers(answer, n, expected):
    assert cited_numbers(answer, n) == expected


def test_best_source_and_cleaning():
    assert best_source("The kettle costs $89", SOURCES) == 1
    assert best_source("zzz", SOURCES) is None
    assert clean_answer(" It costs $89 [1].\n\nQuestion: what else?") == "It costs $89 [1]."


def test_rag_answers_with_sources_and_timings(kb_index, generator):
    result = RAG(kb_index, generator, top_k=3).answer("What is the price of the Brimble Kettle?")
    assert [s.number for s in result.sources] == [1, 2, 3]
    assert result.sources[0].doc_id == "product-brimble-kettle" and result.sources[0].chunk_id.startswith(
        "product-brimble-kettle#")
    assert result.cited and result.answer
    assert result.retrieve_s > 0 and result.generate_s > 0 and 100 < result.prompt_tokens < 1000
    assert result.prompt_tokens == generator.count_tokens(generator.chat_prompt(result.prompt))
    data = result.to_dict()
    assert data["answer"] == result.answer and json.dumps(data)
    text = format_answer(result)
    assert text.startswith(result.answer) and f"[1] {result.sources[0].score:.2f}  {result.sources[0].chunk_id}" in text


def test_empty_question_is_refused(kb_index, generator):
    with pytest.raises(ValueError, match="empty"):
        RAG(kb_index, generator).answer("  ")
    with pytest.raises(ValueError, match="empty"):
        closed_book(generator)("")


def test_a_very_long_question_is_cut_and_the_sources_stay(kb_index, generator):
    question = "word " * 10_000 + "What is the price of the Brimble Kettle?"
    result = RAG(kb_index, generator, top_k=3, max_new_tokens=8).answer(question)
    assert result.question_cut and len(result.sources) == 3
    assert all(s.text.split()[0] in result.prompt for s in result.sources)  # the model saw every source it may cite
    assert result.prompt.rstrip().endswith(RAG(kb_index, generator).instruction) and "Brimble Kettle?" in result.prompt
    assert result.prompt_tokens <= 1536 and all(1 <= c <= len(result.sources) for c in result.cited)


def test_fit_prompt_drops_sources_only_when_they_alone_overflow(generator):
    from labkit.rag import fit_prompt

    many = [Source(i, f"d#{i}", "d", "d.md", "D", "", 0.5, "filler " * 120) for i in range(1, 21)]
    prompt, shown, cut = fit_prompt(generator, "Price?", many, 600)
    assert 0 < len(shown) < 20 and not cut and generator.count_tokens(generator.chat_prompt(prompt)) <= 600
    assert [s.number for s in shown] == list(range(1, len(shown) + 1))  # the best-ranked ones are kept


def test_reading_misses_show_the_gold_sentence_that_held_the_answer(kb_index):
    from labkit.rag import reading_misses

    miss = {"question": "Price of the kettle?", "answer": "the answer is: [1]", "expected": "$89", "match": False,
            "retrieved_gold": True, "gold": ["product-brimble-kettle"]}
    right = {**miss, "answer": "$89 [1]", "match": True}
    not_retrieved = {**miss, "retrieved_gold": False}
    out = reading_misses([right, not_retrieved, miss], kb_index)
    assert len(out) == 1 and out[0]["answer"] == "the answer is: [1]"
    assert out[0]["chunk_id"].startswith("product-brimble-kettle#") and "$89" in out[0]["sentence"]
    assert reading_misses([{**miss, "expected": "no such words anywhere"}], kb_index)[0]["sentence"] == ""


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
