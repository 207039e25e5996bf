"""Knowledge-base updates: fact changes written into an index, checked whole before the index is touched."""

import pytest

from labkit.config import KB_DIR
from labkit.data import load_updates
from labkit.documents import load_folder
from labkit.kb_updates import apply_updates
from labkit.retrieval import build_index


def test_apply_updates_on_a_tiny_index(embedder):
    u = load_updates()[0]
    doc = next(d for d in load_folder(KB_DIR).documents if d.id == u["doc_id"])
    index = build_index([doc], embedder, progress=False)
    info = apply_updates(index, [u])
    assert info["documents"] == 1 and info["per_document_s"] == info["seconds"]
    text = " ".join(c.text for c in index.chunks.values())
    assert u["new"] in text and u["old"] not in text


def test_a_change_that_does_not_match_its_document_leaves_the_index_as_it_was(embedder):
    good = load_updates()[0]
    bad = {**good, "id": "u-bad", "old": "A sentence no document holds."}
    doc = next(d for d in load_folder(KB_DIR).documents if d.id == good["doc_id"])
    index = build_index([doc], embedder, progress=False)
    before = {i: c.text for i, c in index.chunks.items()}
    with pytest.raises(ValueError, match="u-bad.*disagree"):
        apply_updates(index, [good, bad])  # the good change first: it must not be swapped in either
    assert {i: c.text for i, c in index.chunks.items()} == before
