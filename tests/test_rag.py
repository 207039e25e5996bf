"""labkit.rag: prompts with numbered sources, cited answers from the real model, the terminal view of an answer."""

import json

import pytest

from labkit.citations import format_answer
from labkit.config import KB_DIR
from labkit.folder_index import index_folder
from labkit.rag import (
    RAG,
    Source,
    best_source,
    build_prompt,
    cited_numbers,
    clean_answer,
    closed_book,
    is_empty_answer,
    quote_for,
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


def test_a_quote_is_the_cited_sources_sentence_closest_to_the_question_and_a_long_one_is_cut_to_its_best_window():
    assert quote_for("How much does the kettle cost?", SOURCES) == {"source": 1,
                                                                    "sentence": "The Brimble Kettle costs $89."}
    assert quote_for("How much does the kettle cost?", SOURCES, cited=[2])["source"] == 2  # the model's pick stands
    table = " ".join(f"row{i} 0.{i}" for i in range(60)) + " petal width mean 1.20 " + " ".join(f"x{i}" for i in
                                                                                               range(60))
    long = [Source(1, "iris#1", "iris", "iris.rst", "Iris", "", 0.5, table)]
    quote = quote_for("What is the mean petal width?", long, max_words=200)["sentence"]
    assert len(quote.split()) == 40 and "petal width mean 1.20" in quote
    assert quote_for("q", []) is None


@pytest.mark.parametrize("raw", [".", "[2]", "The answer is: [1]", "How much does the kettle cost?"])
def test_an_answer_without_content_becomes_the_supporting_quote_marked_as_one(generator, raw):
    """A bare "." was printed as the answer (issue 29): with quote_empty, as `labkit ask` runs, the answer is the
    sentence of the source the model pointed at, marked answer_kind "quote", the model's words kept beside it."""
    question = "How much does the kettle cost?"
    result = RAG(None, generator, quote_empty=True)._finish(question, raw, SOURCES, "prompt", 0.0, 0.0)
    number = 2 if raw == "[2]" else 1
    assert result.answer_kind == "quote" and result.model_answer == raw and result.cited == [number]
    assert result.answer == f"\"{SOURCES[number - 1].text}\" [{number}]" and not is_empty_answer(result.answer,
                                                                                                  question)
    assert f"quote from source [{number}]" in format_answer(result) and repr(raw) in format_answer(result)
    plain = RAG(None, generator)._finish(question, raw, SOURCES, "prompt", 0.0, 0.0)  # the model's own reading
    assert plain.answer_kind == "answer" and plain.model_answer == "" and is_empty_answer(plain.answer, question)
    kept = RAG(None, generator, quote_empty=True)._finish(question, "$89 [1].", SOURCES, "prompt", 0.0, 0.0)
    assert (kept.answer, kept.answer_kind) == ("$89 [1].", "answer")


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
