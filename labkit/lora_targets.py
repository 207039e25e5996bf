"""Which layers a LoRA adapts: read from the model's own module names, so no table of architectures is needed.

What it holds: `RECIPE_TARGETS` (the attention and MLP projections the kit's recipes adapt), `block_linears`
(every linear layer inside a model's repeated blocks) and `lora_targets` (the recipe's layers where the model has them
all, else every block linear: what peft calls "all-linear").
What it leaves out: wrapping the model and training it (`labkit.finetune`).
"""

from __future__ import annotations

from labkit.models import causal_lm

# the kit's LoRA recipe on a Llama-style model (SmolLM2): attention's q, v and o projections and the MLP's up and down
RECIPE_TARGETS = ("q_proj", "v_proj", "o_proj", "up_proj", "down_proj")


def block_linears(model) -> list[str]:
    """The names of the linear layers inside a model's repeated blocks (the layers LoRA can adapt), read from its
    modules; embeddings and the output layer are left out.

    Example: block_linears(gen.model) -> ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
    GPT-NeoX gives ["dense", "dense_4h_to_h", "dense_h_to_4h", "query_key_value"]; GPT-2's Conv1D layers count too.
    """
    import torch

    lm = causal_lm(model)
    out_layer = lm.get_output_embeddings()
    names = set()
    for name, module in lm.named_modules():
        parts = name.split(".")
        # inside a block: a numbered module on the way (layers.3.self_attn.q_proj, h.0.attn.c_attn, ...)
        if module is out_layer or not any(p.isdigit() for p in parts[:-1]):
            continue
        if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D":
            names.add(parts[-1])
    return sorted(names)


def lora_targets(model, wanted=RECIPE_TARGETS) -> list[str]:
    """The linear layers a LoRA adapts on this model: the wanted names if the model has every one of them, else every
    linear layer of its blocks (what peft calls "all-linear").

    Example: lora_targets(smollm2) -> ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"];
    lora_targets(gpt_neox) -> ["dense", "dense_4h_to_h", "dense_h_to_4h", "query_key_value"]
    Found from the model's own module names, so no table of architectures is needed; ValueError if it has none.
    """
    present = block_linears(model)
    if not present:
        raise ValueError(f"{type(causal_lm(model)).__name__} has no linear layers in numbered blocks for LoRA to "
                         "adapt; use --method full")
    return list(wanted) if set(wanted) <= set(present) else present
