"""The reading adapter: the split by document, its training examples, the shipped file, and how answers are judged."""

import json

import pytest

from labkit.config import KB_DIR
from labkit.data import READER_DIR, load_qa, reader_info
from labkit.evaluate import is_match
from labkit.folder_index import index_folder
from labkit.rag import ABSTAIN, RAG, Source, is_abstention, is_empty_answer
from labkit.reader import (
    ReaderConfig,
    base_fingerprint,
    load_reader,
    reader_examples,
    reader_for,
    summarize_reader,
)

DOC_IDS = sorted(p.stem for p in KB_DIR.glob("*.md"))


@pytest.fixture(scope="module")
def kb_index(embedder):
    return index_folder(KB_DIR, embedder)


def test_training_examples_show_the_answer_in_the_cited_source_or_abstain(generator, kb_index):
    questions = load_qa()[:12]
    examples = reader_examples(generator, kb_index, questions, ReaderConfig(abstain_share=0.5, seed=1))
    by_id = {q["id"]: q for q in questions}
    answered = [e for e in examples if e.kind == "reader"]
    abstained = [e for e in examples if e.kind == "abstain"]
    assert len(answered) == 12 and abstained, "every question's answer is in some chunk; half of them also abstain"
    positions = set()
    for e in answered:
        q = by_id[e.source]
        number = int(e.target.split("[")[1].split("]")[0])
        positions.add(number)
        shown = e.prompt.split(f"[{number}] ", 1)[1].split("\n")[0]
        assert e.target.startswith(q["answer"]) and is_match(shown, [q["answer"], *q["aliases"]])
    assert len(positions) > 1, "the answer's source is shuffled, not always [1]"
    for e in abstained:
        q = by_id[e.source]
        sources = e.prompt.split("Question:")[0]
        assert e.target.startswith(ABSTAIN) and not is_match(sources, [q["answer"], *q["aliases"]])



def test_an_identifier_shown_word_for_word_becomes_a_training_target(generator, embedder, tmp_path):
    # "--isolated-context=user-b" loses its punctuation under is_match's normalisation and glues into one word; the
    # passage still shows "--isolated-context" word for word, so the question is trained on, citing that passage
    docs = {"tabs": "Open a tab of its own with tab-new --isolated-context=user-b so cookies stay apart.",
            "cookies": "List the cookies of the current page with cookie-list; clear them all with cookie-clear.",
            "trace": "Start a trace with tracing-start and stop it with tracing-stop; the file lands in traces/."}
    for name, text in docs.items():
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\n{text}\n")
    question = {"id": "q1", "question": "Which tab-new option keeps a new tab's cookies apart?",
                "answer": "--isolated-context", "aliases": [], "doc_ids": ["tabs"]}
    assert not is_match(docs["tabs"], [question["answer"]])
    examples = reader_examples(generator, index_folder(tmp_path, embedder, cache=False, progress=False), [question],
                               ReaderConfig(abstain_share=0.0))
    assert [e.kind for e in examples] == ["reader"]
    number = examples[0].target.split("[")[1].split("]")[0]
    assert examples[0].target.startswith("--isolated-context [")
    assert "--isolated-context=user-b" in examples[0].prompt.split(f"[{number}] ", 1)[1].split("\n")[0]

@pytest.mark.parametrize("near_gold", [False, True])
def test_an_abstention_example_can_show_its_own_document_without_the_answer(near_gold, generator, embedder, tmp_path):
    care = " ".join(["Descale the kettle monthly with white vinegar and rinse it twice before the next boil."] * 12)
    docs = {"kettle": f"# Brimble Kettle\n\n## Price\n\nThe Brimble Kettle costs $89.\n\n## Care\n\n{care}\n",
            "lamp": "# Lamp\n\nThe Lumenfold Lantern costs $45 and runs on two batteries.\n",
            "teapot": "# Teapot\n\nThe Tessaly Teapot holds a litre and costs $30.\n",
            "trowel": "# Trowel\n\nThe Cobbleway Trowel has an ash handle and costs $12.\n"}
    for name, text in docs.items():
        (tmp_path / f"{name}.md").write_text(text)
    question = {"id": "q1", "question": "How much does the Brimble Kettle cost?", "answer": "$89", "aliases": [],
                "doc_ids": ["kettle"]}
    index = index_folder(tmp_path, embedder, cache=False, progress=False)
    examples = reader_examples(generator, index, [question],
                               ReaderConfig(abstain_share=1.0, abstain_near_gold=near_gold, seed=0))
    abstain = next(e for e in examples if e.kind == "abstain")
    sources = abstain.prompt.split("Question:")[0]
    assert "$89" not in sources and ("Descale" in sources) == near_gold  # the kettle's care section: no price in it


def test_the_shipped_adapter_fits_the_embedded_model_and_is_small(generator):
    info = reader_info()
    files = {p.name: p.stat().st_size for p in READER_DIR.iterdir()}
    assert set(files) == {"adapter_model.safetensors", "adapter_config.json", "labkit.json"}
    assert sum(files.values()) < 5_000_000, files
    assert info["base_fingerprint"] == base_fingerprint(generator) and info["base"] == generator.name
    config = json.loads((READER_DIR / "adapter_config.json").read_text())
    assert config["r"] == info["reader_config"]["rank"] and config["base_model_name_or_path"] == generator.name
    from safetensors import safe_open

    with safe_open(READER_DIR / "adapter_model.safetensors", "pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    hidden, layers = generator.model.config.hidden_size, generator.model.config.num_hidden_layers
    assert len(shapes) == 2 * len(config["target_modules"]) * layers
    assert all(s[0] == config["r"] and s[1] in (hidden, generator.model.config.intermediate_size) for k, s
               in shapes.items() if "lora_A" in k)
    assert sum(s[0] * s[1] for s in shapes.values()) == info["trainable_params"]


def test_the_adapter_changes_answers_and_refuses_another_base(generator, kb_index, monkeypatch):
    tuned, line = reader_for(generator)
    assert tuned is not generator and "reading adapter" in line and "--reader plain" in line
    plain, line = reader_for(generator, "plain")
    assert plain is generator and "plain" in line
    answer = RAG(kb_index, tuned, top_k=3, max_new_tokens=24).answer("What is the price of the Brimble Kettle?")
    assert "$89" in answer.answer and answer.cited_by == "model"
    merged, _ = reader_for(generator, merged=True)  # as `labkit ask` loads it: merged into the weights, no peft
    assert RAG(kb_index, merged, top_k=3, max_new_tokens=24).answer(
        "What is the price of the Brimble Kettle?").answer == answer.answer
    import labkit.reader as reader

    monkeypatch.setattr(reader, "base_fingerprint", lambda gen: "0000000000000000")
    with pytest.raises(ValueError, match="--reader plain"):
        load_reader(generator)
    fallback, line = reader_for(generator)
    assert fallback is generator and "plain model" in line and "trained on" in line
    with pytest.raises(ValueError, match="adapter' or 'plain"):
        reader_for(generator, "clever")


@pytest.mark.parametrize("answer,question,empty", [
    ("the answer is: [1]", "What is the price of the Brimble Kettle?", True),
    ("Question: How long is the return window? [1]", "How long is the return window?", True),
    ("[2]", "Who is the CEO?", True),
    ("45 days [1].", "How long is the return window?", False),
    ("The return window is 45 days [1].", "How long is the return window?", False),
    (ABSTAIN, "Who is the CEO?", False),
])
def test_empty_answers_are_those_without_content(answer, question, empty):
    assert is_empty_answer(answer, question) is empty


def test_an_abstention_gets_no_citation_added(generator, kb_index):
    rag = RAG(kb_index, generator)
    source = Source(1, "faq-a#0", "faq-a", "faq-a.md", "FAQ", "", 0.5, "The sources of the river are in the hills.")
    result = rag._finish("Where?", "The sources do not say.", [source], "prompt", 0.0, 0.0)
    assert is_abstention(result.answer) and result.cited == [] and result.answer == ABSTAIN


def test_reader_rates_count_abstentions_apart_from_right_answers():
    records = [
        {"answerable": True, "match": True, "retrieved_gold": True, "abstained": False, "empty": False,
         "cited_by": "model", "seconds": 1.0},
        {"answerable": True, "match": False, "retrieved_gold": True, "abstained": True, "empty": False,
         "cited_by": "model", "seconds": 2.0},
        {"answerable": True, "match": False, "retrieved_gold": False, "abstained": True, "empty": False,
         "cited_by": "model", "seconds": 3.0},
        {"answerable": False, "match": False, "retrieved_gold": False, "abstained": False, "empty": True,
         "cited_by": "overlap", "seconds": 4.0},
    ]
    s = summarize_reader(records)
    assert (s["accuracy"], s["n"], s["right"]) == (round(1 / 3, 4), 3, 1)
    assert s["abstain_gold_found"]["hits"] == 1 and s["abstain_gold_found"]["n"] == 2
    assert s["abstain_no_answer"]["hits"] == 1 and s["abstain_no_answer"]["n"] == 2
    assert s["empty"]["hits"] == 1 and s["cited_by_model"]["hits"] == 3 and s["answer_p50_s"] == 2.5
    assert s["accuracy_95"][0] < s["accuracy"] < s["accuracy_95"][1]


def test_wrong_answers_split_into_retrieval_misses_reading_misses_and_abstentions_with_the_gold_passage_shown():
    def record(match, gold_shown, abstained, answerable=True, kind="answer"):
        return {"answerable": answerable, "match": match, "retrieved_gold": gold_shown, "gold_shown": gold_shown,
                "abstained": abstained, "empty": False, "answer_kind": kind, "cited_by": "model", "seconds": 1.0}

    records = [record(True, True, False), record(True, False, False, kind="quote"),  # right, even without the passage
               record(False, False, False), record(False, False, True),  # two retrieval misses (one abstains)
               record(False, True, False), record(False, True, False),  # two reading misses
               record(False, True, True),  # an abstention with the gold passage shown
               record(False, False, True, answerable=False), record(False, False, False, answerable=False)]
    s = summarize_reader(records)
    assert (s["right"], s["n"]) == (2, 7)
    assert [s[k]["hits"] for k in ("retrieval_misses", "reading_misses")] == [2, 2]
    assert (s["abstain_gold_shown"]["hits"], s["abstain_gold_shown"]["n"]) == (1, 4)  # of the 4 with it shown
    assert s["right"] + s["retrieval_misses"]["hits"] + s["reading_misses"]["hits"] + s["abstain_gold_shown"][
        "hits"] == s["n"]
    assert (s["gold_shown"]["hits"], s["abstain_unanswerable"]["hits"], s["quotes"]["hits"]) == (4, 1, 1)
    assert "gold_shown" not in summarize_reader([{k: v for k, v in r.items() if k != "gold_shown"} for r in records])


class _FullDiskIn:
    """A trained reading adapter stand-in whose save fails inside `refuse`, as safetensors reports a full disk."""

    def __init__(self, refuse):
        import torch

        self.refuse, self.weight = refuse, torch.ones(2, 4)

    def save_pretrained(self, folder, safe_serialization=True):
        from pathlib import Path

        from safetensors import SafetensorError
        from safetensors.torch import save_file

        if Path(folder).is_relative_to(self.refuse):
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        save_file({"lora_A": self.weight}, str(Path(folder) / "adapter_model.safetensors"))
        (Path(folder) / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 4}')


def test_a_reading_adapter_the_disk_refuses_is_kept_in_a_rescue_folder_it_names(tmp_path, monkeypatch):
    """`train-reader --out` on a disk that filled during the run used to lose the training (and the scoring) to a
    traceback."""
    import tempfile
    from types import SimpleNamespace

    from labkit.adapters import save_or_rescue
    from labkit.reader import save_reader

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    gen = SimpleNamespace(model=_FullDiskIn(tmp_path / "full"), name="smollm2-135m-instruct")
    result = SimpleNamespace(gen=gen, steps_done=1, train_s=1.0, tokens=10, precision="float32", trainable_params=8)
    # it reads the base's weights; none here
    monkeypatch.setattr("labkit.reader.base_fingerprint", lambda g: "fingerprint")
    with pytest.raises(OSError, match="No space left on device"):
        save_reader(result, tmp_path / "full" / "reader")
    path, problem = save_or_rescue(lambda folder: save_reader(result, folder, {"note": "kept"}),
                                   tmp_path / "full" / "reader", "reading adapter")
    assert path.parent == tmp_path / "tmp" / "labkit-rescued" and json.loads((path
                                                                              / "labkit.json").read_text(
                                                                                  ))["note"] == "kept"
    assert (
        str(path) in problem
        and "No space left on device" in problem
        and f"mv {path} {tmp_path / 'full' / 'reader'}" in problem
    )
    assert not (tmp_path / "full" / "reader").exists()
