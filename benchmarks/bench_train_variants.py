"""What pays in the training loop: prints figures, asserts nothing.

For each training shape the side-by-side experiment uses (`fine-tuned`: QA pairs and fact
statements, 8 per step; `docs`: ~75-token document chunks, 8 per step; `raft`: ~450-token
RAG prompts, 4 per step), trains a few LoRA steps with each variant of the loop, in one
process, and prints real tokens/s and the ratio to the old default (sdpa attention, float32):
- attention kernel: "sdpa" (scaled_dot_product_attention) or "eager" (plain matmuls);
- precision: float32, or bfloat16 matmuls under torch.autocast (weights, adapters and the
  optimizer stay float32);
the same-run matmul peaks (2048^3, float32 and bfloat16) say what the hardware allows.

With --score, each variant also trains the full fine-tuned row (CompareConfig: 40 questions,
2 fact statements, 96 steps, seed 0) and answers the held-out questions: its accuracy and how
many answers are identical to the old default's (a variant that changes answers changes the
lesson's numbers).

Usage: python benchmarks/bench_train_variants.py [--steps 8] [--score] [--variants sdpa/float32,eager/float32]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

VARIANTS = ("sdpa/float32", "eager/float32", "sdpa/bfloat16", "eager/bfloat16")


def shapes(gen, ccfg):
    """The three training sets of a compare seed, with their batch size and cut-off."""
    from labkit.config import KB_DIR
    from labkit.data import taught_questions
    from labkit.finetune import build_examples
    from labkit.folder_index import index_folder
    from labkit.models import load_embedder
    from labkit.rows import raft_examples

    questions, _ = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    index = index_folder(KB_DIR, load_embedder())
    return {
        "fine-tuned": (build_examples(gen, questions, fact_statements=ccfg.fact_statements), 8, 96),
        "docs": (build_examples(gen, questions, fact_statements=0, include_qa=False, include_docs=True), 8, 96),
        "raft": (raft_examples(gen, index, questions, ccfg.top_k), ccfg.raft_batch_size, 640),
    }, questions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--score", action="store_true")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()

    from labkit.compare import default_compare_config
    from labkit.costs import matmul_peak_gflops
    from labkit.finetune import make_config, train
    from labkit.models import load_generator
    from labkit.rag import evaluate_closed_book

    variants = args.variants.split(",")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"matmul peak (2048^3, best of 10): float32 {matmul_peak_gflops():.1f} GFLOP/s, bfloat16 "
          f"{matmul_peak_gflops(dtype='bfloat16'):.1f} GFLOP/s")
    gen = load_generator()
    ccfg = default_compare_config(quick=False)
    sets, questions = shapes(gen, ccfg)
    for shape, (examples, batch_size, max_len) in sets.items():
        base = None
        for variant in variants:
            attention, precision = variant.split("/")
            train_config = make_config(num_steps=args.steps, rank=ccfg.rank, lr=ccfg.lr, batch_size=batch_size,
                                       max_len=max_len,
                              attention=attention, precision=precision)
            train(gen, examples, make_config(train_config, num_steps=1), progress=False)  # warm-up: first-call costs
            r = train(gen, examples, train_config, progress=False)
            rate = r.tokens / r.train_s
            base = base or rate
            print(f"{shape:<10} {variant:<15} {rate:7.1f} tokens/s  {rate / base:4.2f}x  loss {r.history[-1]['loss']}  "
                  f"({r.tokens} tokens, {args.steps} steps, {r.train_s:.1f} s)")
    if not args.score:
        return
    examples = sets["fine-tuned"][0]
    reference = None
    for variant in variants:
        attention, precision = variant.split("/")
        train_config = make_config(num_steps=ccfg.num_steps, rank=ccfg.rank, lr=ccfg.lr,
                                   fact_statements=ccfg.fact_statements,
                          attention=attention, precision=precision, seed=0)
        t = time.perf_counter()
        r = train(gen, examples, train_config, progress=False)
        ev = evaluate_closed_book(r.gen, questions, max_new_tokens=ccfg.max_new_tokens)
        answers = [x["answer"] for x in ev.records]
        reference = reference or answers
        same = sum(a == b for a, b in zip(answers, reference, strict=True))
        print(f"fine-tuned row {variant:<15} accuracy {ev.summary['accuracy']:.4f} (n={len(answers)}), "
              f"answers identical to {variants[0]}: {same}/{len(answers)}, train {r.train_s:.1f} s, total "
              f"{time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
