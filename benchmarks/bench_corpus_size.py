"""RAG's cost as the data grows, from the knowledge base to 1,000,000 chunks: FAISS flat, FAISS IVF, FAISS HNSW and
embedded Qdrant; prints figures, asserts nothing, and (--record) writes data/corpus_size.json and the README's table.

For each size and store, in a fresh process of its own (so one build's memory does not count in the next):
- build: `VectorIndex.add_vectors` (FAISS) or `qdrant_store.qdrant_index(...).add_vectors` (Qdrant's embedded mode in
  memory, each chunk its point's payload), seconds; memory: the process's resident memory grown by the build (MB);
- search: p50/p95 milliseconds of one question at a time (top 10), over --queries of the kit's questions, embedded;
- recall@10 against FAISS flat's exact top 10 on the same questions.
Vectors: the knowledge base's 323 real chunk vectors, then random unit vectors (384-d, seeded) standing in for more
documents: build and search cost depend on the count and dimension, not on what the vectors mean; random vectors have
no clusters, the hard case for IVF's lists. Embedding so many chunks here would take hours, so embedding is measured
on --embed-sample synthetic chunks (the knowledge base's words, shuffled, a chunk's length, the kit's embedder and its
bf16 path for corpora) and projected linearly to each size. HNSW stops at --max-hnsw and Qdrant at --max-qdrant (its
embedded mode is numpy over every vector, kept in Python objects; qdrant-client itself warns past 20,000 points). A
store that does not finish (build and searches) within --timeout seconds is stopped and recorded as not finished, and
no larger size of it is tried.

Run: nice -n 10 python benchmarks/bench_corpus_size.py [--sizes 0 10000 100000 1000000] [--record]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STORES = ("faiss flat", "faiss ivf", "faiss hnsw", "qdrant embedded")


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n random unit vectors. Example: synthetic(2, 384).shape -> (2, 384)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # in slices: float64 temporaries of a million rows would double the peak
        part = rng.standard_normal((min(100_000, n - start), dim), dtype=np.float32)
        out[start:start + len(part)] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def measure_one(size: int, store: str, work: Path) -> dict:
    """Build one store of `size` vectors, search it with the saved questions; its figures (run in a child process)."""
    from labkit.corpus import Chunk
    from labkit.qdrant_store import qdrant_index
    from labkit.retrieval import VectorIndex, search_latency

    real, queries = np.load(work / "kb.npy"), np.load(work / "queries.npy")
    chunk = Chunk(**json.loads((work / "chunk.json").read_text()))  # one real chunk: a payload of a real size
    vectors = np.vstack([real, synthetic(size - len(real), real.shape[1])]) if size > len(real) else real
    import faiss  # noqa: F401  (loaded before the clock and the memory baseline: a library's import is not a build)
    import qdrant_client  # noqa: F401

    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    if store == "qdrant embedded":
        index = qdrant_index(None, "qdrant:memory", dim=vectors.shape[1])
    else:
        index = VectorIndex(None, store.split()[1])
    index.add_vectors([chunk] * size, vectors)
    build_s = time.perf_counter() - t0
    gc.collect()
    memory = rss_mb() - before
    latency = search_latency(index, queries, top_k=10)
    found = np.vstack([index.index.search(q[None, :], 10)[1][0] for q in queries])
    np.save(work / f"found-{size}-{store.replace(' ', '-')}.npy", found)
    return {"size": size, "store": store, "build_s": round(build_s, 3), "memory_mb": round(memory, 1),
            "p50_ms": round(latency["p50"], 3), "p95_ms": round(latency["p95"], 3)}


def embedding_rate(embedder, kb_chunks, sample: int) -> dict:
    """Seconds per chunk to embed `sample` synthetic chunks (the knowledge base's words, shuffled, seeded)."""
    from labkit.embedding import BF16_EMBED_MIN, embed_texts
    from labkit.models import resolve_precision

    rng = np.random.default_rng(0)
    words = " ".join(c.text for c in kb_chunks).split()
    length = int(np.median([len(c.text.split()) for c in kb_chunks]))
    texts = [" ".join(rng.choice(words, length)) for _ in range(sample)]
    t0 = time.perf_counter()
    embed_texts(embedder, texts, progress=False)
    seconds = time.perf_counter() - t0
    precision = resolve_precision("auto") if sample >= BF16_EMBED_MIN else "float32"
    return {"sample": sample, "words_per_chunk": length, "seconds": round(seconds, 2),
            "per_chunk_s": seconds / sample, "precision": precision}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 10_000, 100_000, 1_000_000],
                        help="chunk counts (0: the knowledge base alone)")
    parser.add_argument("--queries", type=int, default=50, help="questions searched per store")
    parser.add_argument("--max-hnsw", type=int, default=100_000, help="largest size to build an HNSW index for")
    parser.add_argument("--max-qdrant", type=int, default=1_000_000, help="largest size to build embedded Qdrant for")
    parser.add_argument("--embed-sample", type=int, default=2048, help="synthetic chunks embedded to time embedding")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one store and size may take, at most")
    parser.add_argument("--record", action="store_true",
                        help="write data/corpus_size.json and the README's table from this run")
    parser.add_argument("--one", nargs=3, metavar=("SIZE", "STORE", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # a child process: one store, one size
        print(json.dumps(measure_one(int(args.one[0]), args.one[1], Path(args.one[2]))))
        return

    from labkit.config import KB_DIR, REPO_ROOT
    from labkit.data import CORPUS_SIZE_PATH, load_qa
    from labkit.embedding import embed_texts
    from labkit.folder_index import index_folder
    from labkit.models import load_embedder
    from labkit.readme import CORPUS_SIZE, README, corpus_size_markdown, write_block

    started = time.perf_counter()
    load_avg = round(os.getloadavg()[0], 1)  # other work on the machine slows every figure: recorded beside them
    print(f"cpu_count={os.cpu_count()} load_avg={load_avg}", flush=True)
    embedder = load_embedder()
    kb = index_folder(KB_DIR, embedder, progress=False)
    ids = sorted(kb.chunks)
    embedding = embedding_rate(embedder, [kb.chunks[i] for i in ids], args.embed_sample)
    print(f"embedding: {embedding['sample']} synthetic chunks of {embedding['words_per_chunk']} words in "
          f"{embedding['seconds']} s ({embedding['precision']}): {embedding['per_chunk_s'] * 1000:.1f} ms a chunk",
          flush=True)
    rows, stopped = [], {}  # store -> the size it did not finish
    with tempfile.TemporaryDirectory(prefix="labkit-corpus-size-") as tmp:
        work = Path(tmp)
        np.save(work / "kb.npy", kb.stored_vectors(ids))
        questions = [q["question"] for q in load_qa(args.queries)]
        np.save(work / "queries.npy", embed_texts(embedder, questions, progress=False))
        (work / "chunk.json").write_text(json.dumps(kb.chunks[ids[0]].to_dict()))
        for size in sorted({max(len(ids), s) for s in args.sizes}):
            for store in STORES:
                if (store == "faiss hnsw" and size > args.max_hnsw) or (store == "qdrant embedded"
                                                                        and size > args.max_qdrant) or store in stopped:
                    continue
                try:
                    done = subprocess.run([sys.executable, __file__, "--one", str(size), store, str(work)],
                                          capture_output=True, text=True, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    stopped[store] = size
                    rows.append({"size": size, "store": store, "timed_out_s": args.timeout,
                                 "embed_projected_s": round(size * embedding["per_chunk_s"], 1)})
                    print(f"{size:>9,d} chunks  {store:15s} did not finish in {args.timeout} s: stopped", flush=True)
                    continue
                if done.returncode != 0:
                    print(f"{size:>9,d} chunks  {store}: failed\n{done.stderr[-1500:]}", flush=True)
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                found = np.load(work / f"found-{size}-{store.replace(' ', '-')}.npy")
                exact = np.load(work / f"found-{size}-faiss-flat.npy")
                row["recall_at_10"] = round(float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact,
                                                                                                       strict=True)])),
                                            3)
                row["embed_projected_s"] = round(size * embedding["per_chunk_s"], 1)
                rows.append(row)
                print(f"{size:>9,d} chunks  {store:15s} build {row['build_s']:8.2f} s  memory {row['memory_mb']:8.1f} "
                      f"MB  search p50 {row['p50_ms']:8.2f} ms  p95 {row['p95_ms']:8.2f} ms  recall@10 vs flat "
                      f"{row['recall_at_10']:.2f}  embedding (projected) {row['embed_projected_s']:,.0f} s", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_ROOT).stdout.strip()
    record = {"machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, CPU",
              "date": time.strftime("%Y-%m-%d"), "commit": commit, "load_avg": load_avg, "queries": len(questions),
              "top_k": 10, "threads": int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count(),
              "seconds": round(time.perf_counter() - started), "embedding": embedding, "rows": rows,
              "max_hnsw": args.max_hnsw, "max_qdrant": args.max_qdrant, "timeout_s": args.timeout}
    print(f"whole run: {record['seconds']} s")
    print(corpus_size_markdown(record))
    if args.record:
        CORPUS_SIZE_PATH.write_text(json.dumps(record, indent=1) + "\n")
        write_block(README, CORPUS_SIZE, corpus_size_markdown(record))
        print(f"wrote {CORPUS_SIZE_PATH} and the README's corpus-size table")


if __name__ == "__main__":
    main()
