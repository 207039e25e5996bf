"""labkit.perfect_retriever: a gold chunk always among the sources, the rest as retrieval left them; the gap split."""

import pytest

from labkit.config import KB_DIR
from labkit.data import load_qa
from labkit.evaluate import answer_variants, is_match
from labkit.folder_index import index_folder
from labkit.perfect_retriever import PerfectRetriever, gap_split


@pytest.fixture(scope="module")
def kb_index(embedder):
    return index_folder(KB_DIR, embedder, progress=False)


def test_every_question_gets_its_gold_documents_and_keeps_the_rest_of_what_retrieval_found(kb_index):
    qa = load_qa()
    asked = [q["paraphrases"][0] for q in qa]
    real = kb_index.search_many(asked, 3)
    perfect = PerfectRetriever(kb_index, qa).search_many(asked, 3)
    replaced = 0
    for q, found, fixed in zip(qa, real, perfect, strict=True):
        assert len(fixed) == 3  # as many sources as RAG shows: the distractors stay
        assert set(q["doc_ids"][:3]) <= {h.chunk.doc_id for h in fixed}
        kept = [h for h in fixed if h in found]
        assert len(kept) >= 3 - len(q["doc_ids"])  # only what a gold chunk had to replace is gone
        if fixed != found:
            replaced += 1
            # retrieval's order kept
            assert [h.chunk.id for h in fixed if h in found] == [h.chunk.id for h in found if h in fixed]
            if len(q["doc_ids"]) == 1:  # the inserted chunk shows the answer where any chunk of the document does
                gold = [h for h in fixed if h.chunk.doc_id == q["doc_ids"][0]]
                showing = [c for c in kb_index.chunks.values() if c.doc_id == q["doc_ids"][0]
                           and is_match(c.text, answer_variants(q))]
                assert not showing or any(is_match(h.chunk.text, answer_variants(q)) for h in gold)
        else:
            assert all(any(h.chunk.doc_id == d for h in found) for d in q["doc_ids"][:3])
    # real retrieval misses a gold document for some questions (the retrieval misses); those are fixed
    assert replaced > 10


def test_a_question_without_a_record_is_refused(kb_index):
    with pytest.raises(ValueError, match="knows the gold documents of the kit's questions only"):
        PerfectRetriever(kb_index, load_qa()[:2]).search("Who painted the Mona Lisa?")


def test_the_gap_to_one_splits_into_retrieval_and_reading():
    assert gap_split(0.25, 0.40) == {"gap": 0.75, "retrieval": 0.15, "reading": 0.6}
    # a perfect source can confuse the reader: retrieval's share is then negative, as measured
    split = gap_split(0.5, 0.45)
    assert split["retrieval"] == -0.05 and split["retrieval"] + split["reading"] == split["gap"]
