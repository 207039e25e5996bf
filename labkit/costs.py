"""Cost projection: from what this machine measured to larger models and GPUs, as estimates.

Uses the standard back-of-the-envelope rules (Kaplan et al. 2020; used throughout the
scaling literature):
- training a dense model of N parameters on D tokens costs about 6·N·D FLOPs
  (2·N forward, 4·N backward per token);
- generating one token costs about 2·N FLOPs (the forward pass);
- LoRA still runs the full forward and most of the backward (activations' gradients flow
  through the frozen weights), so we count it as about 4·N·D (no weight-gradient matmuls
  for the frozen weights: the 2·N of them is saved) — an estimate, labelled as such.
A device does these FLOPs at some fraction of its peak (model-FLOPs utilisation, MFU). We
measure tokens per second here, derive the achieved FLOP/s, and scale. What is left out:
memory limits, communication between GPUs, attention FLOPs (small at short context),
and prices: seconds are projected, money is not. `cost_over_time` is the measured side: a year
of keeping each approach current, computed once for the report's table and the plot. `matmul_peak_gflops` and
`memory_bandwidth_gbs` measure this machine's two limits (the benchmarks compare to them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from labkit.keys import Approach

# Peak dense throughput of common devices, in FLOP/s (vendors' datasheets; bf16 tensor cores for GPUs).
DEVICE_PEAK_FLOPS = {
    "NVIDIA T4 (fp16)": 65e12,
    "NVIDIA A100 (bf16)": 312e12,
    "NVIDIA H100 SXM (bf16)": 989e12,
}
# The share of a GPU's peak the projection assumes (an assumption, not measured here: benchmarks/bench_gpu.py
# measures it on a GPU and prints the ratio).
GPU_MFU = 0.35
# Models to project to, by parameter count.
MODEL_SIZES = {"SmolLM2-135M": 135e6, "1B model": 1e9, "7B model": 7e9, "70B model": 70e9}


def train_flops(n_params: float, n_tokens: float, method: str = "full") -> float:
    """FLOPs to train on n_tokens: 6·N·D for full fine-tuning, about 4·N·D for LoRA.
    Example: train_flops(1e9, 1e6) -> 6e15."""
    per_token = {"full": 6.0, "lora": 4.0}[method]
    return per_token * n_params * n_tokens


def generate_flops(n_params: float, n_tokens: float) -> float:
    """FLOPs to generate n_tokens (forward only, 2·N per token). Example: generate_flops(1e9, 100) -> 2e11."""
    return 2.0 * n_params * n_tokens


@dataclass
class Projection:
    """One projected row: a model on a device, with its training and serving time (estimates)."""

    model: str
    device: str
    n_params: float
    train_s: float
    seconds_per_answer: float
    assumption: str


def project(
    measured_train_tokens_per_s: float,
    measured_params: float,
    train_tokens: float,
    answer_tokens: float = 32,
    method: str = "lora",
    gpu_mfu: float = GPU_MFU,
) -> list[Projection]:
    """Project training and serving time for larger models, here and on GPUs.

    Example: project(3000, 135e6, 1e6)[0].model -> "SmolLM2-135M"
    The CPU rows scale this machine's achieved FLOP/s (measured); the GPU rows assume
    `gpu_mfu` of the device's peak (an assumption, shown in each row). Serving is
    projected at the same utilisation, which flatters single-stream decoding (it is
    memory-bound in practice): treat serving rows as lower bounds.
    """
    achieved = measured_train_tokens_per_s * train_flops(measured_params, 1, method)  # FLOP/s on this machine
    rows = []
    for model, n in MODEL_SIZES.items():
        rows.append(Projection(model, "this CPU", n, train_flops(n, train_tokens, method) / achieved,
                               generate_flops(n, answer_tokens) / achieved, f"measured {achieved / 1e9:.1f} GFLOP/s"))
        for device, peak in DEVICE_PEAK_FLOPS.items():
            speed = peak * gpu_mfu
            rows.append(Projection(model, device, n, train_flops(n, train_tokens, method) / speed,
                                   generate_flops(n, answer_tokens) / speed,
                                   f"assumed MFU {gpu_mfu:.0%} of {peak / 1e12:.0f} TFLOP/s"))
    return rows


def format_seconds(seconds: float) -> str:
    """Seconds as a short human duration. Example: format_seconds(5400) -> "1.5 h"."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds * 1000:.1f} ms"


CHANGE_FREQUENCIES = {"daily": 365, "weekly": 52, "monthly": 12}  # fact changes a year


def keeping_current(results: dict) -> dict:
    """What each approach costs to build and to keep current, in seconds of this CPU, from a compare run's measurements.

    Example: keeping_current(results)["RAG"] -> {"one_off_s": 6.6, "per_change_s": 2.3, "how": "index update"}
    RAG and RAFT + RAG take each change by an index update (the retrieval-aware model reads the new source);
    a fine-tune alone by retraining (the measured retraining time); fine-tuned + RAG by an index update too
    (its memorised old value is the price: see the freshness table). Measured here, not estimated.
    """
    board, fresh = results["scoreboard"], results.get("freshness") or {}
    update, retrain = fresh.get("update_s", {}).get("mean", 0.0), fresh.get("retrain_s", {}).get("mean", 0.0)
    out = {}
    for approach, row in board.items():
        if approach == Approach.CLOSED_BOOK:  # nothing to keep current
            continue
        retrieves = row["index_build_s"]["mean"] > 0
        out[approach] = {"one_off_s": row["index_build_s"]["mean"] + row["train_s"]["mean"],
                         "per_change_s": update if retrieves else retrain,
                         "how": "index update" if retrieves else "retraining"}
    return out


def cumulative_cost(one_off_s: float, per_change_s: float, changes_per_year: int, days: int = 365) -> list[float]:
    """Seconds spent by the end of each day of a year: the one-off cost, then one update per change, evenly spread.

    Example: cumulative_cost(10, 2, 12)[-1] -> 34 (10 + 12 x 2)
    """
    return [one_off_s + per_change_s * int(changes_per_year * (day + 1) / days) for day in range(days)]


def cost_over_time(results: dict, days: int = 365) -> dict:
    """Each approach's cost of keeping current (`keeping_current`) with its cumulative curve for each change frequency.

    Example: cost_over_time(results)["RAG"]["curves"]["monthly"][-1] -> 34.2 (one-off seconds + 12 updates)
    The one place the curves are computed: `labkit.plots` draws them, `labkit.report` tabulates them.
    """
    return {approach: {**c, "curves": {f: cumulative_cost(c["one_off_s"], c["per_change_s"], n, days)
                                       for f, n in CHANGE_FREQUENCIES.items()}}
            for approach, c in keeping_current(results).items()}


def crossing_day(a: list[float], b: list[float]) -> int | None:
    """The first day from which curve a costs more than curve b, after starting cheaper (None if it never does).

    Example: crossing_day([1, 2, 3, 4], [2, 2.5, 3, 3.5]) -> 3
    """
    if a[0] > b[0]:
        return None
    return next((day for day, (x, y) in enumerate(zip(a, b, strict=True)) if x > y), None)


def matmul_peak_gflops(n: int = 2048, reps: int = 10, dtype: str = "float32") -> float:
    """This machine's matmul speed: best of `reps` n x n products, in GFLOP/s (the reference for MFU).

    Example: matmul_peak_gflops() -> 125.2; matmul_peak_gflops(dtype="bfloat16")
        -> 378.1 (2 cores of this machine, 2026-12-02)
    """
    import torch

    a, b = torch.randn(n, n, dtype=getattr(torch, dtype)), torch.randn(n, n, dtype=getattr(torch, dtype))
    a @ b  # warm-up
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def memory_bandwidth_gbs(megabytes: int = 512, reps: int = 5) -> float:
    """This machine's memory bandwidth: best-of-reps copy of a float32 array, bytes read plus written, in GB/s.

    Example: memory_bandwidth_gbs() -> 41.5 (the bound of batch-1 decoding: weight bytes per token / this)
    """
    import torch

    src = torch.empty(megabytes * 2**20 // 4)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.numel() * 4 / best / 1e9
