"""labkit.corpus: splitting documents into chunks, the token budget, overlap and stable ids."""

import pytest

from labkit.config import KB_DIR
from labkit.corpus import chunk_document, split_sections, word_count
from labkit.documents import Document, load_folder


@pytest.fixture(scope="module")
def kb():
    return load_folder(KB_DIR)


def test_sections_keep_heading_path():
    sections = split_sections("# A\nx\n\n## B\ny\n### C\nz\n## D\nw")
    assert sections == [("A", "x"), ("A > B", "y"), ("A > B > C", "z"), ("A > D", "w")]


@pytest.mark.parametrize("chunk_size,overlap", [(16, 0), (32, 8), (128, 24)])
def test_chunks_respect_budget_and_ids(kb, chunk_size, overlap):
    for doc in kb.documents[:10]:
        chunks = chunk_document(doc, chunk_size, overlap)
        assert [c.id for c in chunks] == [f"{doc.id}#{i}" for i in range(len(chunks))]
        assert all(word_count(c.text) <= chunk_size and c.doc_id == doc.id and c.heading for c in chunks)
    # the same input gives the same chunks: ids are stable
    assert [c.to_dict() for c in chunk_document(kb.documents[0], chunk_size, overlap)] == [c.to_dict() for c
                                                                                           in chunk_document(
                                                                                               kb.documents[0],
                                                                                               chunk_size, overlap)]


def test_overlap_repeats_text():
    text = "# T\n\n" + " ".join(f"Sentence number {i} is here." for i in range(20))
    chunks = chunk_document(Document("t", "T", "t.md", text), chunk_size=20, overlap=5)
    assert len(chunks) > 2
    assert chunks[1].text.split("\n\n")[0].split()[-1] in chunks[0].text  # the first unit of chunk 1 ends chunk 0


@pytest.mark.parametrize("chunk_size,overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_chunk_parameters(chunk_size, overlap):
    with pytest.raises(ValueError):
        chunk_document(Document("t", "T", "t.md", "hello"), chunk_size, overlap)


@pytest.mark.parametrize("text,title,expected", [
    ("# Usage\nx\n## Flags\ny", "playwright-cli",
     [("playwright-cli > Usage", "x"), ("playwright-cli > Usage > Flags", "y")]),
    ("# 7. Input and Output\nx", "7. Input and Output — Python 3.11 documentation", [("7. Input and Output", "x")]),
    ("# Returns Policy\nx", "Returns Policy", [("Returns Policy", "x")]),  # the knowledge base's shape: unchanged
    ("## Returns\nx", "Returns Policy", [("Returns Policy > Returns", "x")]),
])
def test_a_heading_path_starts_with_the_title_unless_its_top_heading_names_it(text, title, expected):
    assert split_sections(text, title) == expected


def test_chunk_paragraphs_packs_with_overlap_and_numbers_from_start():
    from labkit.corpus import chunk_paragraphs

    assert chunk_paragraphs("faq", ["a b", "c d", "e f"], chunk_size=4, overlap=2, start=3) == [
        ("faq#3", "a b\n\nc d"), ("faq#4", "c d\n\ne f")]
    assert chunk_paragraphs("x", [], 8, 2) == []


def test_a_chunker_passed_in_makes_the_chunks_and_the_kits_own_gives_the_default(kb):
    from labkit.corpus import chunk_corpus, chunk_paragraphs

    docs = kb.documents[:5]
    assert [c.to_dict() for c in chunk_corpus(docs, chunker=chunk_paragraphs)] == [c.to_dict() for c
                                                                                   in chunk_corpus(docs)]
    calls = []

    def mine(doc_id, paragraphs, chunk_size, overlap, start):  # a learner's, as notebook 02 passes it
        calls.append(start)
        return [(f"{doc_id}#{start}", " ".join(paragraphs))]
    chunks = chunk_document(docs[0], chunker=mine)
    assert [c.id for c in chunks] == [f"{docs[0].id}#{i}" for i in range(len(chunks))]
    assert calls == list(range(len(chunks)))


def test_changing_one_document_leaves_every_other_chunk_id_as_it_was(kb):
    from labkit.corpus import chunk_corpus

    docs = kb.documents[:4]
    edited = [docs[0], Document(docs[1].id, docs[1].title, docs[1].path, docs[1].text + "\n\nOne more paragraph."),
              *docs[2:]]
    before, after = chunk_corpus(docs), chunk_corpus(edited)
    assert {c.id for c in before if c.doc_id != docs[1].id} == {c.id for c in after if c.doc_id != docs[1].id}
