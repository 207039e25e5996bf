"""Indexing a real corpus: where the minutes go, and how close embedding is to this machine's limit.

Prints, for one folder (default: Python's own HTML documentation, Debian's python3-doc):
- loading (files read and parsed) and chunking: seconds, documents, chunks, what was skipped;
- the chunks' length in the embedder's tokens (median, p95, share cut at its max_seq_length);
- embedding throughput on a sample of chunks, in document order (as before), length-sorted
  (as `embedding.embed_texts` does) and length-sorted with bf16 matmuls (as it does for a corpus
  of `embedding.BF16_EMBED_MIN` chunks or more), in one run: chunks/s, tokens/s, the ratios and
  the bf16 vectors' cosine to the float32 ones;
- the embedder's limit here: 2 x (non-embedding parameters) FLOPs per token plus attention,
  against the measured matmul peak, and the projected time for every chunk;
- with --full, the whole folder through `retrieval.build_index` (what `labkit ask --docs` does), its BM25 index, the
  save and the load a later call does, and the first call's minutes without the model loads.

Usage: python benchmarks/bench_index_corpus.py [FOLDER] [--sample 1024] [--full]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from labkit import embedding
from labkit.config import get_config
from labkit.corpus import chunk_corpus
from labkit.costs import matmul_peak_gflops
from labkit.documents import load_folder
from labkit.embedding import embed_texts
from labkit.models import load_embedder, resolve_precision
from labkit.retrieval import VectorIndex, build_index

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")



def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def embed_in_document_order(embedder, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """The kit's embedding before length-sorted batches: fixed batches in document order."""
    parts = [embedder.encode(texts[i : i + batch_size], batch_size=batch_size, normalize_embeddings=True,
                             show_progress_bar=False)
             for i in range(0, len(texts), batch_size)]
    return np.vstack(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", default=str(PYTHON_DOCS))
    parser.add_argument("--sample", type=int, default=1024, help="chunks embedded both ways for the ratio")
    parser.add_argument("--full", action="store_true", help="also build the whole index (labkit ask --docs)")
    args = parser.parse_args()
    print(f"cpu_count={os.cpu_count()} torch_threads={torch.get_num_threads()} load_avg={os.getloadavg()[0]:.1f}")

    start = time.perf_counter()
    corpus = load_folder(args.folder)
    load_s_corpus = load_s = time.perf_counter() - start
    start = time.perf_counter()
    chunks = chunk_corpus(corpus)
    chunk_s = time.perf_counter() - start
    print(f"{args.folder}: {len(corpus.documents)} documents loaded in {load_s:.1f} s ({len(corpus.skipped)} skipped); "
          f"{len(chunks)} chunks in {chunk_s:.1f} s")
    reasons: dict[str, int] = {}
    for row in corpus.skipped:
        reasons[row["reason"][:60]] = reasons.get(row["reason"][:60], 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  skipped {count:5d}: {reason}")

    embedder = load_embedder()
    texts = [c.embed_text() for c in chunks]
    tok = embedder.tokenizer
    limit = embedder.max_seq_length
    lengths = [min(len(ids), limit) for ids in tok(texts, add_special_tokens=True)["input_ids"]]
    cut = sum(len(ids) > limit for ids in tok(texts[:2000], add_special_tokens=True)["input_ids"]) / min(2000,
                                                                                                         len(texts))
    print(f"tokens per chunk: median {statistics.median(lengths):.0f}, p95 {np.percentile(lengths, 95):.0f}, "
          f"max_seq_length {limit} (cut: {cut:.0%} of the first 2000); {sum(lengths):,} tokens in all")

    rng = np.random.default_rng(0)
    sample = [texts[i] for i in sorted(rng.choice(len(texts), min(args.sample, len(texts)), replace=False))]
    sample_tokens = sum(min(len(ids), limit) for ids in tok(sample, add_special_tokens=True)["input_ids"])
    reference = {}
    before_s = _timed(lambda: embed_in_document_order(embedder, sample))
    after_s = _timed(lambda: reference.setdefault("float32", embed_texts(embedder, sample, progress=False)))
    # the sample embedded as a corpus of BF16_EMBED_MIN+ chunks is
    threshold, embedding.BF16_EMBED_MIN = embedding.BF16_EMBED_MIN, 0
    bf16 = resolve_precision(get_config().precision) == "bfloat16"
    bf16_s = _timed(lambda: reference.setdefault("bf16",
                                                 embed_texts(embedder, sample, progress=False))) if bf16 else None
    embedding.BF16_EMBED_MIN = threshold
    print(f"sample of {len(sample)} chunks ({sample_tokens:,} tokens), in one run:")
    print(f"  document order, batches of 32: {before_s:6.1f} s = {len(sample) / before_s:6.1f} chunks/s, "
          f"{sample_tokens / before_s:7.0f} tokens/s")
    print(f"  length-sorted,  batches of 32: {after_s:6.1f} s = {len(sample) / after_s:6.1f} chunks/s, "
          f"{sample_tokens / after_s:7.0f} tokens/s"
          f"  ({before_s / after_s:.2f}x)")
    if bf16_s:
        cosine = (reference["float32"] * reference["bf16"]).sum(axis=1)
        print(f"  length-sorted, bf16 matmuls:   {bf16_s:6.1f} s = {len(sample) / bf16_s:6.1f} chunks/s, "
              f"{sample_tokens / bf16_s:7.0f} tokens/s"
              f"  ({before_s / bf16_s:.2f}x; cosine to float32 median {np.median(cosine):.5f}, min {cosine.min():.5f}; "
              f"embed_texts does this from {threshold} texts)")

    body = sum(p.numel() for n, p in embedder.named_parameters() if "embeddings" not in n)
    layers, width = embedder[0].auto_model.config.num_hidden_layers, embedder[0].auto_model.config.hidden_size
    mean_len = sample_tokens / len(sample)
    flops_per_token = 2 * body + layers * 4 * mean_len * width  # weights, plus QK^T and AV
    for dtype, seconds in (("float32", after_s), ("bfloat16", bf16_s)):
        if seconds:
            peak = matmul_peak_gflops(dtype=dtype)
            bound = peak * 1e9 / flops_per_token
            print(f"limit ({dtype}): {flops_per_token / 1e6:.0f} MFLOP per token at {peak:.0f} GFLOP/s (matmul peak) = "
                  f"{bound:,.0f} tokens/s; "
                  f"length-sorted reaches {sample_tokens / seconds / bound:.0%} of it")
    print(f"projected for all {len(chunks)} chunks: {sum(lengths) / (sample_tokens / after_s) / 60:.1f} min "
          "length-sorted, "
          f"{sum(lengths) / (sample_tokens / before_s) / 60:.1f} min in document order"
          + (f", {sum(lengths) / (sample_tokens / bf16_s) / 60:.1f} min length-sorted in bf16 (what build_index does "
             "at this size)" if bf16_s else ""))

    if args.full:
        start = time.perf_counter()
        index = build_index(corpus, embedder, progress=True)
        total = time.perf_counter() - start
        print(f"whole index: {len(index)} chunks in {total / 60:.1f} min = {len(index) / total:.1f} chunks/s")
        start = time.perf_counter()
        index.keywords  # noqa: B018  (the BM25 index, made once: index_folder saves it with the vectors)
        keywords_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            index.save(Path(tmp) / "index")
            save_s = time.perf_counter() - start
            start = time.perf_counter()
            VectorIndex.load(Path(tmp) / "index", embedder)
            load_s = time.perf_counter() - start
        print(f"BM25 index: {keywords_s:.1f} s; saved in {save_s:.1f} s, loaded in {load_s:.2f} s (what a later "
              f"`ask --docs` reads); first call in all, without the model loads: "
              f"{(load_s_corpus + chunk_s + total + keywords_s + save_s) / 60:.1f} min")


if __name__ == "__main__":
    main()
