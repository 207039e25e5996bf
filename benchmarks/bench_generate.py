"""Answer generation for evaluation: answers/s and identical answers, prints figures, asserts nothing.

The compare run spends a third of its time generating answers (bench_compare.py). This
script times the same work three ways in one process, on the RAG prompts of the taught
question set (held-out paraphrases, top 3 sources, 32 new tokens at most) and on the
closed-book prompts, and checks that the answers are the same:
- as generated before (batches of 8 in question order, `length_sorted=False`);
- length-sorted batches of 8 (less padding: the prompt pass is most of the work);
- length-sorted batches of 32 (models.GENERATE_BATCH), matmuls in float32;
- the same with bfloat16 matmuls (the kit's default where the hardware has them, `Generator.inference`): greedy
  answers then differ a little, so it prints how many answers differ and the accuracy of each variant.
It also splits one run into the prompt pass and the decoding steps (max_new_tokens=1),
and prints the batch-1 memory-bandwidth bound on decoding steps/s (weights bytes per step /
bandwidth, both measured here): the kit decodes far below it, bound by per-step overhead.

Usage: python benchmarks/bench_generate.py [--questions 59] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from labkit.config import KB_DIR
from labkit.costs import memory_bandwidth_gbs
from labkit.data import taught_questions
from labkit.evaluate import heldout_questions, score_answers
from labkit.folder_index import index_folder
from labkit.models import load_embedder, load_generator
from labkit.rag import RAG, fit_prompt, sources_from_hits


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=None, help="taught questions (default: the full run's 59)")
    parser.add_argument("--repeats", type=int, default=1, help="timings per variant (the median is printed)")
    args = parser.parse_args()
    print(f"cpu_count={os.cpu_count()} torch_threads={torch.get_num_threads()} load_avg={os.getloadavg()[0]:.1f}")
    gen, embedder = load_generator(), load_embedder()
    index = index_folder(KB_DIR, embedder, progress=False)
    questions, _ = taught_questions(args.questions if args.questions else 40, None)
    items = heldout_questions(questions)
    asked = [it["asked"] for it in items]
    rag = RAG(index, gen, 3, 32)
    hits = index.search_many(asked, 3)
    rag_prompts = [fit_prompt(gen, q, sources_from_hits(h), 1024, rag.instruction, rag.max_words)[0] for q, h
                   in zip(asked, hits, strict=True)]
    lengths = [gen.count_tokens(gen.chat_prompt(p)) for p in rag_prompts]
    print(f"{len(asked)} questions; RAG prompt tokens median {statistics.median(lengths):.0f}, min {min(lengths)}, max "
          f"{max(lengths)}")

    weight_bytes = sum(p.numel() * p.element_size() for p in gen.model.parameters())
    bw = memory_bandwidth_gbs()
    print(f"memory bandwidth {bw:.1f} GB/s; weights {weight_bytes / 1e9:.2f} GB; batch-1 bound "
          f"{bw * 1e9 / weight_bytes:.0f} decoding steps/s")

    variants = [("batches of 8, question order", dict(batch_size=8, length_sorted=False), "float32"),
                ("batches of 8, length-sorted", dict(batch_size=8, length_sorted=True), "float32"),
                ("batches of 32, length-sorted", dict(batch_size=32, length_sorted=True), "float32"),
                ("batches of 32, sorted, bf16 matmuls", dict(batch_size=32, length_sorted=True), "bfloat16")]
    for name, prompts in (("RAG", rag_prompts), ("closed-book", asked)):
        print(f"\n{name} prompts ({len(prompts)}):")
        reference, base_s = None, None
        for label, kw, precision in variants:
            gen.precision = precision
            times, answers = [], None
            for _ in range(args.repeats):
                start = time.perf_counter()
                answers = gen.generate(prompts, max_new_tokens=32, progress=False, **kw)
                times.append(time.perf_counter() - start)
            s = statistics.median(times)
            reference = reference or answers
            base_s = base_s or s
            same = sum(a == b for a, b in zip(answers, reference, strict=True))
            right = sum(r["match"] for r in score_answers(items, answers))
            print(f"  {label:36s} {s:7.1f} s  {len(prompts) / s:5.2f} answers/s  {base_s / s:4.2f}x  identical answers "
                  f"{same}/{len(prompts)}  right {right}/{len(prompts)}")
        gen.precision = "float32"
        prefill = statistics.median(_timed(lambda p=prompts: gen.generate(p, max_new_tokens=1, progress=False,
                                                                          batch_size=32, length_sorted=True))
                                    for _ in range(args.repeats))
        print(f"  prompt pass alone (1 new token, sorted batches of 32): {prefill:.1f} s")


if __name__ == "__main__":
    main()
