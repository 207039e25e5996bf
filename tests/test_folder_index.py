"""labkit.folder_index: a folder's index cached by its files and settings, rebuilt when damaged, older copies pruned."""

import json
import os
import shutil

import pytest

from labkit.config import KB_DIR
from labkit.embedding import embed_texts
from labkit.folder_index import index_folder
from labkit.retrieval import VectorIndex

TWO_DOCS = ("company-leadership", "faq-gift-cards")


@pytest.fixture
def two_doc_folder(tmp_path, monkeypatch):
    """A folder of two knowledge-base documents, with the cache in tmp_path."""
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "docs"
    folder.mkdir()
    for doc_id in TWO_DOCS:
        shutil.copy(KB_DIR / f"{doc_id}.md", folder)
    return folder


def test_folder_index_is_cached(embedder, two_doc_folder):
    folder = two_doc_folder
    first = index_folder(folder, embedder, progress=False)
    second = index_folder(folder, embedder, progress=False, retriever="hybrid")  # the retriever is not in the key
    assert not first.from_cache and second.from_cache and len(first) == len(second)
    assert (first.retriever, second.retriever) == ("dense", "hybrid") and second.search("gift card balance?", 2)
    (folder / "new.md").write_text("# New\n\nThe lighthouse opens at dawn.\n")
    third = index_folder(folder, embedder, progress=False)
    assert not third.from_cache and "new" in third.documents


@pytest.mark.parametrize("damage", ["foreign", "truncated", "keywords"])
def test_a_damaged_folder_cache_is_rebuilt_and_said(tmp_path, embedder, two_doc_folder, capsys, damage):
    folder = two_doc_folder
    first = index_folder(folder, embedder, progress=False)
    cached = next((tmp_path / "cache" / "indexes").iterdir())
    if damage == "foreign":
        other = VectorIndex(embedder)
        other.add_vectors(*[x[:2] for x
                            in (list(first.chunks.values()), embed_texts(embedder, ["a", "b"], progress=False))])
        other.save(tmp_path / "other")
        shutil.copy(tmp_path / "other" / "index.faiss", cached / "index.faiss")
    elif damage == "truncated":
        data = (cached / "index.faiss").read_bytes()
        (cached / "index.faiss").write_bytes(data[: len(data) // 3])
    else:  # the BM25 files lost: the cache is rebuilt whole, never served without them
        shutil.rmtree(cached / "keywords")
    again = index_folder(folder, embedder, progress=False, retriever="hybrid")
    assert not again.from_cache and len(again) == len(first)
    assert any("rebuilt" in note for note in again.notes) and "rebuilt" in capsys.readouterr().err
    assert again.search("How much is the kettle?", 1)[0].chunk.doc_id == first.search("How much is the kettle?",
                                                                                      1)[0].chunk.doc_id
    assert index_folder(folder, embedder, progress=False).from_cache  # the rebuilt cache is good again


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
    assert len(big) == 2 and all(r["cap"] == 100 and r["size"] > 100 and "over the 100 bytes cap" in r["reason"] for r
                                 in big)


def _cached(tmp_path):
    return sorted(p.name for p in (tmp_path / "cache" / "indexes").iterdir() if not p.name.startswith("."))


def test_a_rebuilt_folder_index_replaces_its_older_copies_only(tmp_path, embedder, two_doc_folder):
    folder = two_doc_folder
    twin = tmp_path / "other" / "docs"  # another folder with the same name: its index must stay
    twin.mkdir(parents=True)
    (twin / "note.md").write_text("# Note\n\nThe ferry leaves at noon.\n")
    index_folder(twin, embedder, progress=False)
    # other settings of the same folder: stay too
    index_folder(folder, embedder, progress=False, chunk_size=64, overlap=8)
    others = set(_cached(tmp_path))
    first = index_folder(folder, embedder, progress=False)
    assert len(_cached(tmp_path)) == 3
    older = tmp_path / "cache" / "indexes" / ("docs-" + "c" * 20)  # the same folder and settings, an older format
    shutil.copytree(tmp_path / "cache" / "indexes" / _cached(tmp_path)[0], older)
    store = json.loads((older / "chunks.json").read_text())
    store["report"].update(source=first.report["source"], settings=[2, *first.report["settings"][1:]])
    (older / "chunks.json").write_text(json.dumps(store))
    assert first.report["source"] == str(folder.resolve()) and first.report["settings"][2:] == ["flat", 128, 24]
    (folder / "new.md").write_text("# New\n\nThe old secret is swordfish.\n")
    index_folder(folder, embedder, progress=False)
    (folder / "new.md").write_text("# New\n\nThe lighthouse opens at dawn.\n")
    latest = index_folder(folder, embedder, progress=False)
    names = _cached(tmp_path)
    assert older.name not in names  # pruned with the first copy: its text was extracted the old way
    assert len(names) == 3 and others < set(names) and any("removed 1 older cached index" in note for note
                                                           in latest.notes)
    stored = " ".join((tmp_path / "cache" / "indexes" / n / "chunks.json").read_text() for n in names)
    assert "swordfish" not in stored and "lighthouse opens at dawn" in stored and "ferry" in stored
    assert index_folder(twin, embedder, progress=False).from_cache and index_folder(folder, embedder,
                                                                                    progress=False).from_cache


def test_an_index_from_before_the_source_was_recorded_is_pruned_only_when_surely_this_folder(tmp_path, embedder,
                                                                                             two_doc_folder):
    folder = two_doc_folder
    index_folder(folder, embedder, progress=False)
    built = next((tmp_path / "cache" / "indexes").iterdir())
    # `labkit ask --docs docs` saved a relative root
    for fake_key, root in (("a" * 20, str(folder)), ("b" * 20, "docs")):
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


def test_a_folder_index_still_answers_when_the_cache_is_full(tmp_path, embedder, monkeypatch):
    """A full cache made `labkit ask` fail (faiss's RuntimeError saving the index): it only costs speed."""

    def full_disk(self, directory):
        raise RuntimeError("Error in void faiss::write_index: write error in index.faiss: 4014 != 496128 (No space "
                           "left on device)")

    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(VectorIndex, "save", full_disk)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("# Returns\n\nYou can return any item within 45 days of delivery.\n")
    index = index_folder(docs, embedder, progress=False)
    assert index.search("How long is the return window?")[0].chunk.doc_id == "returns"
    assert any("could not write the index cache" in note for note in index.notes)
