"""labkit.score_cache: a base model's multiple-choice scores are computed once and read back after, and only while
nothing they depend on (the weights, the items, the arguments) changed; models with adapters are never kept."""

from types import SimpleNamespace

import pytest
import torch

from labkit import score_cache


class Tokenizer:
    name_or_path = "tiny"

    def __len__(self):
        return 64


@pytest.fixture
def tiny_gen(tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM, Qwen2Config

    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LABKIT_SCORE_CACHE", raising=False)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(Qwen2Config(vocab_size=64, num_hidden_layers=1, hidden_size=16,
                                                         num_attention_heads=2, num_key_value_heads=1,
                                                         intermediate_size=32))
    return SimpleNamespace(model=model, tokenizer=Tokenizer(), precision="float32")


def scorer(calls, value=-1.5):
    def compute():
        calls.append(1)
        return [[value, value - 1]]
    return compute


ARGS = {"batch_size": 16, "reduce": "sum"}


def test_the_second_call_reads_what_the_first_computed(tiny_gen, tmp_path):
    calls = []
    first = score_cache.cached_scores(tiny_gen, ["q"], [["a", "b"]], ARGS, scorer(calls))
    again = score_cache.cached_scores(tiny_gen, ["q"], [["a", "b"]], ARGS, scorer(calls, value=9.0))
    assert first == again == [[-1.5, -2.5]] and len(calls) == 1
    assert len(list((tmp_path / "cache" / "scores").glob("*.json"))) == 1


@pytest.mark.parametrize("change", ["weight", "items", "choices", "args"])
def test_anything_the_scores_depend_on_changed_is_scored_again(tiny_gen, change):
    calls = []
    score_cache.cached_scores(tiny_gen, ["q"], [["a", "b"]], ARGS, scorer(calls))
    qs, cs, args = ["q"], [["a", "b"]], dict(ARGS)
    if change == "weight":  # one weight of one layer, as a full fine-tune's step would move it
        with torch.no_grad():
            next(tiny_gen.model.parameters()).view(-1)[0] += 1e-3
    elif change == "items":
        qs = ["another question"]
    elif change == "choices":
        cs = [["a", "c"]]
    else:
        args["reduce"] = "mean"
    assert score_cache.cached_scores(tiny_gen, qs, cs, args, scorer(calls, value=-7.0)) == [[-7.0, -8.0]]
    assert len(calls) == 2


@pytest.mark.parametrize("trained", ["lora", "full"])
def test_a_model_the_kit_trained_is_never_kept(tiny_gen, tmp_path, trained):
    if trained == "lora":
        from peft import LoraConfig, get_peft_model

        model = SimpleNamespace(**{**vars(tiny_gen), "model": get_peft_model(
            tiny_gen.model, LoraConfig(r=2, target_modules=["q_proj"]))})
    else:  # finetune.prepare_model's copy, every weight trainable: marked by its info
        model = SimpleNamespace(**vars(tiny_gen), info={"method": "full"})
    calls = []
    for _ in range(2):
        score_cache.cached_scores(model, ["q"], [["a", "b"]], ARGS, scorer(calls))
    assert len(calls) == 2 and not (tmp_path / "cache" / "scores").exists()


def test_a_damaged_file_is_scored_again_and_the_switch_turns_it_off(tiny_gen, tmp_path, monkeypatch):
    calls = []
    score_cache.cached_scores(tiny_gen, ["q"], [["a", "b"]], ARGS, scorer(calls))
    (path,) = (tmp_path / "cache" / "scores").glob("*.json")
    path.write_text("[[-1.5")  # cut short, as by a full disk
    assert score_cache.cached_scores(tiny_gen, ["q"], [["a", "b"]], ARGS, scorer(calls)) == [[-1.5, -2.5]]
    path.write_text("[[-1.5]]")  # a choice missing: not these items' scores
    assert score_cache.cached_scores(tiny_gen, ["q"], [["a", "b"]], ARGS, scorer(calls)) == [[-1.5, -2.5]]
    assert len(calls) == 3
    monkeypatch.setenv("LABKIT_SCORE_CACHE", "0")
    score_cache.cached_scores(tiny_gen, ["q"], [["a", "b"]], ARGS, scorer(calls))
    assert len(calls) == 4


def test_the_base_models_probe_reads_back_equal(generator, tmp_path, monkeypatch):
    """Through mc_scores on the embedded model: what is read back is what was computed."""
    from labkit import multiple_choice as mc
    from labkit.data import load_probe, spread

    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LABKIT_SCORE_CACHE", raising=False)
    items = mc.mc_items_from_probe(spread(load_probe(), 3))
    qs, cs = [it.question for it in items], [it.choices for it in items]
    computed = mc.mc_scores(generator, qs, cs)
    assert len(list((tmp_path / "cache" / "scores").glob("*.json"))) == 1
    assert mc.mc_scores(generator, qs, cs) == computed
