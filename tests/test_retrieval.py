"""labkit.retrieval: index kinds, search, add/replace/delete by document, save/load, the folder cache."""

import json
import os
import shutil

import numpy as np
import pytest

from labkit.config import KB_DIR
from labkit.corpus import chunk_corpus
from labkit.data import load_qa
from labkit.documents import Document, load_folder
from labkit.retrieval import INDEX_KINDS, VectorIndex, build_index, embed_texts, evaluate_retrieval, index_folder, ivf_nlist

DOCS = ["product-brimble-kettle", "policy-returns", "company-leadership", "faq-gift-cards"]


@pytest.fixture(scope="module")
def small_docs():
    corpus = load_folder(KB_DIR)
    return [d for d in corpus.documents if d.id in DOCS]


@pytest.fixture(scope="module")
def small_vectors(embedder, small_docs):
    chunks = chunk_corpus(small_docs)
    return chunks, embed_texts(embedder, [c.embed_text() for c in chunks], progress=False)


def fresh_index(embedder, kind, small_vectors):
    """A new index of the small documents, from vectors embedded once (the CPU is the bottleneck)."""
    index = VectorIndex(embedder, kind)
    index.add_vectors(*small_vectors)
    return index


@pytest.fixture(scope="module", params=INDEX_KINDS)
def small_index(request, embedder, small_vectors):
    return fresh_index(embedder, request.param, small_vectors)


def test_build_index_from_documents(embedder, small_docs):
    index = build_index(small_docs[:1], embedder, "flat", progress=False)
    assert set(index.documents) == {small_docs[0].id} and index.documents[small_docs[0].id]["sha"]


def test_embeddings_are_unit_length(embedder):
    vectors = embed_texts(embedder, ["hello", "a kettle costs money", "x"], batch_size=2, progress=False)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_embeddings_are_those_of_sentence_transformers_and_a_large_batch_runs_bf16(embedder, monkeypatch):
    import torch

    from labkit import retrieval
    from labkit.models import resolve_precision

    texts = ["hello", "a kettle costs money", "The Brimble Kettle holds 1.7 litres and costs $89.", "x"]
    reference = embedder.encode(texts, normalize_embeddings=True)
    assert np.array_equal(embed_texts(embedder, texts, progress=False), reference)  # a few texts: float32, unchanged
    monkeypatch.setattr(retrieval, "BF16_EMBED_MIN", 4)  # as if these were a corpus of thousands
    monkeypatch.setenv("LABKIT_PRECISION", "bfloat16")
    large = embed_texts(embedder, texts, progress=False)
    assert large.dtype == np.float32 and np.allclose(np.linalg.norm(large, axis=1), 1.0, atol=1e-5)
    cosine = (large * reference).sum(axis=1)
    assert cosine.min() > 0.999 and not np.array_equal(large, reference)  # close, and computed another way
    monkeypatch.setenv("LABKIT_PRECISION", "float32")  # the switch turns it off
    assert np.array_equal(embed_texts(embedder, texts, progress=False), reference)
    assert resolve_precision("float32") == "float32" and torch.is_autocast_enabled("cpu") is False


def test_search_finds_the_right_document(small_index):
    hits = small_index.search("How much does the Brimble Kettle cost?", 3)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].chunk.doc_id == "product-brimble-kettle"
    assert hits[0].score >= hits[-1].score


def test_delete_then_replace_keeps_other_documents(embedder, small_docs, small_vectors, small_index):
    index = fresh_index(embedder, small_index.kind, small_vectors)  # a copy this test may change
    before = len(index)
    removed = index.delete_document("policy-returns")
    assert removed > 0 and len(index) == before - removed and "policy-returns" not in index.documents
    assert all(h.chunk.doc_id != "policy-returns" for h in index.search("How many days do I have to return a product?", 5))
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
    assert index.tombstones == 0 and index.search("What is the price of the Brimble Kettle?", 1)[0].chunk.doc_id == kettle.id


def test_add_existing_document_is_refused(small_index, small_docs):
    with pytest.raises(ValueError, match="replace_document"):
        small_index.add_documents(small_docs[:1], progress=False)


def test_save_and_load_round_trip(tmp_path, embedder, small_index):
    small_index.save(tmp_path / "idx")
    loaded = VectorIndex.load(tmp_path / "idx", embedder)
    q = "Who is the chief executive?"
    assert [(h.chunk.id, round(h.score, 4)) for h in loaded.search(q, 3)] == [(h.chunk.id, round(h.score, 4)) for h in small_index.search(q, 3)]
    assert loaded.kind == small_index.kind and len(loaded) == len(small_index)


def test_bad_queries_and_empty_index(embedder, small_index):
    with pytest.raises(ValueError, match="empty"):
        small_index.search("   ")
    with pytest.raises(ValueError, match="index is empty"):
        VectorIndex(embedder).search("anything")
    with pytest.raises(ValueError, match="choose one of"):
        VectorIndex(embedder, kind="lsh")


@pytest.fixture
def two_doc_folder(tmp_path, small_docs, monkeypatch):
    """A folder of two knowledge-base documents, with the cache in tmp_path."""
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "docs"
    folder.mkdir()
    for doc in small_docs[:2]:
        shutil.copy(doc.path, folder)
    return folder


def test_folder_index_is_cached(embedder, two_doc_folder):
    folder = two_doc_folder
    first = index_folder(folder, embedder, progress=False)
    second = index_folder(folder, embedder, progress=False)
    assert not first.from_cache and second.from_cache and len(first) == len(second)
    (folder / "new.md").write_text("# New\n\nThe lighthouse opens at dawn.\n")
    third = index_folder(folder, embedder, progress=False)
    assert not third.from_cache and "new" in third.documents


@pytest.mark.parametrize("n,expected", [(10, 1), (323, 8), (100_000, 316)])
def test_ivf_nlist(n, expected):
    assert ivf_nlist(n) == expected


def test_kb_retrieval_recall(embedder):
    index = index_folder(KB_DIR, embedder, progress=False)
    result = evaluate_retrieval(index, load_qa()[::4])
    assert result["summary"]["recall@3"] >= 0.85 and 0.7 <= result["summary"]["mrr"] <= 1.0


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


@pytest.mark.parametrize("damage", ["foreign", "truncated"])
def test_a_damaged_folder_cache_is_rebuilt_and_said(tmp_path, embedder, two_doc_folder, capsys, damage):
    folder = two_doc_folder
    first = index_folder(folder, embedder, progress=False)
    cached = next((tmp_path / "cache" / "indexes").iterdir())
    if damage == "foreign":
        other = VectorIndex(embedder)
        other.add_vectors(*[x[:2] for x in (list(first.chunks.values()), embed_texts(embedder, ["a", "b"], progress=False))])
        other.save(tmp_path / "other")
        shutil.copy(tmp_path / "other" / "index.faiss", cached / "index.faiss")
    else:
        data = (cached / "index.faiss").read_bytes()
        (cached / "index.faiss").write_bytes(data[: len(data) // 3])
    again = index_folder(folder, embedder, progress=False)
    assert not again.from_cache and len(again) == len(first)
    assert any("rebuilt" in note for note in again.notes) and "rebuilt" in capsys.readouterr().err
    assert again.search("How much is the kettle?", 1)[0].chunk.doc_id == first.search("How much is the kettle?", 1)[0].chunk.doc_id
    assert index_folder(folder, embedder, progress=False).from_cache  # the rebuilt cache is good again


def test_search_reads_a_latin1_byte_in_the_question(small_index):
    hits = small_index.search("gift card caf\udce9 balance?", 2)
    assert hits and hits[0].chunk.doc_id == "faq-gift-cards"


def test_a_file_name_that_is_not_utf8_does_not_refuse_the_folder(embedder, two_doc_folder):
    folder = two_doc_folder
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.md"), "wb") as f:
        f.write(b"# Cafe\n\nThe cafe opens at nine.\n")
    index = index_folder(folder, embedder, progress=False)  # was: 'utf-8' codec can't encode character '\udce9'
    assert len(index.documents) == 2 and not index.from_cache
    assert [(r["path"], "b'caf\\xe9.md'" in r["reason"]) for r in index.report["skipped"]] == [("caf\\xe9.md", True)]
    assert index_folder(folder, embedder, progress=False).from_cache  # and the cache was written


def test_links_and_size_cap_reach_the_folder_index(tmp_path, embedder, two_doc_folder):
    outside = tmp_path / "elsewhere.md"
    outside.write_text("# Elsewhere\n\nThe lighthouse keeper's code is 4417.\n")
    (two_doc_folder / "link.md").symlink_to(outside)
    plain = index_folder(two_doc_folder, embedder, progress=False)
    assert "link" not in plain.documents and "4417" not in " ".join(c.text for c in plain.chunks.values())
    assert any(r["path"] == "link.md" and "--follow-links" in r["reason"] for r in plain.report["skipped"])
    followed = index_folder(two_doc_folder, embedder, progress=False, follow_links=True)
    assert not followed.from_cache and "link" in followed.documents  # its own cache key: not the index without the link
    (two_doc_folder / "tiny.md").write_text("# Tiny\n\nIt is small.\n")
    small = index_folder(two_doc_folder, embedder, progress=False, max_bytes=100)
    assert set(small.documents) == {"tiny"}  # the two knowledge-base documents are over 100 bytes
    big = [r for r in small.report["skipped"] if r["reason"].startswith("too big")]
    assert len(big) == 2 and all(r["cap"] == 100 and r["size"] > 100 and "over the 100 bytes cap" in r["reason"] for r in big)


def _cached(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache" / "indexes").iterdir() if not p.name.startswith("."))


def test_a_rebuilt_folder_index_replaces_its_older_copies_only(tmp_path, embedder, two_doc_folder):
    folder = two_doc_folder
    twin = tmp_path / "other" / "docs"  # another folder with the same name: its index must stay
    twin.mkdir(parents=True)
    (twin / "note.md").write_text("# Note\n\nThe ferry leaves at noon.\n")
    index_folder(twin, embedder, progress=False)
    index_folder(folder, embedder, progress=False, chunk_size=64, overlap=8)  # other settings of the same folder: stay too
    others = set(_cached(tmp_path))
    first = index_folder(folder, embedder, progress=False)
    assert len(_cached(tmp_path)) == 3
    assert first.report["source"] == str(folder.resolve()) and first.report["settings"][2:] == ["flat", 128, 24]
    (folder / "new.md").write_text("# New\n\nThe old secret is swordfish.\n")
    index_folder(folder, embedder, progress=False)
    (folder / "new.md").write_text("# New\n\nThe lighthouse opens at dawn.\n")
    latest = index_folder(folder, embedder, progress=False)
    names = _cached(tmp_path)
    assert len(names) == 3 and others < set(names) and any("removed 1 older cached index" in note for note in latest.notes)
    stored = " ".join((tmp_path / "cache" / "indexes" / n / "chunks.json").read_text() for n in names)
    assert "swordfish" not in stored and "lighthouse opens at dawn" in stored and "ferry" in stored
    assert index_folder(twin, embedder, progress=False).from_cache and index_folder(folder, embedder, progress=False).from_cache


def test_an_index_from_before_the_source_was_recorded_is_pruned_only_when_surely_this_folder(tmp_path, embedder, two_doc_folder):
    folder = two_doc_folder
    index_folder(folder, embedder, progress=False)
    built = next((tmp_path / "cache" / "indexes").iterdir())
    for fake_key, root in (("a" * 20, str(folder)), ("b" * 20, "docs")):  # `labkit ask --docs docs` saved a relative root
        old = built.with_name(f"docs-{fake_key}")
        shutil.copytree(built, old)
        store = json.loads((old / "chunks.json").read_text())
        del store["report"]["source"], store["report"]["settings"]  # as labkit wrote it before this change
        store["report"]["root"] = root
        (old / "chunks.json").write_text(json.dumps(store))
    (folder / "new.md").write_text("# New\n\nThe lighthouse opens at dawn.\n")
    latest = index_folder(folder, embedder, progress=False)
    kept = _cached(tmp_path)
    assert "docs-" + "a" * 20 not in kept and built.name not in kept  # surely this folder, these settings: removed
    assert "docs-" + "b" * 20 in kept and len(kept) == 2  # a relative root may be another folder's: kept
    assert any("removed 2 older cached index" in note for note in latest.notes)
