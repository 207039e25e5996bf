"""LoRA on one weight matrix, by hand and through peft: notebook 04's demonstration of what an adapter computes.

What it holds: `lora_on_one_layer`, the update (alpha / rank) * B @ A on one linear layer of the
generator, its size and rank, and peft's LoRA layer checked to compute exactly the same.

What it leaves out: training adapters (`labkit.finetune`), saving and loading them (`labkit.adapters`),
and the picture of the matrices (`labkit.plots.plot_lora_update`).
"""

from __future__ import annotations

import copy
import math

from labkit.models import causal_lm


def lora_on_one_layer(gen, rank: int = 4, alpha: float = 8.0, layer: int = 0, module: str = "q_proj",
                      seed: int = 0) -> dict:
    """The LoRA update on one weight matrix: W x + (alpha / rank) * B (A x), checked against peft.

    Example: lora_on_one_layer(gen, rank=4)["lora_params"] -> 4608 (vs 331776 in W: 1.4%)
    A and B are drawn at random (peft starts B at zero, which would hide the update), the
    update B @ A is formed and its rank measured, and the same A and B are put into peft's
    LoRA layer to show that it computes exactly this.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    lm = causal_lm(gen.model)
    linear = getattr(lm.model.layers[layer].self_attn if module in ("q_proj", "k_proj", "v_proj", "o_proj")
                     else lm.model.layers[layer].mlp, module)
    W = linear.weight.detach().clone()
    out_f, in_f = W.shape
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(rank, in_f, generator=g) / math.sqrt(in_f)
    B = torch.randn(out_f, rank, generator=g) * 0.02
    scale = alpha / rank
    delta = scale * (B @ A)
    x = torch.randn(3, in_f, generator=g)
    by_hand = x @ W.T + scale * (x @ A.T) @ B.T
    layer_copy = copy.deepcopy(linear)
    holder = torch.nn.Sequential()
    holder.add_module("target", layer_copy)
    peft_model = get_peft_model(holder,
                                LoraConfig(r=rank, lora_alpha=alpha, target_modules=["target"], lora_dropout=0.0))
    lora_layer = peft_model.base_model.model.target
    with torch.no_grad():
        lora_layer.lora_A["default"].weight.copy_(A)
        lora_layer.lora_B["default"].weight.copy_(B)
        by_peft = lora_layer(x)
    return {
        "module": f"model.layers.{layer}."
                  f"{'self_attn' if module.endswith(('q_proj', 'k_proj', 'v_proj', 'o_proj')) else 'mlp'}.{module}",
        "weight_shape": (out_f, in_f),
        "rank": rank,
        "scale": scale,
        "full_params": out_f * in_f,
        "lora_params": rank * (in_f + out_f),
        "share": rank * (in_f + out_f) / (out_f * in_f),
        "update_rank": int(torch.linalg.matrix_rank(delta)),
        "update_norm_ratio": float(delta.norm() / W.norm()),
        "max_diff_vs_peft": float((by_hand - by_peft).abs().max()),
        "delta": delta,
    }
