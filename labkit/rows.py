"""The scoreboard's rows: one small function per row, over the state every seed of a run shares.

- `Shared`: the models, the knowledge base's index, the rows that need no training (computed
  once: greedy decoding gives every seed the same answers) and a saved copy of the index;
- `score_closed_book` / `score_rag`: what a row measures (accuracy, F1, MC, the general probe,
  traceability, latency, prompt tokens), each on the held-out paraphrases of the taught questions;
- `row_closed_book`, `row_rag`, `row_reader` (the shipped reading adapter), `rows_fine_tuned`
  (LoRA on the questions and fact statements, closed-book and + RAG), `row_docs` (LoRA on the
  documents' raw text alone: the "unsupervised" fine-tune of Ovadia et al. 2023) and `row_raft`
  (RAFT-style: trained on `rag.build_prompt` prompts of retrieved chunks, distractors included,
  answering with the fact and the number of the gold source: `raft_examples`).

What it leaves out: the facts changing (`labkit.freshness`), putting rows together into seeds
and runs (`labkit.compare`), and the arithmetic over seeds (`labkit.scoreboard`).

Example: row_rag(shared, questions, default_compare_config(), probe)["accuracy"] -> 0.27
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit.adapters import save_adapter
from labkit.compare_config import CompareConfig
from labkit.config import KB_DIR
from labkit.data import READER_DIR, needs_two_documents, reader_info
from labkit.evaluate import mc_accuracy, mc_items_from_qa, miss_split
from labkit.finetune import Example, build_examples, make_config, train
from labkit.rag import RAG, build_prompt, evaluate_closed_book, evaluate_rag, sources_from_hits
from labkit.reader import load_reader
from labkit.retrieval import VectorIndex, index_folder
from labkit.storage import dir_size

ADAPTERS = {"fine-tuned": "compare-fine-tuned", "fine-tuned (docs)": "compare-docs", "RAFT + RAG": "compare-raft"}  # saved for the playground


@dataclass
class Shared:
    """What every seed of one run shares: the models, the index, and the rows that need no training."""

    gen: object  # the base Generator
    embedder: object  # the sentence embedder
    index: VectorIndex  # the knowledge base's index (never edited: freshness works on a copy)
    index_info: dict  # index_build_s, index_bytes, chunks, rebuilt
    untrained: dict = field(default_factory=dict)  # rows computed once: closed-book, RAG, RAG after update (greedy, no training: same every seed)
    pristine: Path | None = None  # a saved copy of the index, so each seed's update starts from the original documents
    _reader: object = None  # the shipped reading adapter on gen, loaded on first use (False: it does not fit gen)
    _updated: dict = field(default_factory=dict)  # update ids -> (index with them applied, timing): built once per process, only read after

    def reader(self):
        """The base model with the shipped reading adapter, or None if it was trained on another base. Example: shared.reader()."""
        if self._reader is None:
            try:
                self._reader = load_reader(self.gen)
            except (ValueError, FileNotFoundError):
                self._reader = False
        return self._reader or None

    def pristine_index(self) -> VectorIndex:
        """A fresh copy of the original index (saved once, loaded per call). Example: shared.pristine_index() is not shared.index."""
        if self.pristine is None:
            self.pristine = self.index.save(Path(tempfile.mkdtemp(prefix="labkit-compare-")) / "kb")
        return VectorIndex.load(self.pristine, self.embedder)


def measure_index(embedder, rebuild: bool = True) -> tuple[VectorIndex, dict]:
    """Build the knowledge-base index from scratch (timed) and measure its size on disk.

    Example: index, info = measure_index(embedder); info -> {"index_build_s": 21.4, "index_bytes": 1480000, "chunks": 323}
    """
    start = time.perf_counter()
    index = index_folder(KB_DIR, embedder, cache=not rebuild, progress=True)
    build = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        size = dir_size(index.save(Path(tmp) / "kb"))
    return index, {"index_build_s": round(build, 2), "index_bytes": size, "chunks": len(index), "rebuilt": rebuild}


# ---------------------------------------------------------------- pieces


def raft_examples(gen, index, questions: list[dict], top_k: int = 3) -> list[Example]:
    """Retrieval-aware training examples: the RAG prompt of the training wording, the fact and the gold source's number.

    Example: raft_examples(gen, index, qa[:1])[0].target -> "The Brimble Kettle costs $89 [1].<|im_end|>"
    The sources are what retrieval returns (distractors included); if no gold chunk is
    among them, the best gold chunk replaces the last source, so every example can be
    answered from one source, as at test time when retrieval works.
    """
    end = gen.end_of_turn()
    hits = index.search_many([q["question"] for q in questions], max(top_k, 12))
    examples = []
    for q, h in zip(questions, hits, strict=True):
        gold = set(q["doc_ids"])
        chosen = h[:top_k]
        if not any(x.chunk.doc_id in gold for x in chosen):
            best = next((x for x in h if x.chunk.doc_id in gold), None)
            if best is not None:
                chosen = [*chosen[: top_k - 1], best]
        sources = sources_from_hits(chosen)
        number = next((s.number for s in sources if s.doc_id in gold), None)
        fact = (q.get("facts") or [f"The answer is {q['answer']}."])[0].rstrip(".")
        target = f"{fact} [{number}]." if number else f"{fact}."
        examples.append(Example(gen.chat_prompt(build_prompt(q["question"], sources)), f"{target}{end}", "raft", q["id"]))
    return examples


def multi_document(records: list[dict], questions: list[dict]) -> dict:
    """Accuracy on the questions whose answer needs two documents (e.g. "Which is heavier, the Brimble Kettle or the
    Drumlin Toaster?"), and how many answers that is: reasoning across documents as its own column.

    Example: multi_document(ev.records, qs) -> {"multi_acc": 0.25, "n_multi": 4}
    """
    multi = {q["id"] for q in questions if needs_two_documents(q)}
    picked = [r for r in records if r["id"].split("/")[0] in multi]
    return {"multi_acc": round(sum(r["match"] for r in picked) / len(picked), 4) if picked else None, "n_multi": len(picked)}


def score_closed_book(gen, questions: list[dict], ccfg: CompareConfig, probe_items) -> dict:
    """A closed-book row: accuracy, F1, MC accuracy, general probe, latency, prompt tokens.

    Example: score_closed_book(gen, qs, cfg, probe)["accuracy"] -> 0.06
    """
    ev = evaluate_closed_book(gen, questions, max_new_tokens=ccfg.max_new_tokens)
    mc_items = mc_items_from_qa(questions)
    return {"accuracy": ev.summary["accuracy"], "f1": ev.summary["f1"], **multi_document(ev.records, questions),
            "mc_acc": round(mc_accuracy(gen, mc_items), 4),
            "cited": 0.0, "cited_by_model": 0.0, "cited_gold": 0.0, "cited_gold_by_model": 0.0,
            "general_acc": round(mc_accuracy(gen, probe_items), 4),
            "n": len(ev.records), "n_mc": len(mc_items), "n_probe": len(probe_items),
            "latency_p50_s": ev.summary["latency_p50_s"],
            "prompt_tokens": statistics.median(gen.count_tokens(gen.chat_prompt(r["question"])) for r in ev.records),
            "records": ev.records}


def score_rag(rag_system: RAG, questions: list[dict], general_acc: float, n_probe: int) -> dict:
    """A RAG row: accuracy, F1, where wrong answers come from (retrieval or reading), traceability, latency, prompt tokens; MC is n/a.

    Example: score_rag(RAG(index, gen), qs, 0.6, 40)["cited_gold"] -> 0.81
    `general_acc` is the probe score (over n_probe items) of the model that answers: RAG leaves
    a model's weights as they are. Traceability is counted twice: citations the model wrote
    (`cited_by_model`, `cited_gold_by_model`) and those including the ones labkit attributed
    afterwards by word overlap (`cited`, `cited_gold`), which are 1.00 by construction.
    """
    by_id = {q["id"]: q for q in questions}
    ev = evaluate_rag(rag_system, questions)
    n = max(1, len(ev.records))

    def gold(r):
        return any(r["sources"][c - 1] in by_id[r["id"].split("/")[0]]["doc_ids"] for c in r["cited"])

    def share(test):
        return round(sum(bool(test(r)) for r in ev.records) / n, 4)

    split = miss_split(ev.records)
    return {"accuracy": ev.summary["accuracy"], "f1": ev.summary["f1"], **multi_document(ev.records, questions), "mc_acc": None,
            "retrieval_miss": split["retrieval_miss"], "reading_miss": split["reading_miss"],
            "cited": share(lambda r: r["cited"]), "cited_by_model": share(lambda r: r["cited"] and r["cited_by"] == "model"),
            "cited_gold": share(gold), "cited_gold_by_model": share(lambda r: r["cited_by"] == "model" and gold(r)),
            "general_acc": general_acc, "n": len(ev.records), "n_probe": n_probe,
            "latency_p50_s": ev.summary["latency_p50_s"],
            "prompt_tokens": statistics.median(r["prompt_tokens"] for r in ev.records),
            "records": ev.records}


def train_lora(gen, examples, ccfg: CompareConfig, seed: int, num_steps: int | None = None, **more):
    """A LoRA of the run's rank and learning rate on the examples (num_steps: the knowledge fine-tunes' unless given).

    Example: train_lora(shared.gen, build_examples(shared.gen, qs), cfg, 0).train_s -> 41.2
    """
    cfg = make_config(rank=ccfg.rank, lr=ccfg.lr, num_steps=num_steps or ccfg.num_steps, seed=seed,
                      fact_statements=ccfg.fact_statements, **more)
    return train(gen, examples, cfg, progress=True)  # a bar with an ETA: trainings take minutes


def save_row_adapter(result, approach: str) -> int:
    """Save a row's adapter in the cache (the playground loads it) and return its size. Example: save_row_adapter(ft, "fine-tuned") -> 1843200."""
    return dir_size(save_adapter(result, ADAPTERS[approach], overwrite=True, meta={"made_by": "labkit.compare"}))


def row_costs(shared: Shared, rag: bool, train_s: float = 0.0, adapter_bytes: int = 0) -> dict:
    """A row's one-off costs: the index (RAG rows only) and the training. Example: row_costs(shared, rag=False)["index_bytes"] -> 0."""
    info = shared.index_info
    return {"index_build_s": info["index_build_s"] if rag else 0.0, "index_bytes": info["index_bytes"] if rag else 0,
            "train_s": train_s, "adapter_bytes": adapter_bytes}


# ---------------------------------------------------------------- one function per row


def row_closed_book(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe) -> dict:
    """The base model with no sources (computed once per run). Example: row_closed_book(shared, qs, cfg, probe)["accuracy"] -> 0.07."""
    if "closed-book" not in shared.untrained:
        shared.untrained["closed-book"] = {**score_closed_book(shared.gen, questions, ccfg, probe), **row_costs(shared, rag=False)}
    return shared.untrained["closed-book"]


def row_rag(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe) -> dict:
    """The base model reading the top_k sources (computed once per run). Example: row_rag(shared, qs, cfg, probe)["cited_gold"] -> 0.78."""
    if "RAG" not in shared.untrained:
        base = row_closed_book(shared, questions, ccfg, probe)
        rag = RAG(shared.index, shared.gen, ccfg.top_k, ccfg.max_new_tokens)
        shared.untrained["RAG"] = {**score_rag(rag, questions, base["general_acc"], base["n_probe"]), **row_costs(shared, rag=True)}
    return shared.untrained["RAG"]


def row_reader(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe, log=print) -> dict | None:
    """The shipped reading adapter (data/reader) reading the top_k sources; computed once per run (no training, greedy).

    Example: row_reader(shared, qs, cfg, probe)["accuracy"] -> 0.56
    None when the adapter does not fit the generator (another --generator). Its training cost is
    the shipped adapter's, paid once by `labkit train-reader` (on the training wordings of the
    questions of two thirds of the documents; these rows score the held-out paraphrases).
    """
    if "reading adapter + RAG" not in shared.untrained:
        reader = shared.reader()
        if reader is None:
            log("  reading adapter + RAG: skipped (the shipped adapter was trained on another base model)")
            shared.untrained["reading adapter + RAG"] = None
        else:
            info = reader_info()
            row = score_rag(RAG(shared.index, reader, ccfg.top_k, ccfg.max_new_tokens), questions, round(mc_accuracy(reader, probe), 4), len(probe))
            shared.untrained["reading adapter + RAG"] = {**row, **row_costs(shared, rag=True, train_s=info["train_s"], adapter_bytes=dir_size(READER_DIR))}
    return shared.untrained["reading adapter + RAG"]


def rows_fine_tuned(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe, seed: int) -> tuple[dict, dict, object]:
    """LoRA on the questions and fact statements: the closed-book row, the + RAG row, and the TrainResult.

    Example: ft_row, hybrid_row, result = rows_fine_tuned(shared, qs, cfg, probe, 0); ft_row["accuracy"] -> 0.46
    """
    ft = train_lora(shared.gen, build_examples(shared.gen, questions, fact_statements=ccfg.fact_statements), ccfg, seed)
    train_s, adapter = round(ft.train_s, 2), save_row_adapter(ft, "fine-tuned")
    ft_row = {**score_closed_book(ft.gen, questions, ccfg, probe), **row_costs(shared, rag=False, train_s=train_s, adapter_bytes=adapter)}
    hybrid = {**score_rag(RAG(shared.index, ft.gen, ccfg.top_k, ccfg.max_new_tokens), questions, ft_row["general_acc"], ft_row["n_probe"]),
              **row_costs(shared, rag=True, train_s=train_s, adapter_bytes=adapter)}
    return ft_row, hybrid, ft


def row_docs(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe, seed: int) -> dict:
    """Ovadia et al.'s unsupervised fine-tune: the documents' raw text, no questions, no fact statements.

    Example: row_docs(shared, qs, cfg, probe, 0)["accuracy"] -> 0.05
    """
    examples = build_examples(shared.gen, questions, fact_statements=0, include_qa=False, include_docs=True)
    docs = train_lora(shared.gen, examples, ccfg, seed, ccfg.docs_steps)
    return {**score_closed_book(docs.gen, questions, ccfg, probe),
            **row_costs(shared, rag=False, train_s=round(docs.train_s, 2), adapter_bytes=save_row_adapter(docs, "fine-tuned (docs)"))}


def row_raft(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe, seed: int) -> tuple[dict, object]:
    """The retrieval-aware fine-tune, answering with RAG: its row and the TrainResult (freshness asks it again).

    Example: row, raft = row_raft(shared, qs, cfg, probe, 0); row["accuracy"] -> 0.72
    """
    # max_len 640: the whole RAG prompt fits, so the target is never cut off
    raft = train_lora(shared.gen, raft_examples(shared.gen, shared.index, questions, ccfg.top_k), ccfg, seed, ccfg.raft_steps,
                  batch_size=ccfg.raft_batch_size, max_len=640)
    row = score_rag(RAG(shared.index, raft.gen, ccfg.top_k, ccfg.max_new_tokens), questions, round(mc_accuracy(raft.gen, probe), 4), len(probe))
    return {**row, **row_costs(shared, rag=True, train_s=round(raft.train_s, 2), adapter_bytes=save_row_adapter(raft, "RAFT + RAG"))}, raft
