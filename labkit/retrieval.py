"""Retrieval: chunks in a FAISS index beside a BM25 keyword index; search, add/replace/delete, save/load; speed.

What it holds:
- `VectorIndex`: a FAISS index chosen by name ("flat" exact inner product, "hnsw" graph, "ivf" inverted lists) with
  our own ids (`IndexIDMap2` for flat and HNSW; IVF lists store ids themselves), so every chunk has a stable integer id
  and documents can be added, replaced and deleted without rebuilding. It keeps its chunk store and a BM25 index of the
  same chunks next to it, searches by its `retriever` ("dense": embeddings; "bm25": keywords; "hybrid": both lists
  fused by reciprocal rank), and saves to / loads from a directory (`index.faiss`, `chunks.json`, `keywords/`; no
  pickle). `build_index` makes one of some documents.
- `search_latency`: p50/p95 milliseconds of single-question searches.

What it leaves out: embedding texts (`labkit.embedding`), BM25 and the fusion rule (`labkit.keyword_index`), the cache
of a folder's index (`labkit.folder_index`), the knowledge base's fact changes (`labkit.kb_updates`), recall@k and MRR
(`labkit.evaluate.evaluate_retrieval`), prompting and generation (`labkit.rag`), re-ranking, GPU indexes, and a vector
database (`labkit.qdrant_store` puts a Qdrant collection where the FAISS object is, answering the same calls; `store`
names it). Vectors are normalised, so inner product = cosine similarity.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labkit.corpus import CHUNK_OVERLAP, CHUNK_SIZE, Chunk, chunk_corpus, chunk_document
from labkit.documents import Corpus, Document
from labkit.embedding import embed_texts, embedder_name, few_threads
from labkit.keyword_index import KeywordIndex, fuse
from labkit.models import embedding_dim
from labkit.question_check import check_question
from labkit.storage import atomic_dir

INDEX_KINDS = ("flat", "hnsw", "ivf")
RETRIEVERS = ("dense", "bm25", "hybrid")  # how a question finds chunks: embeddings, keywords, or both fused
FUSE_DEPTH = 50  # hybrid: each retriever's best chunks that reciprocal rank fusion ranks together
# bump when the saved layout or the text extracted from files changes, so old caches are not misread (2: index checksum
# and count; 3: the keyword index, HTML reduced to its main content, titles in heading paths)
FORMAT_VERSION = 3


def ivf_nlist(n: int) -> int:
    """Number of IVF lists for n training vectors: about sqrt(n), but at most n/39.

    Example: ivf_nlist(323) -> 8; ivf_nlist(100_000) -> 316
    FAISS's k-means wants at least 39 points per centroid, so a small knowledge base gets
    few lists (and then IVF is close to exact search, which is the honest outcome).
    """
    return max(1, min(round(math.sqrt(n)), n // 39))


def check_retriever(retriever: str) -> str:
    """A retriever's name, checked. Example: check_retriever("hybrid") -> "hybrid"; "sparse" raises ValueError."""
    if retriever not in RETRIEVERS:
        raise ValueError(f"Unknown retriever {retriever!r}: choose one of {', '.join(RETRIEVERS)}.")
    return retriever


@dataclass
class Hit:
    """One search result: the chunk, its score (cosine similarity, BM25 score, or hybrid's fused one), its rank."""

    chunk: Chunk
    score: float
    rank: int


@dataclass
class VectorIndex:
    """A FAISS index of chunk embeddings with its chunk store; documents can change in place."""

    embedder: object  # the sentence embedder (not saved; pass it again to load())
    kind: str = "flat"  # "flat" (exact), "hnsw" (graph, approximate) or "ivf" (inverted lists, approximate)
    chunk_size: int = CHUNK_SIZE  # tokens (words by default) per chunk, used by add_documents
    overlap: int = CHUNK_OVERLAP  # tokens repeated between consecutive chunks of a section
    hnsw_m: int = 32  # HNSW: neighbours per node (more = better recall, more memory)
    ef_search: int = 64  # HNSW: candidates explored per search
    nprobe: int | None = None  # IVF: lists visited per search (None: a quarter of the lists, at least 2)
    retriever: str = "dense"  # "dense" (embeddings), "bm25" (keywords) or "hybrid" (both, reciprocal rank fusion)
    chunks: dict = field(default_factory=dict)  # int id -> Chunk (live chunks only)
    doc_chunks: dict = field(default_factory=dict)  # document id -> [int ids]
    documents: dict = field(default_factory=dict)  # document id -> {"title", "path", "sha"}
    notes: list = field(default_factory=list)  # choices made for the learner (IVF sizing, ...)
    report: dict = field(default_factory=dict)  # the loading report: skipped files and warnings
    next_id: int = 0
    tombstones: int = 0  # HNSW only: deleted vectors still in the graph (they are filtered out)
    from_cache: bool = False
    folder_key: str = ""  # index_folder's key of the folder's files and settings (ask_server compares it)
    index: object = None  # the faiss index (IndexIDMap2, or IndexIVFFlat), created with the first vectors
    store: str = "faiss"  # where the vectors live: "faiss" (this process) or a Qdrant store (labkit.qdrant_store)
    keyword_index: KeywordIndex | None = None  # BM25 of the live chunks; None when they changed since (made again)

    def __post_init__(self):
        if self.kind not in INDEX_KINDS:
            raise ValueError(f"Unknown index kind {self.kind!r}: choose one of {', '.join(INDEX_KINDS)}.")
        check_retriever(self.retriever)

    @property
    def keywords(self) -> KeywordIndex:
        """The BM25 index of the live chunks, made on first use after a change (ms for hundreds of chunks)."""
        if self.keyword_index is None:
            ids = sorted(self.chunks)
            self.keyword_index = KeywordIndex(ids, [self.chunks[i].embed_text() for i in ids])
        return self.keyword_index

    # ------------------------------------------------------------ size
    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def dim(self) -> int:
        return embedding_dim(self.embedder) if self.embedder is not None else int(self.index.d)

    # ------------------------------------------------------------ building
    def _new_faiss(self, train: np.ndarray):
        import faiss

        dim = train.shape[1]
        if self.kind == "flat":
            base = faiss.IndexFlatIP(dim)
        elif self.kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efSearch = self.ef_search
            base.hnsw.efConstruction = max(40, 2 * self.hnsw_m)
        else:
            nlist = ivf_nlist(len(train))
            quantizer = faiss.IndexFlatIP(dim)
            base = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            base.train(train)
            base.nprobe = self.nprobe or max(2, nlist // 4)
            base.nprobe = min(base.nprobe, nlist)
            self.notes.append(
                f"IVF trained on {len(train)} vectors: nlist={nlist} lists (about sqrt(n), at most n/39), "
                f"nprobe={base.nprobe}."
            )
        if self.kind == "ivf":
            # IVF lists store our ids themselves and remove them correctly; wrapping IVF in
            # IndexIDMap2 breaks deletion (the wrapper renumbers, IVF does not)
            return base
        # faiss's Python layer keeps `base` alive with the wrapper
        return faiss.IndexIDMap2(base)

    def add_vectors(self, chunks: list[Chunk], vectors: np.ndarray) -> list[int]:
        """Add chunks with their (normalised) vectors; returns their integer ids.

        Example: index.add_vectors([chunk], embed_texts(embedder, [chunk.embed_text()])) -> [0]
        """
        vectors = np.ascontiguousarray(vectors, dtype="float32")
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors: they must pair up one to one.")
        if not chunks:
            return []
        if self.index is None:
            self.index = self._new_faiss(vectors)
        ids = np.arange(self.next_id, self.next_id + len(chunks), dtype="int64")
        if self.store == "faiss":
            self.index.add_with_ids(vectors, ids)
        else:  # a database keeps each chunk as its point's payload, so another process can read the index whole
            self.index.add_with_ids(vectors, ids, [c.to_dict() for c in chunks])
        self.next_id += len(chunks)
        self.keyword_index = None
        for i, chunk in zip(ids.tolist(), chunks, strict=True):
            self.chunks[i] = chunk
            self.doc_chunks.setdefault(chunk.doc_id, []).append(i)
            self.documents.setdefault(chunk.doc_id, {"title": chunk.title, "path": chunk.path, "sha": ""})
        return ids.tolist()

    def add_chunks(self, chunks: list[Chunk], batch_size: int = 32, progress: bool = True) -> list[int]:
        """Embed chunks and add them. Example: index.add_chunks(chunk_document(doc)) -> [0, 1, 2]."""
        # the corpus these chunks join, so a big index's later additions are embedded as its first ones were
        vectors = embed_texts(self.embedder, [c.embed_text() for c in chunks], batch_size, progress,
                              corpus_size=len(self.chunks) + len(chunks))
        return self.add_vectors(chunks, vectors)

    def add_documents(self, documents, batch_size: int = 32, progress: bool = True) -> int:
        """Chunk, embed and add Documents (or a Corpus); returns the number of chunks added.

        Example: index.add_documents(load_folder("data/kb")) -> 323
        A document whose id is already indexed raises ValueError: use replace_document.
        """
        documents = documents.documents if isinstance(documents, Corpus) else list(documents)
        for doc in documents:
            if doc.id in self.documents:
                raise ValueError(f"Document {doc.id!r} is already in the index: use replace_document() to change it.")
        chunks = chunk_corpus(documents, self.chunk_size, self.overlap)
        self.add_chunks(chunks, batch_size, progress)
        for doc in documents:
            self.documents[doc.id] = {"title": doc.title, "path": doc.path, "sha": doc.sha}
        return len(chunks)

    def delete_document(self, doc_id: str) -> int:
        """Remove every chunk of one document; returns how many. Example: index.delete_document("policy-returns") -> 9.

        Flat and IVF indexes drop the vectors; an HNSW graph cannot remove nodes, so its
        vectors stay as tombstones that search filters out (compact() rebuilds it).
        """
        if doc_id not in self.documents:
            raise KeyError(f"No document {doc_id!r} in the index ({len(self.documents)} documents); see "
                           "index.documents for the ids.")
        ids = self.doc_chunks.pop(doc_id, [])
        self.documents.pop(doc_id)
        self.keyword_index = None
        if ids:
            if self.kind == "hnsw" and self.store == "faiss":
                self.tombstones += len(ids)
            else:
                self.index.remove_ids(np.asarray(ids, dtype="int64"))
        for i in ids:
            self.chunks.pop(i, None)
        return len(ids)

    def replace_document(self, doc: Document, progress: bool = False) -> dict:
        """Swap a document's chunks for a new version (or add it if new); returns counts and seconds.

        Example: index.replace_document(new_doc) -> {"removed": 7, "added": 7, "seconds": 0.05}
        The new chunks are embedded before the old ones are removed, so a failure part-way
        leaves the old version searchable.
        """
        start = time.perf_counter()
        chunks = chunk_document(doc, self.chunk_size, self.overlap)
        vectors = embed_texts(self.embedder, [c.embed_text() for c in chunks], progress=progress,
                              corpus_size=len(self.chunks) + len(chunks))
        removed = self.delete_document(doc.id) if doc.id in self.documents else 0
        self.add_vectors(chunks, vectors)
        self.documents[doc.id] = {"title": doc.title, "path": doc.path, "sha": doc.sha}
        if self.kind == "hnsw" and self.tombstones > max(64, len(self.chunks)):
            self.compact()
        return {"removed": removed, "added": len(chunks), "seconds": round(time.perf_counter() - start, 4)}

    def compact(self) -> None:
        """Rebuild an HNSW index from the live chunks' vectors, dropping tombstones. Example: index.compact().

        Flat and IVF indexes (and a database) remove vectors for real, so there is nothing to compact.
        """
        if self.kind != "hnsw" or self.store != "faiss" or self.index is None or not self.chunks:
            return
        ids = np.asarray(sorted(self.chunks), dtype="int64")
        vectors = self.stored_vectors(ids)
        self.index = self._new_faiss(vectors)
        self.index.add_with_ids(vectors, ids)
        self.tombstones = 0

    def stored_vectors(self, ids) -> np.ndarray:
        """The vectors stored under some ids, one row each. Example: index.stored_vectors([0, 1]).shape -> (2, 384)."""
        if self.kind == "ivf" and self.store == "faiss":
            import faiss

            self.index.set_direct_map_type(faiss.DirectMap.Hashtable)  # IVF finds a vector by id only with a map
        return np.vstack([self.index.reconstruct(int(i)) for i in ids]).astype("float32")

    # ------------------------------------------------------------ searching
    def search_vectors(self, vectors: np.ndarray, top_k: int = 3) -> list[list[Hit]]:
        """Nearest chunks of query vectors. Example: index.search_vectors(q, 3)[0][0].chunk.id -> "policy-returns#4"."""
        if self.index is None or not self.chunks:
            raise ValueError("The index is empty: add documents first (index.add_documents(load_folder(folder))).")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k}).")
        fetch = min(top_k + self.tombstones, self.index.ntotal)
        scores, ids = self.index.search(np.ascontiguousarray(vectors, dtype="float32"), fetch)
        results = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            hits = []
            for score, i in zip(row_scores.tolist(), row_ids.tolist(), strict=True):
                if i >= 0 and i in self.chunks:  # -1: not enough neighbours; missing: a tombstone
                    hits.append(Hit(self.chunks[i], float(score), len(hits) + 1))
                if len(hits) == top_k:
                    break
            results.append(hits)
        return results

    def search(self, question: str, top_k: int = 3) -> list[Hit]:
        """The top_k chunks most similar to a question.
        Example: index.search("return label price?")[0].chunk.doc_id -> "policy-returns"."""
        return self.search_many([question], top_k)[0]

    def search_many(self, questions: list[str], top_k: int = 3) -> list[list[Hit]]:
        """search() for many questions (embedded in one batch), by the index's retriever.
        Example: index.search_many(["a?", "b?"], 3) -> [[Hit, ...], [...]]."""
        questions = [check_question(q) for q in questions]
        if not self.chunks or top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})." if self.chunks else "The index is empty: add "
                             "documents first (index.add_documents(load_folder(folder))).")
        if self.retriever != "bm25":
            with few_threads(len(questions)):
                vectors = embed_texts(self.embedder, questions, progress=False)
            if self.retriever == "dense":
                return self.search_vectors(vectors, top_k)
        depth = top_k if self.retriever == "bm25" else max(top_k, FUSE_DEPTH)
        keyword = [[(self.chunks[i], s) for i, s in row] for row in self.keywords.search(questions, depth)]
        if self.retriever == "bm25":
            return [[Hit(c, s, r) for r, (c, s) in enumerate(row, 1)] for row in keyword]
        results = []  # hybrid: the dense and the keyword ranking fused (chunk ids are unique among live chunks)
        for hits, row in zip(self.search_vectors(vectors, depth), keyword, strict=True):
            found = {c.id: c for c, _ in row} | {h.chunk.id: h.chunk for h in hits}
            fused = fuse([[h.chunk.id for h in hits], [c.id for c, _ in row]])[:top_k]
            results.append([Hit(found[c], s, r) for r, (c, s) in enumerate(fused, 1)])
        return results

    # ------------------------------------------------------------ saving
    def save(self, directory) -> Path:
        """Write the index and its chunk store to a directory (replaced atomically).
        Example: index.save("/tmp/kb-index")."""
        import faiss

        directory = Path(directory).expanduser()
        if self.index is None:
            raise ValueError("The index is empty: add documents before saving it.")
        if self.store != "faiss":
            raise ValueError(f"This index lives in {self.store}, which keeps it: open it again with "
                             "labkit.qdrant_store.open_qdrant_index (save() writes FAISS indexes).")
        with atomic_dir(directory) as tmp:
            faiss.write_index(self.index, str(tmp / "index.faiss"))
            keywords_sha256 = self.keywords.save(tmp / "keywords")
            store = {
                "format": FORMAT_VERSION,
                # tie the vectors and the BM25 files to this chunk store
                "index_sha256": hashlib.sha256((tmp / "index.faiss").read_bytes()).hexdigest(),
                "ntotal": int(self.index.ntotal), "keywords_sha256": keywords_sha256, "retriever": self.retriever,
                "kind": self.kind, "embedder": embedder_name(self.embedder), "dim": self.dim,
                "chunk_size": self.chunk_size, "overlap": self.overlap,
                "hnsw_m": self.hnsw_m, "ef_search": self.ef_search, "nprobe": self.nprobe,
                "next_id": self.next_id, "tombstones": self.tombstones,
                "notes": self.notes, "report": self.report, "documents": self.documents,
                "chunks": [{"int_id": i, **c.to_dict()} for i, c in self.chunks.items()],
            }
            (tmp / "chunks.json").write_text(json.dumps(store, ensure_ascii=False), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory, embedder) -> VectorIndex:
        """Read an index saved with save(). Example: VectorIndex.load("/tmp/kb-index", embedder).kind -> "flat"."""
        import faiss

        directory = Path(directory).expanduser()
        if not (directory / "index.faiss").is_file() or not (directory / "chunks.json").is_file():
            raise FileNotFoundError(
                f"{directory} is not a saved labkit index (index.faiss and chunks.json are needed).")
        store = json.loads((directory / "chunks.json").read_text(encoding="utf-8"))
        if store.get("format") != FORMAT_VERSION:
            raise ValueError(f"{directory} was saved by another labkit version (format {store.get('format')}); rebuild "
                             "it.")
        if store["embedder"] != embedder_name(embedder):
            raise ValueError(f"{directory} was built with embedder {store['embedder']!r}, not "
                             f"{embedder_name(embedder)!r}; load it with that embedder or rebuild.")
        data = (directory / "index.faiss").read_bytes()
        if hashlib.sha256(data).hexdigest() != store.get("index_sha256"):
            raise ValueError(f"{directory}: index.faiss does not match its chunk store (another index's file, or a "
                             "damaged one); rebuild it.")
        self = cls(embedder, store["kind"], store["chunk_size"], store["overlap"], store["hnsw_m"], store["ef_search"],
                   store["nprobe"], store["retriever"])
        self.index = faiss.read_index(str(directory / "index.faiss"))
        if int(self.index.ntotal) != store.get("ntotal") or len(
            store["chunks"]) + store["tombstones"] != self.index.ntotal:
            raise ValueError(f"{directory}: the index holds {self.index.ntotal} vectors for {len(store['chunks'])} "
                             "chunks; rebuild it.")
        self.next_id, self.tombstones = store["next_id"], store["tombstones"]
        self.notes, self.report, self.documents = store["notes"], store["report"], store["documents"]
        for row in store["chunks"]:
            i = row.pop("int_id")
            chunk = Chunk(**row)
            self.chunks[i] = chunk
            self.doc_chunks.setdefault(chunk.doc_id, []).append(i)
        self.keyword_index = KeywordIndex.load(directory / "keywords", store["keywords_sha256"], sorted(self.chunks))
        return self


def build_index(documents, embedder, kind: str = "flat", chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP,
                progress: bool = True, **options) -> VectorIndex:
    """A new VectorIndex of some Documents (or a Corpus); options are VectorIndex's (retriever="hybrid", ...).
    Example: build_index(load_folder("data/kb"), embedder, "hnsw")."""
    index = VectorIndex(embedder, kind, chunk_size, overlap, **options)
    index.add_documents(documents, progress=progress)
    if isinstance(documents, Corpus):
        index.report = {"root": documents.root, "skipped": documents.skipped, "warnings": documents.warnings}
    return index


# ---------------------------------------------------------------- measuring


def search_latency(index: VectorIndex, vectors: np.ndarray, top_k: int = 3) -> dict:
    """Milliseconds per single-vector search (p50 and p95) over some query vectors.
    Example: search_latency(index, vectors[:100]) -> {"p50": 0.04, "p95": 0.09}."""
    times = []
    for q in np.ascontiguousarray(vectors, dtype="float32"):
        t0 = time.perf_counter()
        index.search_vectors(q[None, :], top_k)
        times.append(time.perf_counter() - t0)
    return {"p50": float(np.percentile(times, 50) * 1000), "p95": float(np.percentile(times, 95) * 1000)}
