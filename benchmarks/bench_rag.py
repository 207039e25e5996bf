"""Benchmark of the RAG track: prints figures, asserts nothing (timings depend on the machine).

Measures embedding throughput (chunks/s), index build time, search latency p50/p95 per
index kind at the knowledge base's size and at 100,000 synthetic 384-d vectors, and RAG
answer latency p50 (greedy, at most 48 new tokens). Run: python benchmarks/bench_rag.py
[--answers N]. Targets on 2 cores: search p50 <= 20 ms at KB size; answer p50 <= 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from labkit.config import KB_DIR
from labkit.corpus import chunk_corpus
from labkit.data import load_qa, spread
from labkit.documents import load_folder
from labkit.embedding import embed_texts, few_threads
from labkit.models import load_embedder, load_generator
from labkit.rag import RAG
from labkit.retrieval import INDEX_KINDS, VectorIndex


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds. Example: percentiles([0.001, 0.002]) -> (1.5, 1.95)."""
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=20, help="RAG answers to time")
    parser.add_argument("--queries", type=int, default=200, help="searches per index kind")
    args = parser.parse_args()
    import torch

    print(f"cpu_count={os.cpu_count()} torch_threads={torch.get_num_threads()} load_avg={os.getloadavg()[0]:.1f} (CPU "
          "shared with other jobs)")
    embedder = load_embedder()
    chunks = chunk_corpus(load_folder(KB_DIR))
    texts = [c.embed_text() for c in chunks]
    start = time.perf_counter()
    vectors = embed_texts(embedder, texts, progress=False)
    embed_s = time.perf_counter() - start
    print(f"embedding: {len(chunks)} chunks in {embed_s:.2f} s = {len(chunks) / embed_s:.1f} chunks/s")
    questions = [q["paraphrases"][0] for q in load_qa()]
    with few_threads(1):
        qvecs = np.vstack([embed_texts(embedder, [q], progress=False) for q in questions[:50]])
    start = time.perf_counter()
    with few_threads(1):
        for q in questions[:50]:
            embed_texts(embedder, [q], progress=False)
    print(f"question embedding: p50 {(time.perf_counter() - start) / 50 * 1000:.1f} ms mean over 50 (1 thread)")

    rng = np.random.default_rng(0)
    synthetic = rng.normal(size=(100_000, vectors.shape[1])).astype("float32")
    synthetic /= np.linalg.norm(synthetic, axis=1, keepdims=True)
    for label, base, queries in (("KB", vectors, qvecs),
                                 ("100k synthetic", synthetic, synthetic[rng.integers(0, 100_000, 50)] + 0.01)):
        for kind in INDEX_KINDS:
            index = VectorIndex(embedder, kind)
            start = time.perf_counter()
            index.add_vectors([chunks[i % len(chunks)] for i in range(len(base))], base)
            build_s = time.perf_counter() - start
            times = []
            for i in range(args.queries):
                q = queries[i % len(queries)][None, :]
                t0 = time.perf_counter()
                index.search_vectors(q, 3)
                times.append(time.perf_counter() - t0)
            p50, p95 = percentiles(times)
            print(f"{label:>15} {kind:>5}: n={len(base):>6} build {build_s:7.3f} s  search p50 {p50:6.3f} ms  p95 "
                  f"{p95:6.3f} ms  {' '.join(index.notes)}")

    from labkit.retrieval import build_index

    index = build_index(load_folder(KB_DIR), embedder, "flat", progress=False)
    times = []
    for q in questions[:50]:
        t0 = time.perf_counter()
        index.search(q, 3)
        times.append(time.perf_counter() - t0)
    p50, p95 = percentiles(times)
    print(f"question -> top 3 chunks (embed + flat search): p50 {p50:.1f} ms  p95 {p95:.1f} ms")

    gen = load_generator()
    rag = RAG(index, gen, top_k=3, max_new_tokens=48)
    latencies, generate, tokens = [], [], []
    for q in spread(load_qa(), args.answers):
        t0 = time.perf_counter()
        result = rag.answer(q["paraphrases"][0])
        latencies.append(time.perf_counter() - t0)
        generate.append(result.generate_s)
        tokens.append(result.prompt_tokens)
    print(f"RAG answer (top_k=3, <=48 new tokens): p50 {statistics.median(latencies):.2f} s  p95 "
          f"{np.percentile(latencies, 95):.2f} s  "
          f"generate p50 {statistics.median(generate):.2f} s  prompt tokens p50 {statistics.median(tokens):.0f}  "
          f"n={len(latencies)}")


if __name__ == "__main__":
    main()
