"""The same index in a vector database: a Qdrant collection behind `VectorIndex`, embedded or on a server.

What it holds:
- `parse_store`: a store's name checked before anything connects: "faiss" (the default: vectors in this process),
  "qdrant:memory" (embedded, in memory), "qdrant:FOLDER" (embedded, kept in a folder), "qdrant://host:port" (a
  server); `LABKIT_STORE` and `--store` take these.
- `QdrantStore`: one Qdrant collection answering the calls `VectorIndex` makes of its FAISS object (`add_with_ids`,
  with each chunk as the point's payload, `remove_ids`, `search`, `reconstruct`, `ntotal`, `d`), so replace and delete
  work on it unchanged. Points carry the index's integer ids; distance is the dot product of unit vectors (= cosine,
  FAISS's inner product). "flat" searches exactly; "hnsw" uses Qdrant's graph (m, ef) on a server (the embedded mode
  always searches exactly: qdrant-client's local mode is numpy over every vector).
- `qdrant_index`: a new, empty VectorIndex in a new collection; `open_qdrant_index`: the VectorIndex a collection
  already holds, its chunk store rebuilt from the payloads alone (chunk text, document id, heading, title, path), as a
  second service sharing the database would; `copy_to_qdrant`: a FAISS index's vectors copied into a collection,
  nothing embedded again; `in_qdrant`: an index in a store under a name made from its content (opened if there, else
  copied in), which `labkit ask --store` uses.

What it leaves out: FAISS and the chunk store (`labkit.retrieval`), Qdrant's filters, sparse vectors, quantisation and
sharding, and a Qdrant server: none installs from the package registries this kit uses (PyPI has the client and
`qdrant-edge-py`, an in-process engine; Debian has neither), so the tests run the embedded mode and the server mode
is untested here. Embedded mode keeps points pickled in SQLite (qdrant-client's own format): open only a folder this
kit wrote, never one someone handed you.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labkit.corpus import Chunk
from labkit.embedding import embedder_name
from labkit.models import embedding_dim
from labkit.retrieval import VectorIndex

STORE_FORMAT = 1  # bump when the collection's metadata or payload layout changes
DEFAULT_COLLECTION = "labkit-chunks"
_COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_SERVER = re.compile(r"qdrant://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?/?")
UPSERT_BATCH = 4096  # points per upsert call: one request per batch on a server, bounded memory embedded


@dataclass(frozen=True)
class StoreSpec:
    """Where an index's vectors live, as parse_store read it."""

    kind: str  # "faiss" or "qdrant"
    mode: str = ""  # qdrant: "memory", "path" or "server"
    target: str = ""  # qdrant: the folder (path) or the URL (server)

    def client(self):
        """A QdrantClient for this place. Example: parse_store("qdrant:memory").client() -> QdrantClient(":memory:")."""
        from qdrant_client import QdrantClient

        if self.kind != "qdrant":
            raise ValueError(f"{self} is not a Qdrant store")
        if self.mode == "memory":
            return QdrantClient(location=":memory:")
        if self.mode == "path":
            return QdrantClient(path=self.target)
        return QdrantClient(url=self.target, timeout=30)


def parse_store(store: str | None) -> StoreSpec:
    """A store's name read and checked; ValueError that says the forms otherwise.

    Example: parse_store("qdrant://localhost:6333") -> StoreSpec("qdrant", "server", "http://localhost:6333");
    parse_store(None) -> StoreSpec("faiss")
    """
    text = (store or "faiss").strip()
    forms = ("use faiss (the default), qdrant:memory, qdrant:FOLDER (embedded, kept in a folder) or "
             "qdrant://host:port (a server)")
    if text == "faiss":
        return StoreSpec("faiss")
    if text.startswith("qdrant://"):
        found = _SERVER.fullmatch(text)
        if not found or (found.group(2) and not 0 < int(found.group(2)) < 65536):
            raise ValueError(f"store {text!r} is not a Qdrant server address: {forms}")
        return StoreSpec("qdrant", "server", f"http://{found.group(1)}:{found.group(2) or 6333}")
    if text == "qdrant:memory":
        return StoreSpec("qdrant", "memory")
    if text.startswith("qdrant:") and text[len("qdrant:"):].strip():
        folder = Path(text[len("qdrant:"):]).expanduser()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"store {text!r}: {folder} is a file, not a folder: {forms}")
        return StoreSpec("qdrant", "path", str(folder))
    raise ValueError(f"store {text!r} is not one labkit knows: {forms}")


def check_collection(name: str) -> str:
    """A collection name checked (letters, digits, . _ -; at most 100). Example: check_collection("kb") -> "kb"."""
    if not isinstance(name, str) or not _COLLECTION_NAME.fullmatch(name):
        raise ValueError(f"collection name {name!r}: use letters, digits, '.', '_' or '-' (at most 100, starting "
                         "with a letter or digit)")
    return name


class QdrantStore:
    """One Qdrant collection, answering the FAISS calls a VectorIndex makes (its `index` object)."""

    def __init__(self, client, collection: str, dim: int, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 64,
                 embedded: bool = True):
        self.client, self.collection, self.d, self.kind = client, check_collection(collection), int(dim), kind
        self.hnsw_m, self.ef_search = hnsw_m, ef_search
        self.embedded = embedded  # qdrant-client's local mode: exact numpy search, search parameters not used

    def create(self, metadata: dict) -> QdrantStore:
        """Make the collection; ValueError if one of that name exists (it is never replaced: open it instead).
        Example: store.create({"labkit": 1, ...})."""
        from qdrant_client import models

        if self.client.collection_exists(self.collection):
            raise ValueError(f"Qdrant already has a collection {self.collection!r}: open it with "
                             "open_qdrant_index(store, collection, embedder), or pick another collection name "
                             "(nothing was changed)")
        self.client.create_collection(
            self.collection, vectors_config=models.VectorParams(size=self.d, distance=models.Distance.DOT),
            hnsw_config=models.HnswConfigDiff(m=self.hnsw_m), metadata=metadata)
        return self

    @property
    def ntotal(self) -> int:
        """Points in the collection (FAISS's name). Example: store.ntotal -> 323."""
        return int(self.client.count(self.collection, exact=True).count)

    def add_with_ids(self, vectors: np.ndarray, ids: np.ndarray, payloads: list[dict] | None = None) -> None:
        """Upsert points: vectors, the index's integer ids, each chunk as its payload.
        Example: store.add_with_ids(v, np.arange(3), [c.to_dict() for c in chunks])."""
        from qdrant_client import models

        ids = [int(i) for i in np.asarray(ids).tolist()]
        payloads = payloads or [{} for _ in ids]
        for start in range(0, len(ids), UPSERT_BATCH):
            end = start + UPSERT_BATCH
            self.client.upsert(self.collection, points=models.Batch(
                ids=ids[start:end], vectors=np.asarray(vectors[start:end], dtype="float32").tolist(),
                payloads=payloads[start:end]), wait=True)

    def remove_ids(self, ids) -> int:
        """Delete points by id; returns how many were asked. Example: store.remove_ids(np.array([4, 5])) -> 2."""
        from qdrant_client import models

        ids = [int(i) for i in np.asarray(ids).tolist()]
        if ids:
            self.client.delete(self.collection, points_selector=models.PointIdsList(points=ids), wait=True)
        return len(ids)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the k nearest points of each query, padded with -1 as FAISS does.
        Example: store.search(q, 3) -> (array([[0.71, 0.64, 0.6]]), array([[17, 4, 220]]))."""
        from qdrant_client import models

        params = (None if self.embedded else models.SearchParams(exact=True) if self.kind == "flat"
                  else models.SearchParams(hnsw_ef=max(self.ef_search, k)))
        requests = [models.QueryRequest(query=np.asarray(q, dtype="float32").tolist(), limit=k, params=params,
                                        with_payload=False) for q in vectors]
        scores, found = np.zeros((len(requests), k), dtype="float32"), np.full((len(requests), k), -1, dtype="int64")
        for row, answer in enumerate(self.client.query_batch_points(self.collection, requests)):
            for col, point in enumerate(answer.points[:k]):
                scores[row, col], found[row, col] = point.score, int(point.id)
        return scores, found

    def reconstruct(self, i: int) -> np.ndarray:
        """The stored vector of one id (FAISS's name). Example: store.reconstruct(0).shape -> (384,)."""
        points = self.client.retrieve(self.collection, [int(i)], with_vectors=True, with_payload=False)
        if not points:
            raise KeyError(f"no point {i} in collection {self.collection!r}")
        return np.asarray(points[0].vector, dtype="float32")

    def points(self, batch: int = 1024):
        """Every point's id and payload, in pages.
        Example: next(store.points()) -> (0, {"id": "faq-shipping#0", ...})."""
        offset = None
        while True:
            page, offset = self.client.scroll(self.collection, limit=batch, offset=offset, with_payload=True,
                                              with_vectors=False)
            for point in page:
                yield int(point.id), point.payload or {}
            if offset is None:
                return


def _metadata(index: VectorIndex) -> dict:
    """What a collection says about the index it holds (checked when it is opened again)."""
    return {"labkit": STORE_FORMAT, "embedder": embedder_name(index.embedder) if index.embedder is not None else None,
            "kind": index.kind,
            "chunk_size": index.chunk_size, "overlap": index.overlap, "hnsw_m": index.hnsw_m,
            "ef_search": index.ef_search}


def qdrant_index(embedder, store: str = "qdrant:memory", collection: str = DEFAULT_COLLECTION, kind: str = "flat",
                 dim: int | None = None, **options) -> VectorIndex:
    """A new, empty VectorIndex kept in a new Qdrant collection; add documents to it as to any index.

    Example: qdrant_index(embedder, "qdrant:memory").add_documents(load_folder("data/kb")) -> 323
    kind is "flat" (exact) or "hnsw"; Qdrant has no IVF. The collection must not exist yet (open_qdrant_index opens
    one that does). dim is needed only without an embedder (vectors added with add_vectors, as a benchmark does).
    """
    spec = parse_store(store)
    if spec.kind != "qdrant":
        raise ValueError(f"qdrant_index needs a Qdrant store, not {store!r}: use build_index for FAISS")
    if kind not in ("flat", "hnsw"):
        raise ValueError(f"index kind {kind!r}: Qdrant keeps a collection exact (flat) or as a graph (hnsw); it has "
                         "no IVF (use FAISS for that)")
    check_collection(collection)
    index = VectorIndex(embedder, kind, store=store, **options)
    dim = embedding_dim(embedder) if embedder is not None else dim
    if not dim:
        raise ValueError("qdrant_index needs an embedder, or dim= for vectors you add yourself")
    index.index = QdrantStore(spec.client(), collection, dim, kind, index.hnsw_m,
                              index.ef_search, spec.mode != "server").create(_metadata(index))
    return index


def open_qdrant_index(store: str, collection: str, embedder) -> VectorIndex:
    """The VectorIndex a collection holds, its chunk store rebuilt from the points' payloads.

    Example: open_qdrant_index("qdrant:/tmp/kb-qdrant", "labkit-chunks", embedder).search("return window?")
    ValueError if the collection is not a labkit index, or was embedded by another embedder; nothing is changed.
    """
    spec = parse_store(store)
    if spec.kind != "qdrant":
        raise ValueError(f"open_qdrant_index needs a Qdrant store, not {store!r}")
    client = spec.client()
    if not client.collection_exists(check_collection(collection)):
        raise ValueError(f"Qdrant has no collection {collection!r} at {store}: build one with qdrant_index() or "
                         "copy_to_qdrant()")
    meta = client.get_collection(collection).config.metadata or {}
    if meta.get("labkit") != STORE_FORMAT:
        raise ValueError(f"collection {collection!r} was not written by this labkit version (format "
                         f"{meta.get('labkit')}); rebuild it")
    if meta.get("embedder") != embedder_name(embedder):
        raise ValueError(f"collection {collection!r} was embedded by {meta.get('embedder')!r}, not "
                         f"{embedder_name(embedder)!r}: open it with that embedder or rebuild it")
    index = VectorIndex(embedder, meta["kind"], meta["chunk_size"], meta["overlap"], meta["hnsw_m"],
                        meta["ef_search"], store=store)
    index.index = QdrantStore(client, collection, embedding_dim(embedder), meta["kind"], meta["hnsw_m"],
                              meta["ef_search"], spec.mode != "server")
    fields = set(Chunk.__dataclass_fields__)
    for i, payload in index.index.points():
        if not fields.issuperset(payload) or not {"id", "doc_id", "position", "text"} <= set(payload):
            raise ValueError(f"collection {collection!r}: point {i} does not carry a labkit chunk (its payload has "
                             f"{sorted(payload)[:6]}); rebuild it")
        chunk = Chunk(**payload)
        index.chunks[i] = chunk
        index.doc_chunks.setdefault(chunk.doc_id, []).append(i)
        index.documents.setdefault(chunk.doc_id, {"title": chunk.title, "path": chunk.path, "sha": ""})
    index.next_id = max(index.chunks, default=-1) + 1
    index.from_cache = True
    return index


def copy_to_qdrant(index: VectorIndex, store: str = "qdrant:memory", collection: str = DEFAULT_COLLECTION,
                   kind: str = "flat") -> VectorIndex:
    """A FAISS index's chunks and vectors copied into a new Qdrant collection, under the same ids; nothing is embedded.

    Example: copy_to_qdrant(index_folder("data/kb", embedder)).search("return window?")[0].chunk.doc_id
        -> "policy-returns"
    """
    target = qdrant_index(index.embedder, store, collection, kind, index.dim, chunk_size=index.chunk_size,
                          overlap=index.overlap)
    ids = sorted(index.chunks)
    vectors = index.stored_vectors(ids)
    target.index.add_with_ids(vectors, np.asarray(ids, dtype="int64"), [index.chunks[i].to_dict() for i in ids])
    for i in ids:
        chunk = index.chunks[i]
        target.chunks[i] = chunk
        target.doc_chunks.setdefault(chunk.doc_id, []).append(i)
    target.documents = {doc_id: dict(info) for doc_id, info in index.documents.items()}
    target.next_id, target.notes, target.report = index.next_id, list(index.notes), dict(index.report)
    return target


def content_collection(index: VectorIndex) -> str:
    """A collection name made from what an index holds: its documents' checksums and its settings.

    Example: content_collection(index_folder("data/kb", embedder)) -> "labkit-kb-3f9c0a1b2c4d5e6f"
    The same files and settings give the same name, so a later run opens the collection instead of copying again.
    """
    import hashlib
    import json

    what = json.dumps([sorted((d, info.get("sha", "")) for d, info in index.documents.items()),
                       embedder_name(index.embedder), index.kind, index.chunk_size, index.overlap, len(index)])
    folder = re.sub(r"[^A-Za-z0-9_.-]", "-", Path(str(index.report.get("source") or "index")).name)[:40] or "index"
    return f"labkit-{folder.lstrip('-.') or 'index'}-{hashlib.sha256(what.encode()).hexdigest()[:16]}"


def in_qdrant(index: VectorIndex, store: str) -> VectorIndex:
    """The index in a Qdrant store: its content's collection opened if there, else the index copied in (no embedding).

    Example: in_qdrant(index_folder("data/kb", embedder), "qdrant://localhost:6333").store -> "qdrant://localhost:6333"
    """
    spec = parse_store(store)
    if spec.kind != "qdrant":
        return index
    name = content_collection(index)
    client = spec.client()
    exists = client.collection_exists(name)
    if spec.mode == "path":
        client.close()  # embedded folder mode allows one client at a time
    if exists:
        return open_qdrant_index(store, name, index.embedder)
    return copy_to_qdrant(index, store, name, "flat" if index.kind == "ivf" else index.kind)
