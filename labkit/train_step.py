"""One training step's parts: the loss on answer tokens, frozen weights in bf16, and Ctrl-C held during the update.

What it holds:
- `answer_loss`: mean cross-entropy over the answer tokens only; the vocabulary projection runs
  only where labels exist.
- `FrozenInBf16`: bf16 copies of a model's frozen linear weights, swapped in for each step's
  forward and backward (autocast would cast them again at every step), float32 between steps.
- `defer_sigint`: Ctrl-C held while the optimizer updates, so weights are never half-updated.
- `plain_step`: one whole step without those speed-ups (the one notebook 04's learners write by hand).

What it leaves out: the loop that runs the steps, its settings and its batches (`labkit.finetune`),
and choosing the precision (`labkit.models.resolve_precision`).
"""

from __future__ import annotations

import contextlib
import signal
import threading

from labkit.models import causal_lm


def answer_loss(model, batch):
    """Mean cross-entropy over answer tokens only; the vocabulary projection runs only where labels exist.

    Example: answer_loss(model, collate(rows, pad_id)) -> tensor(2.31)
    Projecting only answer positions skips most of the 49k-wide lm_head work on prompts.
    """
    import torch

    lm = causal_lm(model)
    # base_model and get_output_embeddings name the backbone and the output layer in every architecture
    # (SmolLM2's .model and .lm_head, GPT-NeoX's .gpt_neox and .embed_out, GPT-2's .transformer and .lm_head)
    hidden = lm.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    targets = batch["labels"][:, 1:]
    keep = targets != -100
    logits = lm.get_output_embeddings()(hidden[:, :-1][keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


class FrozenInBf16:
    """bf16 copies of a model's frozen linear weights, swapped in for each training step's forward and backward.

    Example: with FrozenInBf16(model, enabled=True).swapped(): loss = answer_loss(model, batch); loss.backward()
    Autocast keeps the bf16 cast of a weight only if it requires grad; a LoRA's frozen base weights
    were cast again at every step (~0.4 GB read per step). A copy made once gives the same values
    as autocast's cast, so the losses are the same; between steps (callbacks, Ctrl-C, the trained
    model handed back) the float32 weights are in place. Trainable weights and the embeddings
    (tied to the output layer) are left alone. Answering meets the same autocast rule and is
    mended differently (`Generator.inference` marks the frozen weights trainable under no_grad):
    in training that would compute their gradients.
    """

    def __init__(self, model, enabled: bool):
        import torch

        lm = causal_lm(model)
        tied = {id(p) for p in lm.get_input_embeddings().parameters()}
        self.pairs = [(m, m.weight.data, m.weight.data.to(torch.bfloat16)) for m in lm.base_model.modules()
                      if isinstance(m, torch.nn.Linear) and not m.weight.requires_grad and id(m.weight) not in tied
                      and m.weight.dtype == torch.float32] if enabled else []

    @contextlib.contextmanager
    def swapped(self):
        try:
            for module, _, low in self.pairs:
                module.weight.data = low
            yield
        finally:
            for module, full, _ in self.pairs:
                module.weight.data = full


@contextlib.contextmanager
def defer_sigint():
    """Hold Ctrl-C during the optimizer update so weights are never half-updated; re-raise it after.

    Example: with defer_sigint(): opt.step()  (a Ctrl-C meanwhile is raised once the step is whole)
    Outside the main thread (a widget's training thread) there is no signal to hold: it only runs the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *a: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def plain_step(model, optimizer, batch, max_norm: float = 1.0) -> float:
    """One optimizer step as `finetune.train` takes it, without its speed-ups (bf16 weights, Ctrl-C held): the loss on
    the answer tokens, backward, gradients clipped to `max_norm`, the update, gradients cleared; returns the loss.

    Example: parts = finetune.first_step(gen, examples); plain_step(parts.gen.model, parts.optimizer, parts.batch)
        -> 2.31
    Notebook 04's learners write this step themselves; it is the kit's own, which the notebook falls back on.
    """
    import torch

    model.train()
    loss = answer_loss(model, batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())
