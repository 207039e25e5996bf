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
and prices: seconds are projected, money is not.
"""

from __future__ import annotations

from dataclasses import dataclass

# Peak dense throughput of common devices, in FLOP/s (vendors' datasheets; bf16 tensor cores for GPUs).
DEVICE_PEAK_FLOPS = {
    "NVIDIA T4 (fp16)": 65e12,
    "NVIDIA A100 (bf16)": 312e12,
    "NVIDIA H100 SXM (bf16)": 989e12,
}
# Models to project to, by parameter count.
MODEL_SIZES = {"SmolLM2-135M": 135e6, "1B model": 1e9, "7B model": 7e9, "70B model": 70e9}


def train_flops(n_params: float, n_tokens: float, method: str = "full") -> float:
    """FLOPs to train on n_tokens: 6·N·D for full fine-tuning, about 4·N·D for LoRA. Example: train_flops(1e9, 1e6) -> 6e15."""
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
    gpu_mfu: float = 0.35,
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
                                   generate_flops(n, answer_tokens) / speed, f"assumed MFU {gpu_mfu:.0%} of {peak / 1e12:.0f} TFLOP/s"))
    return rows


def format_seconds(seconds: float) -> str:
    """Seconds as a short human duration. Example: format_seconds(5400) -> "1.5 h"."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds * 1000:.1f} ms"
