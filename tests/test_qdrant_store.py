"""labkit.qdrant_store: the kit's index in embedded Qdrant gives FAISS flat's top 3 on every question; a collection
reopened from its payloads alone; store names and collections checked; nothing replaced by surprise.

The search, delete/replace and refusal tests FAISS passes also run on Qdrant in tests/test_retrieval.py. The server
mode is not tested: no Qdrant server installs from the package registries here."""

import numpy as np
import pytest

from labkit.config import KB_DIR
from labkit.data import load_qa
from labkit.documents import load_folder
from labkit.embedding import embed_texts
from labkit.folder_index import index_folder
from labkit.qdrant_store import (
    StoreSpec,
    check_collection,
    copy_to_qdrant,
    in_qdrant,
    open_qdrant_index,
    parse_store,
    qdrant_index,
)
from labkit.retrieval import VectorIndex


@pytest.fixture(scope="module")
def kb(embedder):
    return index_folder(KB_DIR, embedder, progress=False)  # the cached index of data/kb


@pytest.mark.parametrize("text,expected", [
    (None, StoreSpec("faiss")),
    ("faiss", StoreSpec("faiss")),
    ("qdrant:memory", StoreSpec("qdrant", "memory")),
    ("qdrant://localhost:6333", StoreSpec("qdrant", "server", "http://localhost:6333")),
    ("qdrant://127.0.0.1", StoreSpec("qdrant", "server", "http://127.0.0.1:6333")),
    ("qdrant:/tmp/kb-qdrant", StoreSpec("qdrant", "path", "/tmp/kb-qdrant")),
])
def test_parse_store(text, expected):
    assert parse_store(text) == expected


@pytest.mark.parametrize("text", ["chroma://x", "qdrant://", "qdrant://host:99999", "qdrant://a b:1", "qdrant:",
                                  "qdrant://host:6333/../x"])
def test_parse_store_refuses_with_the_forms(text):
    with pytest.raises(ValueError, match="qdrant://host:port"):
        parse_store(text)


@pytest.mark.parametrize("name", ["", "../up", "a/b", "-x", "x" * 101, 7])
def test_collection_names_are_checked(name):
    with pytest.raises(ValueError, match="collection name"):
        check_collection(name)


def test_same_top3_as_faiss_flat_on_every_question(kb, embedder):
    questions = [q["question"] for q in load_qa()]
    vectors = embed_texts(embedder, questions, progress=False)  # embedded once, searched in both
    in_qdrant = copy_to_qdrant(kb, "qdrant:memory")
    assert in_qdrant.index.ntotal == len(kb) and in_qdrant.documents == kb.documents
    faiss_hits, qdrant_hits = kb.search_vectors(vectors, 3), in_qdrant.search_vectors(vectors, 3)
    differ = [q for q, a, b in zip(questions, faiss_hits, qdrant_hits, strict=True)
              if [h.chunk.id for h in a] != [h.chunk.id for h in b]]
    assert len(questions) == 195 and differ == []
    scores = np.array([[h.score for h in hits] for hits in faiss_hits])
    assert np.allclose(scores, [[h.score for h in hits] for hits in qdrant_hits], atol=1e-5)


def few_documents(kb, embedder, doc_ids=("product-brimble-kettle", "faq-gift-cards", "policy-returns")):
    """A FAISS index of a few of the knowledge base's documents, from its stored vectors (embedded folder mode writes
    each point in its own SQLite transaction, so the kit's 323 would take seconds)."""
    ids = [i for d in doc_ids for i in kb.doc_chunks[d]]
    small = VectorIndex(embedder)
    small.add_vectors([kb.chunks[i] for i in ids], kb.stored_vectors(ids))
    return small


def test_a_collection_reopened_from_its_payloads_stays_fresh(tmp_path, kb, embedder):
    small = few_documents(kb, embedder)
    store = f"qdrant:{tmp_path / 'db'}"
    first = copy_to_qdrant(small, store, "kb")
    first.index.client.close()  # embedded mode locks its folder: one client at a time
    index = open_qdrant_index(store, "kb", embedder)
    assert index.chunks == small.chunks and index.next_id == len(small) and index.store == store
    question = "How much does the Brimble Kettle cost?"
    assert [h.chunk.id for h in index.search(question)] == [h.chunk.id for h in small.search(question)]
    kettle = next(d for d in load_folder(KB_DIR).documents if d.id == "product-brimble-kettle")
    kettle.text = kettle.text.replace("$89", "$95")
    stats = index.replace_document(kettle)
    assert stats["removed"] == stats["added"] > 0
    assert index.delete_document("faq-gift-cards") > 0
    index.index.client.close()
    again = open_qdrant_index(store, "kb", embedder)  # what another process sharing the database reads
    texts = " ".join(h.chunk.text for h in again.search("What is the price of the Brimble Kettle?", 3))
    assert "$95" in texts and "$89" not in texts
    assert "faq-gift-cards" not in again.documents
    assert len(again) == len(small) - len(small.doc_chunks["faq-gift-cards"])
    again.index.client.close()


def test_refusals_change_nothing(tmp_path, kb, embedder):
    index = copy_to_qdrant(kb, "qdrant:memory", "kb")
    client = index.index.client
    with pytest.raises(ValueError, match="already has a collection 'kb'"):
        index.index.create({})
    assert index.index.ntotal == len(kb)
    with pytest.raises(ValueError, match="no IVF"):
        qdrant_index(embedder, "qdrant:memory", kind="ivf")
    with pytest.raises(ValueError, match="needs a Qdrant store"):
        qdrant_index(embedder, "faiss")
    store = f"qdrant:{tmp_path / 'db'}"
    with pytest.raises(ValueError, match="no collection 'nope'"):
        open_qdrant_index(store, "nope", embedder)
    client.close()
    from qdrant_client import models

    client = parse_store(store).client()
    for name, metadata in [("plain", None), ("other-embedder", {"labkit": 1, "embedder": "bge-small"})]:
        client.create_collection(name, vectors_config=models.VectorParams(size=384, distance=models.Distance.DOT),
                                 metadata=metadata)
    client.close()
    with pytest.raises(ValueError, match="not written by this labkit version"):
        open_qdrant_index(store, "plain", embedder)
    with pytest.raises(ValueError, match="embedded by 'bge-small'"):
        open_qdrant_index(store, "other-embedder", embedder)


def test_a_folder_index_goes_into_its_content_collection_once(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text("# Grey Point Lighthouse\n\nThe Grey Point Lighthouse was built in 1871.\n")
    index = index_folder(docs, embedder, cache=False, progress=False)
    store = f"qdrant:{tmp_path / 'db'}"
    first = in_qdrant(index, store)
    assert first.store == store and not first.from_cache and first.index.collection.startswith("labkit-docs-")
    first.index.client.close()
    again = in_qdrant(index, store)  # the same content: opened, not copied again
    assert again.from_cache and again.index.collection == first.index.collection and again.chunks == index.chunks
    assert again.search("When was the lighthouse built?", 1)[0].chunk.doc_id == "lighthouse"
    again.index.client.close()
    assert in_qdrant(index, "faiss") is index
