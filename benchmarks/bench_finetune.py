"""Benchmark of the fine-tuning track: prints figures, asserts nothing.

Measures, in one process on this machine's CPU:
- matmul peak: torch.matmul of two 2048 x 2048 matrices (best of 10), GFLOP/s, in the precision
  the kit trains in on this machine (`models.resolve_precision("auto")`: bfloat16 where the
  CPU has bf16 instructions);
- training tokens/s and model-FLOPs utilisation (MFU) of the kit's loop, LoRA and full:
    full: 6 * N_body * T + 6 * V * d * T_ans   (forward 2, backward 4 per parameter and token)
    LoRA: 4 * N_body * T + 6 * N_lora * T + 4 * V * d * T_ans   (frozen weights need the
          activation gradient (2) but no weight gradient (2); adapters pay all 6)
  N_body = non-embedding parameters, T = real (non-padding) tokens, T_ans = answer tokens
  (the kit projects to the 49k vocabulary only there), V * d = the tied lm_head;
- the kit's loop against transformers.Trainer on the same examples, steps, batch size, lr and
  precision (LoRA; Trainer's bf16=True is the same CPU autocast): real tokens/s and padding
  waste (Trainer pads each random batch, no bucketing), alternated --repeats times with the
  median ratio (one pair alone moved between 0.96x and 1.47x on this machine);
- evaluation throughput: multiple-choice items/s, the kit's cached scorer against
  multiple_choice.mc_accuracy;
- peak memory of full fine-tuning: resource.getrusage(RUSAGE_SELF).ru_maxrss of a child
  process that loads the model and runs full fine-tuning steps (whole-process peak RSS),
  twice, before this process loads anything;
- a default forgetting-lab run (LoRA, default settings): total seconds and seconds to its
  first point (step 0, the base model), model already loaded as in the widget.

Usage: python benchmarks/bench_finetune.py [--steps 24] [--repeats 3] [--skip-lab]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

from labkit.costs import matmul_peak_gflops


def model_sizes(gen):
    from labkit.models import causal_lm

    lm = causal_lm(gen.model)
    embed = lm.model.embed_tokens.weight.numel()
    total = sum(p.numel() for p in lm.parameters())
    return total - embed, embed  # body, V * d (tied head)


def kit_train(gen, examples, method, steps, lr):
    from labkit.finetune import TrainConfig, encode, train

    train_config = TrainConfig(method=method, num_steps=steps, lr=lr, batch_size=8)
    result = train(gen, examples, train_config, progress=False)
    rows = [encode(gen.tokenizer, e) for e in examples]
    ans_share = sum(sum(x != -100 for x in r["labels"][1:]) for r in rows) / sum(len(r["input_ids"]) for r in rows)
    return result, ans_share


def trainer_train(gen, examples, steps, lr, bf16=False):
    import copy

    from peft import LoraConfig, get_peft_model
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from labkit.finetune import TrainConfig, encode

    train_config = TrainConfig()
    model = get_peft_model(copy.deepcopy(gen.model),
                           LoraConfig(r=train_config.rank, lora_alpha=train_config.lora_alpha,
                                      target_modules=list(train_config.target_modules),
                                                                lora_dropout=0.0, task_type="CAUSAL_LM"))
    rows = [{"input_ids": r["input_ids"], "labels": r["labels"], "attention_mask": [1] * len(r["input_ids"])}
            for r in (encode(gen.tokenizer, e) for e in examples)]
    collator = DataCollatorForSeq2Seq(gen.tokenizer, padding=True, label_pad_token_id=-100)
    seen = {"real": 0, "slots": 0}

    def counting(features):
        batch = collator(features)
        seen["real"] += int(batch["attention_mask"].sum())
        seen["slots"] += batch["attention_mask"].numel()
        return batch

    gen.tokenizer.padding_side = "right"
    args = TrainingArguments(output_dir="/tmp/labkit-bench-trainer", max_steps=steps, per_device_train_batch_size=8,
                             learning_rate=lr,
                             logging_steps=10_000, save_strategy="no", report_to=[], use_cpu=True, seed=0,
                             dataloader_num_workers=0, disable_tqdm=True, lr_scheduler_type="constant", bf16=bf16)
    trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=counting)
    t = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t
    gen.tokenizer.padding_side = "left"
    return seconds, seen["real"], 1 - seen["real"] / max(1, seen["slots"])


def full_memory_child(steps: int) -> None:
    from labkit.data import load_qa, spread
    from labkit.finetune import TrainConfig, build_examples, train
    from labkit.models import load_generator

    gen = load_generator()
    examples = build_examples(gen, spread(load_qa(), 16), fact_statements=1)
    train(gen, examples, TrainConfig(method="full", num_steps=steps, lr=1e-4, batch_size=8), progress=False)
    print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=24)  # 6 steps were mostly the first step's set-up
    parser.add_argument("--skip-lab", action="store_true")
    parser.add_argument("--repeats", type=int, default=3,
                        help="kit/Trainer pairs, alternated; the median ratio is printed")
    parser.add_argument("--full-memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.full_memory_child:
        full_memory_child(args.steps)
        return

    from labkit.data import load_qa, spread
    from labkit.finetune import build_examples
    from labkit.forgetting import default_setup, lab_config, run_forgetting
    from labkit.models import load_generator
    from labkit.multiple_choice import mc_accuracy, mc_items_from_qa

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}, load average "
          f"{os.getloadavg()[0]:.1f}")
    from labkit.models import resolve_precision

    precision = resolve_precision("auto")
    # first, while this process holds no model: the child's peak moved with what the parent had done before
    # (3.55-4.35 GB for the same child), and a user's full fine-tune runs in a process of its own
    peaks = []
    for _ in range(2):
        child = subprocess.run([sys.executable, __file__, "--full-memory-child", "--steps", "3"], capture_output=True,
                               text=True)
        try:
            peaks.append(json.loads(child.stdout.strip().splitlines()[-1])["maxrss_mb"] / 1024)
        except (IndexError, ValueError, KeyError):
            print("full fine-tuning memory child failed:", child.stderr[-500:])
    if peaks:
        print("full fine-tuning peak memory (ru_maxrss of a child process that loads the model and runs 3 steps, "
              "twice): "
              + ", ".join(f"{p:.2f}" for p in peaks) + " GB")
    peak = matmul_peak_gflops(dtype=precision)
    print(f"matmul peak ({precision} 2048^3, best of 10): {peak:.1f} GFLOP/s; training precision on this machine: "
          f"{precision} (\"auto\")")
    gen = load_generator()
    body, head = model_sizes(gen)
    examples = build_examples(gen, spread(load_qa(), 16), fact_statements=1)
    for method, lr in (("lora", 2e-3), ("full", 1e-4)):
        result, ans = kit_train(gen, examples, method, args.steps, lr)
        T = result.tokens
        lora_params = result.trainable_params if method == "lora" else 0
        if method == "full":
            flops = 6 * body * T + 6 * head * T * ans
        else:
            flops = 4 * body * T + 6 * lora_params * T + 4 * head * T * ans
        rate = flops / result.train_s / 1e9
        print(f"kit {method:<4}: {T / result.train_s:7.1f} tokens/s, {rate:5.1f} GFLOP/s model, MFU {rate / peak:.0%} "
              "of measured peak, "
              f"padding waste {result.padding_waste:.1%} ({T} tokens, {args.steps} steps, {result.train_s:.1f} s)")
        if method == "lora":
            kit_lora_rate, kit_waste = T / result.train_s, result.padding_waste
    # kit and Trainer alternated, `repeats` times: one pair measured once moved from 0.96x to 1.47x between runs
    ratios = []
    for repeat in range(args.repeats):
        if repeat:
            result, _ = kit_train(gen, examples, "lora", args.steps, 2e-3)
            kit_lora_rate = result.tokens / result.train_s
        seconds, real, waste = trainer_train(gen, examples, args.steps, 2e-3, bf16=precision == "bfloat16")
        ratios.append(kit_lora_rate / (real / seconds))
        print(f"  pair {repeat + 1}: kit lora {kit_lora_rate:7.1f} tokens/s, Trainer lora ({precision}) "
              f"{real / seconds:7.1f} tokens/s "
              f"(padding waste {waste:.1%}, kit's {kit_waste:.1%}): {ratios[-1]:.2f}x")
    print(f"kit/Trainer speed, median of {len(ratios)} alternated pairs: {statistics.median(ratios):.2f}x")
    items = mc_items_from_qa(spread(load_qa(), 16))
    t = time.perf_counter()
    mc_accuracy(gen, items)
    print(f"evaluation: {len(items) / (time.perf_counter() - t):.2f} MC items/s (multiple_choice.mc_accuracy, prompt "
          "encoded once)")
    if not args.skip_lab:
        first = {}
        t = time.perf_counter()
        run = run_forgetting(gen, lab_config("lora", quick=False), default_setup(quick=False),
                             on_point=lambda p: first.setdefault("s", time.perf_counter() - t), progress=False)
        total = time.perf_counter() - t
        print(f"default forgetting-lab run ({run.config.num_steps} steps, {len(run.history)} points): {total:.1f} s, "
              f"first point after {first['s']:.1f} s; "
              f"mc_acc {run.history[0]['mc_acc']:.2f} -> {run.history[-1]['mc_acc']:.2f}, "
              f"general_acc {run.history[0]['general_acc']:.2f} -> {run.history[-1]['general_acc']:.2f}")


if __name__ == "__main__":
    main()
