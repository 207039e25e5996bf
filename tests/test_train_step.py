"""labkit.train_step: the loss counts answer tokens only, bf16 frozen weights train the same adapter, Ctrl-C waits for
the step."""

import os
import signal
import threading

import pytest
import torch

from labkit.batching import collate
from labkit.data import load_qa
from labkit.finetune import TrainConfig, build_examples, encode, train
from labkit.models import resolve_precision
from labkit.train_step import FrozenInBf16, answer_loss, defer_sigint


def test_frozen_weights_in_bf16_train_the_same_adapter_and_are_float32_between_steps(generator, monkeypatch):
    from labkit import finetune

    if resolve_precision("auto") != "bfloat16":
        pytest.skip("training runs in float32 on this CPU: there is nothing to swap")
    examples = build_examples(generator, load_qa(3), fact_statements=0)
    train_config = TrainConfig(num_steps=3, batch_size=2, rank=4)
    seen = []

    def callback(rec, mg):  # between steps: the float32 weights are in place
        seen.append({p.dtype for n, p in mg.model.named_parameters() if not p.requires_grad})

    swapped = train(generator, examples, train_config, callback=callback, every=1, progress=False)
    real = finetune.FrozenInBf16
    # autocast casts them itself
    monkeypatch.setattr(finetune, "FrozenInBf16", lambda model, enabled: real(model, enabled=False))
    cast = train(generator, examples, train_config, callback=lambda rec, mg: None, every=1, progress=False)
    # the same bf16 values: the same training
    assert len(swapped.history) == 4 and [h["loss"] for h in swapped.history] == [h["loss"] for h in cast.history]
    adapter = {n: p for n, p in swapped.gen.model.named_parameters() if p.requires_grad}
    assert all(torch.equal(adapter[n], p) for n, p in cast.gen.model.named_parameters() if p.requires_grad)
    assert seen and all(dtypes == {torch.float32} for dtypes in seen)
    # every frozen linear of the 30 layers, not the tied output
    assert len(real(swapped.gen.model, enabled=True).pairs) == 30 * 7


def test_answer_loss_is_the_cross_entropy_of_the_answer_tokens_alone(generator):
    rows = [encode(generator.tokenizer, e) for e in build_examples(generator, load_qa(2), fact_statements=1)]
    batch = collate(rows, generator.tokenizer.pad_token_id)
    with torch.no_grad():
        logits = generator.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        plain = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                                                  batch["labels"][:, 1:].reshape(-1))
        # -100 ignored, as there
        assert answer_loss(generator.model, batch).item() == pytest.approx(plain.item(), abs=1e-4)


def test_frozen_weights_are_swapped_in_bf16_and_put_back_even_on_errors(generator):
    linear = generator.model.model.layers[0].self_attn.q_proj
    full, trainable = linear.weight.data, linear.weight.requires_grad
    linear.weight.requires_grad_(False)  # the one frozen weight: a LoRA's base weights are frozen this way
    try:
        frozen = FrozenInBf16(generator.model, enabled=True)
        assert [m for m, _, _ in frozen.pairs] == [linear] and FrozenInBf16(generator.model, enabled=False).pairs == []
        with pytest.raises(RuntimeError), frozen.swapped():
            assert linear.weight.dtype == torch.bfloat16 and torch.equal(linear.weight, full.to(torch.bfloat16))
            raise RuntimeError("a step failed")
        # the float32 weight itself
        assert linear.weight.dtype == torch.float32 and linear.weight.data_ptr() == full.data_ptr()
    finally:
        linear.weight.requires_grad_(trainable)


def test_ctrl_c_during_the_update_is_raised_once_the_step_is_whole():
    before, done = signal.getsignal(signal.SIGINT), []
    with pytest.raises(KeyboardInterrupt):
        with defer_sigint():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("the rest of the update")
    assert done == ["the rest of the update"] and signal.getsignal(signal.SIGINT) is before

    def in_a_thread():  # a widget's training thread: signal.signal would raise there, so there is nothing to hold
        with defer_sigint():
            done.append("thread")

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert done[-1] == "thread"
