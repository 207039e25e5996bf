"""Tests of labkit.finetune with the real model: configs, examples, masking, training, stopping, replay."""

import threading

import pytest
import torch

from labkit.batching import collate
from labkit.data import load_qa
from labkit.finetune import (
    Example,
    TrainConfig,
    build_examples,
    chat_example,
    doc_examples,
    encode,
    make_config,
    train,
)
from labkit.lora_targets import lora_targets
from labkit.models import resolve_precision
from labkit.train_step import answer_loss

FAST = {"lora": {"lr": 5e-3}, "full": {"lr": 1e-4}}


def test_examples_never_contain_heldout_paraphrases(generator):
    qa = load_qa()
    examples = build_examples(generator, qa, fact_statements=4, include_docs=True)
    text = "\n".join(e.prompt + e.target for e in examples)
    leaked = [p for q in qa for p in q["paraphrases"] if p in text]
    assert not leaked, leaked[:3]
    assert sum(e.kind == "fact" for e in examples) == sum(len(q["facts"][:4]) for q in qa)


@pytest.mark.parametrize("fact_statements", [0, 1, 3])
def test_fact_statements_knob_counts_facts(generator, fact_statements):
    qa = load_qa(3)
    examples = build_examples(generator, qa, fact_statements=fact_statements)
    assert sum(e.kind == "qa" for e in examples) == 3
    assert sum(e.kind == "fact" for e in examples) == 3 * fact_statements


@pytest.mark.parametrize("overrides, field, expected", [({"rank": 4}, "rank", 4), ({"rank": None}, "rank", 16),
                                                         ({"lr": 1e-4, "num_steps": 0}, "num_steps", 0)])
def test_make_config_keeps_given_values_and_defaults_for_none(overrides, field, expected):
    assert getattr(make_config(**overrides), field) == expected


@pytest.mark.parametrize("overrides",
                         [{"rank": 0}, {"lr": 0}, {"lr": 1.5}, {"replay": 1.0}, {"fact_statements": 5},
                          {"method": "qlora"},
                                       {"precision": "fp16"}, {"attention": "flash"}])
def test_make_config_rejects_bad_values_instead_of_defaulting(overrides):
    with pytest.raises(ValueError):
        make_config(**overrides)


def test_doc_examples_come_from_the_corpus_reader():
    from labkit.documents import Document

    docs = [Document("a", "A", "a.md", "# A\n" + " ".join(f"w{i}" for i in range(130)))]
    pieces = doc_examples({"a", "missing"}, documents=docs)
    assert [len(p.target.split()) for p in pieces] == [60, 60, 12] and {p.source for p in pieces} == {"a"}
    assert pieces[0].target.startswith("# A w0") and all(p.kind == "doc" and p.prompt == "" for p in pieces)


def test_chat_example_closes_the_turn(generator):
    ex = chat_example(generator, "Price?", "$89", "qa", "q001")
    assert ex.prompt == generator.chat_prompt("Price?") and ex.target == "$89" + generator.end_of_turn(
        ) and ex.source == "q001"


def test_loss_only_on_answer_tokens(generator):
    ex = build_examples(generator, load_qa(1), fact_statements=0)[0]
    row = encode(generator.tokenizer, ex)
    n_prompt = len(generator.tokenizer(ex.prompt, add_special_tokens=False)["input_ids"])
    assert row["labels"][:n_prompt] == [-100] * n_prompt
    assert row["labels"][n_prompt:] == row["input_ids"][n_prompt:] and len(row["labels"]) > n_prompt
    batch = collate([row, encode(generator.tokenizer, Example("", "Short.", "fact"))], generator.tokenizer.pad_token_id)
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


@pytest.mark.parametrize("method, precision", [("lora", "float32"), ("lora", "bfloat16"), ("full", "auto")])
def test_a_few_steps_reduce_loss_and_leave_the_base_alone(generator, method, precision):
    examples = build_examples(generator, load_qa(2), fact_statements=0)
    before_weight = generator.model.model.layers[0].self_attn.q_proj.weight.detach().clone()
    train_config = TrainConfig(method=method, num_steps=3, batch_size=2, rank=8, precision=precision, **FAST[method])
    result = train(generator, examples, train_config, progress=False)
    batch = collate([encode(generator.tokenizer, e) for e in examples], generator.tokenizer.pad_token_id)
    with torch.no_grad():
        base_loss = answer_loss(generator.model, batch).item()
        tuned_loss = answer_loss(result.gen.model, batch).item()
    assert tuned_loss < base_loss - 0.2, (base_loss, tuned_loss)
    assert torch.equal(generator.model.model.layers[0].self_attn.q_proj.weight, before_weight)
    assert result.steps_done == 3 and not result.interrupted
    assert result.precision == resolve_precision(precision) and result.precision in ("float32", "bfloat16")
    # bf16 is for matmuls only: weights stay float32
    assert all(p.dtype == torch.float32 for p in result.gen.model.parameters())
    trained_lm = result.gen.model.get_base_model() if method == "lora" else result.gen.model
    # answering keeps its kernel
    assert trained_lm.config._attn_implementation == generator.model.config._attn_implementation
    if method == "lora":
        assert result.trainable_params < 0.05 * result.total_params
    else:
        assert result.trainable_params == result.total_params


def test_training_a_tuned_model_continues_its_adapter_and_leaves_it_alone(generator):
    first = train(generator, build_examples(generator, load_qa(2), fact_statements=0),
                  TrainConfig(num_steps=2, batch_size=2, rank=4), progress=False)
    lora = {n: p.detach().clone() for n, p in first.gen.model.named_parameters() if "lora_" in n}
    second = train(first.gen, build_examples(generator, load_qa(4)[2:], fact_statements=0),
                   TrainConfig(num_steps=2, batch_size=2, rank=16), progress=False)
    # the given model is untouched
    assert all(torch.equal(p, lora[n]) for n, p in first.gen.model.named_parameters() if "lora_" in n)
    moved = {n: p for n, p in second.gen.model.named_parameters() if "lora_" in n}
    # the same rank-4 adapter, not a new one
    assert set(moved) == set(lora) and second.trainable_params == first.trainable_params
    assert any(not torch.equal(moved[n], lora[n]) for n in lora)  # ... trained further


def test_answering_from_a_lora_in_bf16_leaves_its_base_frozen(generator, monkeypatch):
    result = train(generator, build_examples(generator, load_qa(2), fact_statements=0),
                   TrainConfig(num_steps=1, batch_size=2, rank=4), progress=False)
    tuned = result.gen
    frozen = {n for n, p in tuned.model.named_parameters() if not p.requires_grad}
    assert frozen and all("lora_" not in n for n in frozen)
    monkeypatch.setattr(tuned, "precision", "bfloat16")
    with tuned.inference():  # marked trainable inside, so autocast casts them once (Generator.inference)
        assert all(p.requires_grad for p in tuned.model.parameters())
        assert not torch.is_grad_enabled()
    assert {n for n, p in tuned.model.named_parameters() if not p.requires_grad} == frozen
    with pytest.raises(RuntimeError), tuned.inference():
        raise RuntimeError("an answer failed")
    assert {n for n, p in tuned.model.named_parameters() if not p.requires_grad} == frozen  # put back on errors too


def test_stop_event_keeps_the_last_completed_step(generator):
    stop = threading.Event()
    seen = {}

    def callback(rec, mg):
        if rec["step"] == 2:
            seen["weights"] = {k: v.detach().clone() for k, v in mg.model.named_parameters() if v.requires_grad}
            stop.set()

    examples = build_examples(generator, load_qa(2), fact_statements=0)
    result = train(generator, examples, TrainConfig(num_steps=6, batch_size=2, rank=4), callback=callback, every=1,
                   stop=stop, progress=False)
    assert result.interrupted and result.steps_done == 2
    assert "step 2" in result.message and "keeps" in result.message
    now = {k: v for k, v in result.gen.model.named_parameters() if v.requires_grad}
    assert all(torch.equal(now[k], w) for k, w in seen["weights"].items())


def test_keyboard_interrupt_keeps_the_last_completed_step(generator):
    def callback(rec, mg):
        if rec["step"] == 1:
            raise KeyboardInterrupt

    examples = build_examples(generator, load_qa(2), fact_statements=0)
    result = train(generator, examples, TrainConfig(num_steps=5, batch_size=2, rank=4), callback=callback, every=1,
                   progress=False)
    assert result.interrupted and result.steps_done == 1 and "step 1" in result.message




def _tiny(config_class, **sizes):
    """A model of another architecture, tiny and random, built from its config alone (no download)."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(config_class(vocab_size=64, num_hidden_layers=2, **sizes))


@pytest.mark.parametrize("arch,expected", [
    ("qwen2", ["q_proj", "v_proj", "o_proj", "up_proj", "down_proj"]),  # the recipe's names are all there: kept
    ("gpt_neox", ["dense", "dense_4h_to_h", "dense_h_to_4h", "query_key_value"]),  # other names: every block linear
    ("gpt2", ["c_attn", "c_fc", "c_proj"]),  # Conv1D layers, not nn.Linear
])
def test_lora_targets_come_from_the_models_own_module_names(arch, expected):
    from transformers import GPT2Config, GPTNeoXConfig, Qwen2Config

    model = {"qwen2": lambda: _tiny(Qwen2Config, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                                     intermediate_size=64),
             "gpt_neox": lambda: _tiny(GPTNeoXConfig, hidden_size=32, num_attention_heads=4, intermediate_size=64),
             "gpt2": lambda: _tiny(GPT2Config, n_embd=32, n_head=4)}[arch]()
    assert lora_targets(model) == expected
    assert lora_targets(model, ("q_proj",)) == (["q_proj"] if arch == "qwen2" else expected)


def test_lora_targets_of_the_embedded_model_are_the_recipes(generator):
    assert lora_targets(generator.model) == list(TrainConfig().target_modules)


def test_an_example_whose_prompt_fills_max_len_is_refused_before_training(generator, monkeypatch):
    """train-reader --mix's reference pages made prompts of 700-1,100 tokens for max_len 640: 94 of 113 examples kept
    no answer token, and their batches trained on nothing (loss nan). Refused, saying what to do, before any model
    work."""
    from labkit import finetune

    monkeypatch.setattr(finetune, "prepare_model", lambda *a: pytest.fail("trained although it was refused"))
    short = Example("Where is the warehouse?", "In Hollin Tarn.", "qa")
    long = Example("Sources: " + "a passage of a long reference page " * 120, "The answer.", "qa")
    with pytest.raises(ValueError, match=r"1 of 2 training examples .* max_len \(640 tokens\).*raise max_len"):
        finetune.train(generator, [short, long], make_config(max_len=640, num_steps=1))
    document = Example("", "word " * 900, "doc")  # a document is cut to max_len and still trained on
    finetune.check_answers_fit([encode(generator.tokenizer, e, 640) for e in (short, document)], 640)
