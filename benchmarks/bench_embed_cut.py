"""A big corpus embedded from each chunk's first 128 tokens (`embedding.BIG_CORPUS_TOKENS`) against 256 (the embedder's
config): what retrieval loses and what indexing gains. Prints figures, asserts nothing.

- Retrieval, on every corpus with questions (the kit's knowledge base, each folder of data/foreign; all far under the
  size where `embed_texts` cuts, so the cut is forced here): recall@3, MRR and the answer among the sources shown
  (bench_retrieval's own measures), for dense and hybrid retrieval, at 256 and at 128 tokens; differences paired over
  questions (bootstrap), per corpus and pooled.
- Speed, on a sample of chunks of a real corpus (default: Python's HTML documentation, Debian's python3-doc), length-
  sorted in bf16 as `embed_texts` runs a big corpus: chunks/s at 256 and at 128 tokens, alternated, in one run.

Usage: python benchmarks/bench_embed_cut.py [FOLDER] [--sample 512]   (about 5 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

import torch
from bench_retrieval import corpora, per_question

from labkit.config import REPO_ROOT
from labkit.corpus import chunk_corpus
from labkit.documents import load_folder
from labkit.embedding import BIG_CORPUS_TOKENS, read_at_most
from labkit.models import load_embedder
from labkit.retrieval import build_index
from labkit.stats import paired_bootstrap

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")
MEASURES = ("recall@3", "mrr", "answer_in_sources")


def _line(name: str, retriever: str, measure: str, cut: list[float], whole: list[float]) -> str:
    d = paired_bootstrap(cut, whole)
    return (f"{name:18s} {retriever:6s} {measure:18s} 256: {statistics.mean(whole):.3f}  "
            f"{BIG_CORPUS_TOKENS}: {statistics.mean(cut):.3f}  difference {d['diff']:+.3f} [{d['lo']:+.3f}, "
            f"{d['hi']:+.3f}]{'' if d['measurable'] else ', none measurable'} (n={len(cut)})")


def retrieval(embedder) -> None:
    pooled: dict = {}
    for name, folder, items in corpora():
        documents = load_folder(REPO_ROOT / folder)
        values = {}
        for tokens in (None, BIG_CORPUS_TOKENS):
            with read_at_most(embedder, tokens):
                for retriever in ("dense", "hybrid"):
                    index = build_index(documents, embedder, "flat", retriever=retriever, progress=False)
                    values[tokens, retriever] = per_question(index, items)
        for retriever in ("dense", "hybrid"):
            for m in MEASURES:
                cut, whole = values[BIG_CORPUS_TOKENS, retriever][m], values[None, retriever][m]
                both = pooled.setdefault((retriever, m), ([], []))
                both[0].extend(cut)
                both[1].extend(whole)
                print(_line(name, retriever, m, cut, whole), flush=True)
    for (retriever, m), (cut, whole) in pooled.items():
        print(_line("pooled", retriever, m, cut, whole))


def speed(embedder, folder: Path, sample: int) -> None:
    texts = [c.text for c in chunk_corpus(load_folder(folder))]
    chosen = sorted(random.Random(0).sample(texts, min(sample, len(texts))), key=len, reverse=True)
    rates = {None: [], BIG_CORPUS_TOKENS: []}
    for tokens in (None, BIG_CORPUS_TOKENS) * 2:  # alternated, so a change of load hits both
        with read_at_most(embedder, tokens), torch.inference_mode():
            start = time.perf_counter()
            for i in range(0, len(chosen), 32):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    embedder.encode(chosen[i : i + 32], batch_size=32, convert_to_tensor=True,
                                    show_progress_bar=False)
            rates[tokens].append(len(chosen) / (time.perf_counter() - start))
    whole, cut = statistics.median(rates[None]), statistics.median(rates[BIG_CORPUS_TOKENS])
    print(f"{folder}: {len(texts)} chunks; a sample of {len(chosen)}, length-sorted, bf16 matmuls, median of 2: "
          f"256 tokens {whole:.1f} chunks/s, {BIG_CORPUS_TOKENS} tokens {cut:.1f} chunks/s ({cut / whole:.2f}x); "
          f"all {len(texts)} chunks at that pace: {len(texts) / whole / 60:.1f} min against "
          f"{len(texts) / cut / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", default=str(PYTHON_DOCS), help="a big folder for the speed figure")
    parser.add_argument("--sample", type=int, default=512, help="chunks embedded for the speed figure")
    args = parser.parse_args()
    print(f"cpu_count={os.cpu_count()} torch_threads={torch.get_num_threads()} load_avg={os.getloadavg()[0]:.1f}")
    embedder = load_embedder()
    retrieval(embedder)
    if Path(args.folder).is_dir():
        speed(embedder, Path(args.folder), args.sample)
    else:
        print(f"{args.folder}: no such folder, no speed figure (Debian: apt-get install python3-doc)")


if __name__ == "__main__":
    main()
