"""The same experiment on a GPU, and the cost projection checked against it: prints figures, asserts nothing.

Run on a machine with a CUDA GPU (and a CUDA build of torch), from the repository root:

    python benchmarks/bench_gpu.py                       # the embedded model, then a random 1.1B Llama
    python benchmarks/bench_gpu.py --large Qwen/Qwen2.5-1.5B-Instruct   # a model already in the HF cache, or a folder

For each model, on --device (default cuda):
1. the quick comparison, `labkit compare --quick --device cuda --generator MODEL` (every row: closed-book, RAG, the
   reading adapter where it fits the base, the fine-tunes, freshness, the behaviour tasks), its wall time and the
   report folder (--skip-compare leaves it out; a random model runs no comparison: its answers mean nothing);
2. training tokens/s: the kit's loop (LoRA, the recipe's rank and layers, found from the model's own module names),
   a short warm-up run, then --steps timed steps on the quick questions: real (non-padding) tokens / seconds of steps;
3. answering tokens/s: greedy answers to --questions held-out paraphrases, in the kit's default batches (on a GPU
   `Generator.answer_batch`, from its memory) and one at a time; answer tokens (re-tokenised) / seconds;
4. the prediction of `labkit.costs.project` for this GPU: peak * GPU_MFU / (4 N) training tokens/s for LoRA and
   peak * GPU_MFU / (2 N) answering tokens/s; the ratio measured / predicted, and the MFU the measurement implies
   (measured tokens/s * FLOPs per token / peak), which is what `costs.GPU_MFU` should be corrected to.
The peak comes from `costs.DEVICE_PEAK_FLOPS` by the GPU's name (an H200 has the H100 SXM's bf16 peak), or
--peak-tflops. "random-1b" builds a 1.1B Llama (TinyLlama's shapes, the embedded tokenizer) with random weights in
memory: tokens/s depend on the shapes, not on what the weights know, and nothing is downloaded.
Writes every figure to --out/gpu.json (a record to commit, with the machine, date and commit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from labkit.costs import DEVICE_PEAK_FLOPS, GPU_MFU, generate_flops, train_flops

RANDOM_1B = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                 num_key_value_heads=4, max_position_embeddings=2048)  # TinyLlama-1.1B's shapes


def device_peak(peak_tflops: float | None) -> tuple[str, float]:
    """The GPU's name and its bf16 peak FLOP/s (costs.DEVICE_PEAK_FLOPS by name, or --peak-tflops)."""
    import torch

    name = torch.cuda.get_device_name(0)
    if peak_tflops:
        return name, peak_tflops * 1e12
    for key, peak in DEVICE_PEAK_FLOPS.items():
        chip = key.split()[1]  # "T4", "A100", "H100"
        if chip in name or (chip == "H100" and "H200" in name):  # the H200 keeps the H100 SXM's compute
            return name, peak
    raise SystemExit(f"{name}: not in labkit.costs.DEVICE_PEAK_FLOPS; give its dense bf16 peak with --peak-tflops")


def random_llama(tokenizer):
    """A 1.1B Llama with random weights and the embedded tokenizer's vocabulary, in memory (no download)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, **RANDOM_1B)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config)


def load(model: str | None, device: str):
    from labkit.models import Generator, load_generator

    if model != "random-1b":
        return load_generator(model, device=device)
    base = load_generator(device="cpu")
    lm = random_llama(base.tokenizer).to(device)
    lm.eval()
    return Generator(lm, base.tokenizer, "random-1b", "random weights (TinyLlama's shapes)")


def training_speed(gen, steps: int) -> dict:
    from labkit.data import load_qa
    from labkit.finetune import build_examples, make_config, train
    from labkit.lora_targets import lora_targets

    examples = build_examples(gen, load_qa(20), fact_statements=1)
    train(gen, examples, make_config(num_steps=2), progress=False)  # warm-up: kernels, allocator
    result = train(gen, examples, make_config(num_steps=steps), progress=False)
    return {"steps": result.steps_done, "tokens": result.tokens, "train_s": round(result.train_s, 3),
            "tokens_per_s": result.tokens / result.train_s, "precision": result.precision,
            "targets": lora_targets(gen.model), "batch_size": result.config.batch_size}


def answering_speed(gen, n: int) -> dict:
    from labkit.data import load_qa

    questions = [q["paraphrases"][0] for q in load_qa(n)]
    gen.generate(questions[:4], max_new_tokens=8, progress=False)  # warm-up
    t0 = time.perf_counter()
    answers = gen.generate(questions, max_new_tokens=48, progress=False)
    batched_s = time.perf_counter() - t0
    batched_tokens = sum(gen.count_tokens(a) for a in answers)
    t0, single_tokens = time.perf_counter(), 0
    singles = questions[:8]
    for q in singles:
        single_tokens += gen.count_tokens(gen.generate(q, max_new_tokens=48, progress=False))
    single_s = time.perf_counter() - t0
    return {"questions": len(questions), "batch": gen.answer_batch(),
            "batched_tokens_per_s": batched_tokens / batched_s, "single_tokens_per_s": single_tokens / single_s,
            "single_answers": len(singles)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--large", default="random-1b",
                        help="the larger model: random-1b (built here), a model id in the HF cache, or a folder")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    parser.add_argument("--questions", type=int, default=64, help="answers timed per model")
    parser.add_argument("--skip-compare", action="store_true", help="only the speeds, not the quick comparison")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, if not known")
    parser.add_argument("--out", default="benchmarks/out/gpu")
    args = parser.parse_args()

    import torch

    from labkit.config import check_device

    os.environ["LABKIT_DEVICE"] = check_device(args.device)  # the comparison's workers read it too
    gpu, peak = device_peak(args.peak_tflops)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    record = {"gpu": gpu, "peak_flops": peak, "assumed_mfu": GPU_MFU, "torch": torch.__version__,
              "machine": f"{platform.system()} {platform.machine()}", "date": time.strftime("%Y-%m-%d"),
              "commit": commit, "models": {}}
    print(f"{gpu}: peak {peak / 1e12:.0f} TFLOP/s bf16; the projection assumes MFU {GPU_MFU:.0%}", flush=True)
    for model in (None, args.large):
        label = model or "smollm2-135m-instruct (embedded)"
        row = {}
        if not args.skip_compare and model != "random-1b":
            from labkit.experiment_commands import run_compare

            t0 = time.perf_counter()
            code = run_compare(quick=True, out=str(out / (Path(model).name if model else "embedded")), overwrite=True,
                               generator=model)
            row["compare"] = {"exit_code": code, "seconds": round(time.perf_counter() - t0, 1)}
            print(f"{label}: quick comparison exit {code} in {row['compare']['seconds']} s", flush=True)
        gen = load(model, args.device)
        n = sum(p.numel() for p in gen.model.parameters())
        row.update(params=n, train=training_speed(gen, args.steps), answer=answering_speed(gen, args.questions))
        predicted_train = peak * GPU_MFU / train_flops(n, 1, "lora")
        predicted_answer = peak * GPU_MFU / generate_flops(n, 1)
        row["predicted"] = {"train_tokens_per_s": predicted_train, "answer_tokens_per_s": predicted_answer}
        row["ratio"] = {"train": row["train"]["tokens_per_s"] / predicted_train,
                        "answer_batched": row["answer"]["batched_tokens_per_s"] / predicted_answer,
                        "answer_single": row["answer"]["single_tokens_per_s"] / predicted_answer}
        row["implied_mfu"] = {k: v * GPU_MFU for k, v in row["ratio"].items()}
        record["models"][label] = row
        print(f"\n{label}: {n / 1e6:,.0f}M parameters, training in {row['train']['precision']}, LoRA on "
              f"{', '.join(row['train']['targets'])}")
        print(f"  {'':28s} {'measured':>12s} {'projected':>12s} {'ratio':>7s} {'implied MFU':>12s}")
        for what, measured, predicted, key in (
                ("training tokens/s", row["train"]["tokens_per_s"], predicted_train, "train"),
                (f"answering, batches of {row['answer']['batch']}", row["answer"]["batched_tokens_per_s"],
                 predicted_answer, "answer_batched"),
                ("answering, one at a time", row["answer"]["single_tokens_per_s"], predicted_answer,
                 "answer_single")):
            print(f"  {what:28s} {measured:12,.0f} {predicted:12,.0f} {measured / predicted:7.2f} "
                  f"{row['implied_mfu'][key]:12.1%}", flush=True)
        del gen
        torch.cuda.empty_cache()
    (out / "gpu.json").write_text(json.dumps(record, indent=2))
    print(f"\nwrote {out / 'gpu.json'}; correct labkit.costs.GPU_MFU from the training rows' implied MFU")


if __name__ == "__main__":
    main()
