"""labkit.retrieval: index kinds, retrievers (dense, BM25, hybrid), search, add/replace/delete by document, save/load,
IVF sizing.

The search, delete/replace and refusal tests run on every FAISS kind and on the same index kept in embedded Qdrant
(labkit.qdrant_store), so the database passes the tests FAISS passes."""

import shutil

import pytest

from labkit.config import KB_DIR
from labkit.corpus import chunk_corpus
from labkit.documents import Document, load_folder
from labkit.embedding import embed_texts
from labkit.keyword_index import fuse
from labkit.qdrant_store import qdrant_index
from labkit.retrieval import FUSE_DEPTH, INDEX_KINDS, RETRIEVERS, VectorIndex, build_index, ivf_nlist

DOCS = ["product-brimble-kettle", "policy-returns", "company-leadership", "faq-gift-cards"]


@pytest.fixture(scope="module")
def small_docs():
    corpus = load_folder(KB_DIR)
    return [d for d in corpus.documents if d.id in DOCS]


@pytest.fixture(scope="module")
def small_vectors(embedder, small_docs):
    chunks = chunk_corpus(small_docs)
    return chunks, embed_texts(embedder, [c.embed_text() for c in chunks], progress=False)


QDRANT_KINDS = ("qdrant flat", "qdrant hnsw")  # the same index in embedded Qdrant (in memory)


def new_index(embedder, kind, small_vectors):
    """A new index of the small documents, from vectors embedded once (the CPU is the bottleneck)."""
    if kind in QDRANT_KINDS:
        index = qdrant_index(embedder, "qdrant:memory", kind=kind.split()[1])
    else:
        index = VectorIndex(embedder, kind)
    index.add_vectors(*small_vectors)
    return index


@pytest.fixture(scope="module", params=INDEX_KINDS + QDRANT_KINDS)
def small_index(request, embedder, small_vectors):
    return new_index(embedder, request.param, small_vectors)


def test_build_index_from_documents(embedder, small_docs):
    index = build_index(small_docs[:1], embedder, "flat", progress=False)
    assert set(index.documents) == {small_docs[0].id} and index.documents[small_docs[0].id]["sha"]


def test_search_finds_the_right_document(small_index):
    hits = small_index.search("How much does the Brimble Kettle cost?", 3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].chunk.doc_id == "product-brimble-kettle"
    assert hits[0].score >= hits[-1].score


def test_delete_then_replace_keeps_other_documents(embedder, small_docs, small_vectors, small_index):
    # a copy this test may change
    index = new_index(embedder, f"qdrant {small_index.kind}" if small_index.store != "faiss" else small_index.kind,
                      small_vectors)
    before = len(index)
    removed = index.delete_document("policy-returns")
    assert removed > 0 and len(index) == before - removed and "policy-returns" not in index.documents
    assert all(h.chunk.doc_id != "policy-returns" for h
               in index.search("How many days do I have to return a product?", 5))
    assert index.search("How much does the Brimble Kettle cost?", 1)[0].chunk.doc_id == "product-brimble-kettle"
    with pytest.raises(KeyError):
        index.delete_document("policy-returns")
    kettle = next(d for d in small_docs if d.id == "product-brimble-kettle")
    new = Document(kettle.id, kettle.title, kettle.path, kettle.text.replace("$89", "$95"))
    stats = index.replace_document(new)
    assert stats["removed"] == stats["added"] > 0
    texts = " ".join(h.chunk.text for h in index.search("What is the price of the Brimble Kettle?", 3))
    assert "$95" in texts and "$89" not in texts
    index.compact()  # a no-op except for HNSW, where it drops the tombstones
    assert index.tombstones == 0 and index.search("What is the price of the Brimble Kettle?",
                                                  1)[0].chunk.doc_id == kettle.id


def test_add_existing_document_is_refused(small_index, small_docs):
    with pytest.raises(ValueError, match="replace_document"):
        small_index.add_documents(small_docs[:1], progress=False)


def test_save_and_load_round_trip(tmp_path, embedder, small_index):
    if small_index.store != "faiss":  # the database keeps it (its reopening: test_qdrant_store)
        with pytest.raises(ValueError, match="open_qdrant_index"):
            small_index.save(tmp_path / "idx")
        assert not (tmp_path / "idx").exists()
        return
    small_index.save(tmp_path / "idx")
    loaded = VectorIndex.load(tmp_path / "idx", embedder)
    q = "Who is the chief executive?"
    assert [(h.chunk.id, round(h.score, 4)) for h in loaded.search(q, 3)] == [(h.chunk.id, round(h.score, 4)) for h
                                                                              in small_index.search(q, 3)]
    assert loaded.kind == small_index.kind and len(loaded) == len(small_index)


def test_bad_queries_and_empty_index(embedder, small_index):
    with pytest.raises(ValueError, match="empty"):
        small_index.search("   ")
    with pytest.raises(ValueError, match="index is empty"):
        VectorIndex(embedder).search("anything")
    with pytest.raises(ValueError, match="choose one of"):
        VectorIndex(embedder, kind="lsh")


@pytest.mark.parametrize("n,expected", [(10, 1), (323, 8), (100_000, 316)])
def test_ivf_nlist(n, expected):
    assert ivf_nlist(n) == expected


def test_an_index_file_from_another_folder_is_refused(tmp_path, embedder, small_vectors):
    chunks, vectors = small_vectors
    a, b = VectorIndex(embedder), VectorIndex(embedder)
    a.add_vectors(chunks, vectors)
    b.add_vectors(chunks[:3], vectors[:3])
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    shutil.copy(tmp_path / "b" / "index.faiss", tmp_path / "a" / "index.faiss")
    with pytest.raises(ValueError, match="does not match its chunk store"):
        VectorIndex.load(tmp_path / "a", embedder)


def test_search_reads_a_latin1_byte_in_the_question(small_index):
    hits = small_index.search("gift card caf\udce9 balance?", 2)
    assert hits and hits[0].chunk.doc_id == "faq-gift-cards"


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_every_retriever_finds_the_document_and_follows_a_replaced_one(embedder, small_docs, small_vectors, retriever):
    index = new_index(embedder, "flat", small_vectors)
    index.retriever = retriever
    hits = index.search("How much does the Brimble Kettle cost?", 3)
    assert [h.rank for h in hits] == [1, 2, 3] and hits[0].chunk.doc_id == "product-brimble-kettle"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    kettle = next(d for d in small_docs if d.id == "product-brimble-kettle")
    index.replace_document(Document(kettle.id, kettle.title, kettle.path, kettle.text.replace("$89", "$95")))
    texts = " ".join(h.chunk.text for h in index.search("What is the price of the Brimble Kettle?", 3))
    assert "$95" in texts and "$89" not in texts  # the keyword index follows the change, as the vectors do


def test_hybrid_fuses_the_dense_and_the_keyword_ranking(embedder, small_vectors):
    index = new_index(embedder, "flat", small_vectors)
    question = "Can I pay with a gift card online?"
    dense = [h.chunk.id for h in index.search(question, FUSE_DEPTH)]
    keyword = [index.chunks[i].id for i, _ in index.keywords.search([question], FUSE_DEPTH)[0]]
    index.retriever = "hybrid"
    assert [h.chunk.id for h in index.search(question, 4)] == [c for c, _ in fuse([dense, keyword])[:4]]
    assert dense[:4] != keyword[:4]  # the two rankings differ here, so the fused one is not either alone


def test_a_saved_index_keeps_its_keywords_and_refuses_damaged_ones(tmp_path, embedder, small_vectors):
    index = new_index(embedder, "flat", small_vectors)
    index.retriever = "hybrid"
    index.save(tmp_path / "idx")
    loaded = VectorIndex.load(tmp_path / "idx", embedder)
    question = "Who leads the company?"
    assert loaded.retriever == "hybrid" and [h.chunk.id for h in loaded.search(question, 3)] == [
        h.chunk.id for h in index.search(question, 3)]
    (tmp_path / "idx" / "keywords" / "vocab.index.json").write_text("{}")
    with pytest.raises(ValueError, match="keyword index"):
        VectorIndex.load(tmp_path / "idx", embedder)
    with pytest.raises(ValueError, match="choose one of"):
        VectorIndex(embedder, retriever="sparse")
