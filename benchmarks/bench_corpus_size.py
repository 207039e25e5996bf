"""RAG's cost as the data grows: index build time, memory and search latency from the knowledge base to 1,000,000
chunks.

Prints figures and draws a log-log chart; asserts nothing (timings depend on the machine).
The knowledge base's real chunk vectors come first; beyond them, synthetic unit vectors
(random, 384-d, like all-MiniLM-L6-v2's) stand in for more documents: search cost depends on
the count and dimension, not on what the vectors mean. Each size is built with
`labkit.retrieval.VectorIndex` for every kind (flat = exact; ivf and hnsw = approximate), and
approximate recall@10 is measured against flat on the same queries. HNSW stops at
--max-hnsw (its build is the slow part on a laptop).

Run: python benchmarks/bench_corpus_size.py [--sizes 323 10000 100000 1000000] [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from labkit.config import KB_DIR
from labkit.folder_index import index_folder
from labkit.models import load_embedder
from labkit.retrieval import INDEX_KINDS, VectorIndex, search_latency

INTERACTIVE_MS = 100.0  # a search slower than this (p50) no longer feels instant beside a ~1 s answer


def synthetic(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n random unit vectors. Example: synthetic(2, 384).shape -> (2, 384)."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 10_000, 100_000, 1_000_000],
                        help="chunk counts (0: the knowledge base alone)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--max-hnsw", type=int, default=100_000, help="largest size to build an HNSW index for")
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args()
    print(f"cpu_count={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}")

    kb = index_folder(KB_DIR, load_embedder(), progress=False)
    ids = sorted(kb.chunks)
    real = np.vstack([kb.index.reconstruct(i) for i in ids]).astype("float32")
    # every synthetic vector points at one placeholder chunk: the chunk store is not what is measured
    chunk = kb.chunks[ids[0]]
    queries = real[: args.queries]
    rows = []
    for size in sorted({max(len(real), s) for s in args.sizes}):
        vectors = np.vstack([real, synthetic(size - len(real), real.shape[1])]) if size > len(real) else real
        exact = None
        for kind in INDEX_KINDS:
            if kind == "hnsw" and size > args.max_hnsw:
                continue
            index = VectorIndex(None, kind)
            t0 = time.perf_counter()
            index.add_vectors([chunk] * size, vectors)
            build_s = time.perf_counter() - t0
            latency = search_latency(index, queries, top_k=10)
            # ids straight from the faiss object: every synthetic vector shares one placeholder chunk
            found = [set(index.index.search(q[None, :], 10)[1][0].tolist()) for q in queries]
            if kind == "flat":
                exact = found
            recall = float(np.mean([len(f & e) / 10 for f, e in zip(found, exact, strict=True)]))
            memory_mb = vectors.nbytes / 1e6 * (1.0 if kind != "hnsw" else 1.0 + 2 * 32 * 4 / (4 * vectors.shape[1]))
            rows.append({"size": size, "kind": kind, "build_s": build_s, "p50_ms": latency["p50"],
                         "p95_ms": latency["p95"], "recall@10": recall, "memory_mb": memory_mb})
            print(f"{size:>9,d} chunks  {kind:5s} build {build_s:8.2f} s  search p50 {latency['p50']:8.2f} ms  p95 "
                  f"{latency['p95']:8.2f} ms  "
                  f"recall@10 vs flat {recall:.2f}  memory ~{memory_mb:,.0f} MB (vectors + graph links)", flush=True)
            del index
    slow = [r for r in rows if r["kind"] == "flat" and r["p50_ms"] > INTERACTIVE_MS]
    print(f"exact search stops being interactive (p50 > {INTERACTIVE_MS:.0f} ms) at: "
          + (f"{slow[0]['size']:,d} chunks" if slow else f"none of these sizes (largest {rows[-1]['size']:,d})"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind in INDEX_KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        axes[0].plot([r["size"] for r in mine], [r["p50_ms"] for r in mine], marker="o", label=kind)
        axes[1].plot([r["size"] for r in mine], [r["build_s"] for r in mine], marker="o", label=kind)
    axes[0].axhline(INTERACTIVE_MS, ls=":", color="grey", label=f"{INTERACTIVE_MS:.0f} ms")
    for ax, ylabel in zip(axes, ("search p50 (ms)", "index build (s)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("chunks in the index")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    fig.suptitle("RAG cost grows with the data (this CPU; synthetic vectors beyond the knowledge base)")
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "corpus_size.png", dpi=110)
    print(f"wrote {out / 'corpus_size.png'}")


if __name__ == "__main__":
    main()
