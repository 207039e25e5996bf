"""labkit.rows: the run's Setup (read once, frozen), and the row functions, each taking what it needs and returning its
record."""

import dataclasses
import re

import pytest

from labkit.compare_config import default_compare_config
from labkit.data import load_probe, load_qa, spread, taught_questions
from labkit.rows import make_setup, row_closed_book, row_rag, rows_fine_tuned


def test_a_setup_reads_the_runs_questions_and_probe_once_and_cannot_be_edited():
    ccfg = default_compare_config(quick=True, num_questions=4, num_updates=1, num_probe=6)
    setup = make_setup(None, None, None, {}, ccfg)
    assert (setup.questions, setup.updates) == taught_questions(4, 1, False)
    assert [it.question for it in setup.probe] == [r["question"] for r in spread(load_probe(), 6)]
    assert setup.updated is None and setup.update_info is None  # freshness.with_updated_index adds them
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.questions = []  # every row reads the same questions: nothing may swap them mid-run


def test_the_untrained_rows_score_the_held_out_wordings_and_cost_only_what_they_use(tiny_run):
    setup, ccfg = tiny_run
    closed = row_closed_book(setup, ccfg)
    rag = row_rag(setup, ccfg, closed)
    # one held-out paraphrase per taught question, never its training wording, then the untaught ones
    for row in (closed, rag):
        assert [r["question"] for r in row["records"]] == [q["paraphrases"][0] for q
                                                           in [*setup.questions, *setup.untaught]]
        assert [r["column"] for r
                in row["records"]] == ["taught"] * len(setup.questions) + ["untaught"] * len(setup.untaught)
        assert row["n"] == len(setup.questions) == 2 and row["n_untaught"] == len(setup.untaught) == 2
        untaught = [r["match"] for r in row["records"] if r["column"] == "untaught"]
        assert row["untaught_acc"] == sum(untaught) / 2  # the untaught column is scored on its own records only
        assert row["train_s"] == 0.0 and row["adapter_bytes"] == 0
    assert (
        closed["index_bytes"] == 0
        and closed["index_build_s"] == 0.0
        and closed["n_probe"] == 4
        and closed["mc_acc"] is not None
    )
    # MC measures what a model stores
    assert rag["index_bytes"] == setup.index_info["index_bytes"] > 0 and rag["mc_acc"] is None
    # RAG leaves the weights as they are: the base model's probe score
    assert rag["general_acc"] == closed["general_acc"]
    assert rag["prompt_tokens"] > closed["prompt_tokens"]  # the sources are in the prompt


def _sentences(text: str) -> list[str]:
    body = text.split("---", 2)[-1] if text.startswith("---") else text
    return [" ".join(s.split()) for s in re.split(r"(?<=[.!?])\s+|\n+", body) if len(s.split()) >= 6]


def test_no_training_example_of_any_row_shows_an_untaught_fact(generator, embedder):
    """The untaught column's promise, checked on every training set a full run makes (fine-tuned, documents-only,
    RAFT, retrained, and the reading adapter's): no sentence of an unseen document, no fact statement of an untaught
    question, and no target saying an untaught question's answer (one that no trained document holds)."""
    from labkit.config import KB_DIR
    from labkit.data import split_questions, unseen_documents, untaught_questions, updated_questions
    from labkit.evaluate import answer_variants
    from labkit.finetune import build_examples
    from labkit.folder_index import index_folder
    from labkit.reader import reader_examples
    from labkit.rows import raft_examples

    full = default_compare_config(quick=False)
    taught, updates = taught_questions(full.num_questions, full.num_updates, full.multi_document)
    untaught, unseen = untaught_questions(None), unseen_documents()
    index = index_folder(KB_DIR, embedder, progress=False)
    trainable, _ = split_questions(load_qa(), unseen)
    sets = {
        "fine-tuned": build_examples(generator, taught, fact_statements=4),
        "fine-tuned (docs)": build_examples(generator, taught, fact_statements=0, include_qa=False, include_docs=True),
        "RAFT": raft_examples(generator, index, taught, full.top_k),
        "retrained": build_examples(generator, updated_questions(taught, updates), fact_statements=4),
        "reading adapter": reader_examples(generator, index, trainable, unseen=unseen),
    }
    trained_sentences = {s for p in KB_DIR.glob("*.md") if p.stem not in unseen for s
                         in _sentences(p.read_text(encoding="utf-8"))}
    # an unseen document's own sentences (boilerplate a trained document shares, "This playbook is for ...", is not its
    # fact)
    unseen_sentences = {s for d in unseen for s
                        in _sentences((KB_DIR / f"{d}.md").read_text(encoding="utf-8"))} - trained_sentences
    untaught_facts = {" ".join(f.split()) for q in untaught for f in q["facts"]}
    taught_answers = {a.lower() for q in trainable for a in answer_variants(q)}
    trained_text = " ".join(p.read_text(encoding="utf-8") for p in KB_DIR.glob("*.md") if p.stem not in unseen).lower()
    # an untaught answer no trained document holds ("$89" is one; "the Marrowfield Flask", a product named there, is
    # not)
    untaught_answers = {a.lower() for q in untaught for a in answer_variants(q) if a.lower() not
                        in trained_text} - taught_answers
    assert len(unseen_sentences) > 100 and len(untaught_facts) > 200 and untaught_answers
    for name, examples in sets.items():
        assert examples, name
        for e in examples:
            text = " ".join(f"{e.prompt} {e.target}".split())
            assert not [s for s in unseen_sentences if s in text], (name, e.source)
            assert not [f for f in untaught_facts if f in text], (name, e.source)
            if e.kind != "doc":  # what a model is taught to say: never an untaught question's own answer
                said = e.target.lower()
                assert not [a for a in untaught_answers
                            if re.search(rf"(?<![\w$]){re.escape(a)}(?!\w)", said)], (name, e.source, e.target)


@pytest.mark.parametrize("arch", ["gpt_neox", "qwen2"])
def test_the_rows_run_on_a_tiny_random_model_of_another_architecture(arch, generator, tiny_run, tmp_path, monkeypatch):
    """Nothing assumes SmolLM2's shapes: a 2-layer random GPT-NeoX (other layer names, other backbone attribute) or
    Qwen2 (biased projections, grouped keys), built here from a config with the embedded tokenizer, loaded as any
    model folder is (--generator DIR), goes through closed-book, RAG, and a LoRA's training and both its rows."""
    import torch
    from transformers import AutoModelForCausalLM, GPTNeoXConfig, Qwen2Config

    from labkit.models import load_generator

    tok = generator.tokenizer
    sizes = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64, max_position_embeddings=2048, bos_token_id=tok.bos_token_id,
                 eos_token_id=tok.eos_token_id)
    config = GPTNeoXConfig(**sizes) if arch == "gpt_neox" else Qwen2Config(**sizes, num_key_value_heads=2)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path / arch)
    tok.save_pretrained(tmp_path / arch)
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))  # the fine-tuned row saves its adapter there
    gen = load_generator(str(tmp_path / arch))
    assert type(gen.model).__name__ == {"gpt_neox": "GPTNeoXForCausalLM", "qwen2": "Qwen2ForCausalLM"}[arch]
    setup, ccfg = tiny_run
    setup = dataclasses.replace(setup, gen=gen)
    closed = row_closed_book(setup, ccfg)
    rag = row_rag(setup, ccfg, closed)
    tuned, tuned_rag, result = rows_fine_tuned(setup, ccfg, 0)
    for row in (closed, rag, tuned, tuned_rag):
        assert row["n"] == 2 and len(row["records"]) == 4 and 0.0 <= row["accuracy"] <= 1.0
        assert all(isinstance(r["answer"], str) and r["answer"] for r in row["records"])
    assert rag["prompt_tokens"] > closed["prompt_tokens"] and tuned["train_s"] > 0 and tuned["adapter_bytes"] > 0
    assert result.steps_done == ccfg.num_steps and result.history[-1]["loss"] > 0
    # "...layers.0.attention.query_key_value.lora_A.default.weight" -> "query_key_value"
    layers = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, p in result.gen.model.named_parameters()
              if p.requires_grad}
    assert layers == ({"dense", "dense_4h_to_h", "dense_h_to_4h", "query_key_value"} if arch == "gpt_neox"
                      else {"q_proj", "v_proj", "o_proj", "up_proj", "down_proj"})
