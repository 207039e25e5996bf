"""What bf16 matmul instructions are worth on this machine: answering and training, float32 against bfloat16.

Prints figures, asserts nothing. On a CPU with bf16 instructions (AVX512-BF16 or AMX) the kit answers and trains in
bfloat16; a CPU without them runs float32. This runs the same work both ways in one process: closed-book answers to
held-out questions (greedy, batched as evaluation batches them) and a few LoRA training steps of notebook 04's lesson
(the steps alone, `TrainResult.train_s`), the two precisions interleaved; it prints the medians of `--repeats` runs and
the ratios, and with --write records them in data/run_times.json
("bf16_speedup"), where `labkit doctor` reads them to tell a learner on a CPU without the instructions what to expect.
On a CPU without them it prints the float32 figures and says bfloat16 would be emulated (not worth measuring).

Usage: python benchmarks/bench_precision.py [--questions 16] [--steps 4] [--repeats 3] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time

from labkit.data import RUN_TIMES_PATH, load_qa, load_run_times, spread
from labkit.evaluate import evaluate_batched
from labkit.finetune import build_examples, make_config, train
from labkit.forgetting import default_setup, lab_config, lesson
from labkit.models import bf16_instructions, load_generator


def answer_s(gen, questions) -> float:
    start = time.perf_counter()
    evaluate_batched(gen, questions, max_new_tokens=32)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="record the ratios in data/run_times.json")
    args = parser.parse_args()
    found, load = bf16_instructions(), os.getloadavg()[0]
    print(f"cpu_count={os.cpu_count()} load_avg={load:.1f} bf16 instructions: {found or 'none'}")
    gen = load_generator()
    questions = spread(load_qa(), args.questions)
    taught, _, _ = lesson(default_setup(quick=True))
    examples = build_examples(gen, taught, fact_statements=1)
    precisions = ("float32", "bfloat16") if found else ("float32",)
    seconds: dict = {p: {"answering": [], "training": []} for p in precisions}
    for _ in range(args.repeats):  # the precisions interleaved: a busy machine slows both alike
        for precision in precisions:
            gen.precision = precision
            seconds[precision]["answering"].append(answer_s(gen, questions))
            cfg = make_config(lab_config("lora", quick=True), num_steps=args.steps, precision=precision)
            # the optimizer steps alone (train_s): the model copy and the adapter's set-up cost the same either way
            seconds[precision]["training"].append(train(gen, examples, cfg, progress=False).train_s)
    figures = {p: (statistics.median(s["answering"]), statistics.median(s["training"])) for p, s in seconds.items()}
    for precision, (answering, training) in figures.items():
        print(f"{precision:9s} {args.questions} answers {answering:6.2f} s | {args.steps} training steps "
              f"{training:6.2f} s (medians of {args.repeats})")
    if not found:
        print("no bf16 instructions: bfloat16 would be emulated here, so the kit runs float32")
        return
    ratios = {"answering": round(figures["float32"][0] / figures["bfloat16"][0], 2),
              "training": round(figures["float32"][1] / figures["bfloat16"][1], 2)}
    print(f"float32 / bfloat16: answering x{ratios['answering']}, training x{ratios['training']}")
    if args.write:
        times = load_run_times()
        times["bf16_speedup"] = {**ratios, "instructions": found, "questions": args.questions, "steps": args.steps,
                                 "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, CPU",
                                 "date": datetime.date.today().isoformat(), "load_avg": round(load, 1)}
        RUN_TIMES_PATH.write_text(json.dumps(times, indent=1) + "\n")
        print(f"wrote {RUN_TIMES_PATH} (bf16_speedup)")


if __name__ == "__main__":
    main()
