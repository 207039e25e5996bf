"""Where the side-by-side experiment spends its time: prints figures, asserts nothing.

Runs one seed of `labkit compare` (quick sizes by default, `--full` for the full sizes) and
prints, from the same run:
- wall time per phase: loading, the index, each row (closed-book, RAG, fine-tuned, docs,
  RAFT), freshness, behaviour (its triage LoRA, then behaviour + facts on it); and inside them the time spent training,
generating answers
  and scoring multiple-choice items (the three kinds of work every row is made of);
- generation efficiency: new tokens/s per answer and per batch step, against the bound of
  batch-1 decoding on this machine (weights bytes read per token / memory bandwidth, both
  measured here: a float32 copy of 512 MB);
- the matmul peak (float32 2048 x 2048), the reference for training's MFU (bench_finetune.py);
- with --profile, the 25 functions with the most cumulative time (cProfile).

Usage: python benchmarks/bench_compare.py [--full] [--profile] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from collections import defaultdict
from contextlib import contextmanager

import torch

from labkit import behaviour, behaviour_tasks, compare, freshness, models, rows, scoreboard, untrained
from labkit.costs import matmul_peak_gflops, memory_bandwidth_gbs


class Clock:
    """Seconds spent inside wrapped functions, by label; nested calls of one label count once."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self.depth = defaultdict(int)
        self.tokens = 0  # new tokens generated
        self.steps = 0  # decoding steps (one per new token position per batch)

    def wrap(self, owner, name: str, label: str):
        original = getattr(owner, name)
        clock = self

        def timed(*args, **kwargs):
            clock.depth[label] += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                clock.depth[label] -= 1
                if clock.depth[label] == 0:
                    clock.seconds[label] += time.perf_counter() - start
                    clock.calls[label] += 1

        setattr(owner, name, timed)


@contextmanager
def counting_generate(clock: Clock):
    """Count the new tokens and decoding steps of every model.generate call (pads and stops excluded)."""
    from transformers import GenerationMixin

    original = GenerationMixin.generate

    def generate(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        prompt_len = kwargs["input_ids"].shape[1]
        new = out[:, prompt_len:]
        pad = kwargs.get("pad_token_id")
        clock.tokens += int((new != pad).sum()) if pad is not None else new.numel()
        clock.steps += new.shape[1]
        return out

    GenerationMixin.generate = generate
    try:
        yield
    finally:
        GenerationMixin.generate = original


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="full sizes (default: quick sizes)")
    parser.add_argument("--profile", action="store_true", help="also print the cProfile top 25")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="answers per generation batch (default: the kit's)")
    args = parser.parse_args()

    print(f"cpu_count={os.cpu_count()} torch_threads={torch.get_num_threads()} load_avg={os.getloadavg()[0]:.1f}")
    bandwidth, peak = memory_bandwidth_gbs(), matmul_peak_gflops()
    print(f"memory bandwidth {bandwidth:.1f} GB/s (float32 copy) | matmul peak {peak:.0f} GFLOP/s")

    clock = Clock()
    start = time.perf_counter()
    gen, embedder = models.load_generator(), models.load_embedder()
    load_s = time.perf_counter() - start
    weight_bytes = sum(p.numel() * p.element_size() for p in gen.model.parameters())
    if args.batch_size:
        original_generate = models.Generator.generate

        def generate(self, prompts, *a, **kw):
            kw["batch_size"] = args.batch_size
            return original_generate(self, prompts, *a, **kw)

        models.Generator.generate = generate

    # phases: the row functions, wrapped where they are looked up (the module whose code calls them), and the kinds of
    # work inside them
    for module, name, label in [
            (compare, "measure_index", "index"), (untrained, "row_closed_book", "row closed-book"),
            (untrained, "row_rag", "row RAG"), (untrained, "row_reader", "row reading adapter"),
            (untrained, "row_perfect", "rows with the perfect retriever"),
            (compare, "rows_fine_tuned", "rows fine-tuned (+ RAG)"), (compare, "row_docs", "row fine-tuned (docs)"),
            (compare, "row_raft", "row RAFT + RAG"), (compare, "score_freshness", "freshness"),
            (compare, "score_raft_freshness", "freshness (RAFT)"),
            (untrained, "untrained_after_update", "untrained after update"),
            (behaviour_tasks, "behaviour_task", "behaviour"),
            (behaviour_tasks, "behaviour_facts_task", "behaviour + facts")]:
        clock.wrap(module, name, label)
    for module in (rows, freshness):  # each module calls the training it imported
        clock.wrap(module, "train_lora", "work: training")
    clock.wrap(behaviour, "train", "work: training")
    clock.wrap(models.Generator, "generate", "work: generating answers")
    clock.wrap(scoreboard, "mc_accuracy", "work: multiple-choice scoring")  # every row scores it through scoreboard
    clock.wrap(rows, "save_row_adapter", "work: saving adapters")

    ccfg = compare.default_compare_config(quick=not args.full, seeds=1)
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    with counting_generate(clock):
        if profiler:
            profiler.enable()
        result = compare.run_experiment(ccfg, gen=gen, embedder=embedder, log=lambda s: None)
        if profiler:
            profiler.disable()
    total = time.perf_counter() - start

    print(f"\none seed, {'full' if args.full else 'quick'} sizes: {ccfg.num_questions} questions, "
          f"{ccfg.num_steps}/{ccfg.num_docs_steps}/"
          f"{ccfg.num_raft_steps} steps (fine-tuned/docs/RAFT), behaviour {ccfg.num_behaviour_steps} steps")
    print(f"{'phase':34s} {'seconds':>8s} {'share':>6s} {'calls':>6s}")
    print(f"{'loading the models':34s} {load_s:8.1f}")
    for label in sorted(clock.seconds, key=lambda k: (k.startswith("work"), -clock.seconds[k])):
        s = clock.seconds[label]
        print(f"{label:34s} {s:8.1f} {s / total:6.1%} {clock.calls[label]:6d}")
    print(f"{'run_experiment total':34s} {total:8.1f}")

    gen_s = clock.seconds["work: generating answers"]
    bound = bandwidth * 1e9 / weight_bytes  # batch-1 decoding steps per second if only weight reads counted
    if gen_s and clock.steps:
        print(f"\ngeneration: {clock.tokens} new tokens in {gen_s:.1f} s = {clock.tokens / gen_s:.1f} tokens/s; "
              f"{clock.steps} batch steps = {clock.steps / gen_s:.1f} steps/s (prompt reading included)")
        print(f"batch-1 bound: {weight_bytes / 1e9:.2f} GB of weights per step / {bandwidth:.1f} GB/s = {bound:.1f} "
              "steps/s; "
              f"tokens/s is {clock.tokens / gen_s / bound:.2f}x the batch-1 bound (batching shares one weight read)")
    print(f"training tokens/s (fine-tuned row): {result.get('train_tokens_per_s')}")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print("\n" + out.getvalue())


if __name__ == "__main__":
    main()
