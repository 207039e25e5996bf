"""Knowledge-base updates: the fact changes of data/updates.jsonl written into an index, document by document.

A change replaces one sentence of one document (`old` -> `new`). `apply_updates` edits each changed document's text
and swaps it into the index (`VectorIndex.replace_document`): only those documents are re-embedded, nothing is rebuilt,
and the seconds it returns are the swaps' own time, what a team pays each time a fact changes.

Worked example:
    >>> info = apply_updates(index, load_updates()[:2])
    >>> info
    {"documents": 2, "seconds": 0.31, "per_document_s": 0.155}
What it leaves out: the index itself (`labkit.retrieval`), the changes' data (`labkit.data.load_updates`), and what
each approach answers after them (`labkit.freshness`).
"""

from __future__ import annotations

from labkit.config import KB_DIR
from labkit.documents import load_folder


def apply_updates(index, updates: list[dict], folder=KB_DIR) -> dict:
    """Edit each updated document's text (its old sentence becomes the new one) and swap it into the index (a
    `labkit.retrieval.VectorIndex`).

    Example: apply_updates(index, load_updates()[:2]) -> {"documents": 2, "seconds": 0.31, "per_document_s": 0.155}
    A change whose old sentence is not in its document is refused before anything is swapped: the data and the
    documents disagree.
    """
    documents = {d.id: d for d in load_folder(folder).documents}
    texts = {doc_id: d.text for doc_id, d in documents.items()}
    edits = []  # (document, its text after this change): every change checked, in order, before the index is touched
    for u in updates:
        if u["old"] not in texts.get(u["doc_id"], ""):
            raise ValueError(f"update {u['id']}: its old sentence is not in {u['doc_id']}; data/updates.jsonl and "
                             f"{folder} disagree")
        texts[u["doc_id"]] = texts[u["doc_id"]].replace(u["old"], u["new"])
        edits.append((documents[u["doc_id"]], texts[u["doc_id"]]))
    seconds = 0.0
    for doc, text in edits:
        doc.text = text
        seconds += index.replace_document(doc)["seconds"]
    return {"documents": len(updates), "seconds": round(seconds, 4),
            "per_document_s": round(seconds / max(1, len(updates)), 4)}
