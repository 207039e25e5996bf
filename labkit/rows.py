"""The scoreboard's rows: one small function per row, over what every seed of a run reads (`Setup`).

- `Setup` (`make_setup`): the models, the knowledge base's index, the taught questions, the fact
  changes and the general probe, built once per run and never edited (frozen); `labkit.freshness`
  adds the updated index (`with_updated_index`);
- `row_closed_book`, `row_rag`, `row_reader` (the shipped reading adapter, `fitting_reader`):
  no training, greedy, so `labkit.compare` runs them once per run; `rows_fine_tuned` (LoRA on
  the questions and fact statements, closed-book and + RAG), `row_docs` (LoRA on the documents'
  raw text alone: the "unsupervised" fine-tune of Ovadia et al. 2023) and `row_raft` (RAFT-style:
  trained on `rag.build_prompt` prompts of retrieved chunks, distractors included, answering with
  the fact and the number of the gold source: `raft_examples`): one training each, every seed.
Each takes what it needs and returns its record: its scores (`labkit.scoreboard` scores a row)
and its costs.

What it leaves out: how a row is scored (`labkit.scoreboard`), the facts changing
(`labkit.freshness`), putting rows together into seeds and runs (`labkit.compare`).

Example: row_rag(setup, ccfg, row_closed_book(setup, ccfg))["accuracy"] -> 0.27
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.adapters import save_adapter
from labkit.compare_config import CompareConfig
from labkit.config import KB_DIR
from labkit.data import (
    READER_DIR,
    load_probe,
    reader_info,
    spread,
    taught_questions,
    unseen_documents,
    untaught_questions,
)
from labkit.finetune import Example, build_examples, make_config, train
from labkit.folder_index import index_folder
from labkit.keys import Approach
from labkit.multiple_choice import mc_items_from_probe
from labkit.perfect_retriever import PerfectRetriever
from labkit.rag import RAG, build_prompt, sources_from_hits
from labkit.reader import load_reader
from labkit.retrieval import VectorIndex
from labkit.scoreboard import probe_score, row_costs, score_closed_book, score_rag
from labkit.storage import dir_size

# saved for the playground (labkit.widgets)
ADAPTERS = {Approach.FINE_TUNED: "compare-fine-tuned", Approach.FINE_TUNED_DOCS: "compare-docs",
            Approach.RAFT_RAG: "compare-raft"}


@dataclass(frozen=True)
class Setup:
    """What every row of one run reads: built once (`make_setup`), never edited. The same for every seed.

    Example: make_setup(gen, embedder, *measure_index(embedder), default_compare_config(quick=True)).questions[0]["id"]
    """

    gen: object  # the base Generator
    embedder: object  # the sentence embedder
    index: VectorIndex  # the knowledge base's index, as built (never edited: the update goes into a copy)
    index_info: dict  # index_build_s, index_bytes, chunks, rebuilt
    questions: list  # the taught questions (data.taught_questions at the run's sizes)
    updates: list  # the fact changes of data/updates.jsonl the run applies
    probe: list  # the general probe's multiple-choice items (forgetting)
    untaught: list = ()  # questions asked, never taught: those touching an unseen document (data.untaught_questions)
    # a copy of the index with the updates applied (freshness.with_updated_index); None: none made
    updated: VectorIndex | None = None
    update_info: dict | None = None  # applying them: documents, seconds, per_document_s


def make_setup(gen, embedder, index: VectorIndex | None, index_info: dict, ccfg: CompareConfig) -> Setup:
    """The run's Setup: its questions, fact changes and probe items read once from the run's sizes.

    Example: len(make_setup(gen, embedder, index, info, default_compare_config(quick=True)).questions) -> 20
    """
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    probe = mc_items_from_probe(spread(load_probe(), ccfg.num_probe))
    return Setup(gen, embedder, index, index_info, questions, updates, probe, untaught_questions(ccfg.num_untaught))


def measure_index(embedder, rebuild: bool = True) -> tuple[VectorIndex, dict]:
    """Build the knowledge-base index from scratch (timed) and measure its size on disk.

    Example: index, info = measure_index(embedder); info
        -> {"index_build_s": 21.4, "index_bytes": 1480000, "chunks": 323}
    """
    start = time.perf_counter()
    index = index_folder(KB_DIR, embedder, cache=not rebuild, progress=True)
    build = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        size = dir_size(index.save(Path(tmp) / "kb"))
    return index, {"index_build_s": round(build, 2), "index_bytes": size, "chunks": len(index), "rebuilt": rebuild}


def fitting_reader(gen):
    """The base model with the shipped reading adapter, or None if it was trained on another base.
    Example: fitting_reader(gen).name."""
    try:
        return load_reader(gen)
    except (ValueError, FileNotFoundError):
        return None


# ---------------------------------------------------------------- pieces


def raft_examples(gen, index, questions: list[dict], top_k: int = 3) -> list[Example]:
    """Retrieval-aware training examples: the RAG prompt of the training wording, the fact and the gold source's number.

    Example: raft_examples(gen, index, qa[:1])[0].target -> "The Brimble Kettle costs $89 [1].<|im_end|>"
    The sources are what retrieval returns (distractors included); if no gold chunk is
    among them, the best gold chunk replaces the last source, so every example can be
    answered from one source, as at test time when retrieval works. No chunk of an unseen document
    (`data.unseen_documents`) is shown, so the untaught column stays untaught.
    """
    end = gen.end_of_turn()
    unseen = set(unseen_documents())  # no chunk of theirs, not even as a distractor: their facts stay untaught
    hits = index.search_many([q["question"] for q in questions], max(top_k, 12) + 4 * len(unseen))
    examples = []
    for q, h in zip(questions, hits, strict=True):
        h = [x for x in h if x.chunk.doc_id not in unseen]
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
        examples.append(Example(gen.chat_prompt(build_prompt(q["question"], sources)), f"{target}{end}", "raft",
                                q["id"]))
    return examples


def train_lora(gen, examples, ccfg: CompareConfig, seed: int, num_steps: int | None = None, **more):
    """A LoRA of the run's rank and learning rate on the examples (num_steps: the knowledge fine-tunes' unless given).

    Example: train_lora(setup.gen, build_examples(setup.gen, qs), ccfg, 0).train_s -> 41.2
    """
    train_config = make_config(rank=ccfg.rank, lr=ccfg.lr, num_steps=num_steps or ccfg.num_steps, seed=seed,
                      fact_statements=ccfg.fact_statements, **more)
    return train(gen, examples, train_config, progress=True)  # a bar with an ETA: trainings take minutes


def save_row_adapter(result, approach: str) -> int:
    """Save a row's adapter in the cache (the playground loads it) and return its size.
    Example: save_row_adapter(ft, "fine-tuned") -> 1843200."""
    return dir_size(save_adapter(result, ADAPTERS[approach], overwrite=True, meta={"made_by": "labkit.compare"}))


# ---------------------------------------------------------------- one function per row


def row_closed_book(setup: Setup, ccfg: CompareConfig) -> dict:
    """The base model with no sources. Example: row_closed_book(setup, ccfg)["accuracy"] -> 0.07."""
    return {**score_closed_book(setup.gen, setup.questions, setup.probe, ccfg.max_new_tokens, setup.untaught),
            **row_costs(setup.index_info, rag=False)}


def row_rag(setup: Setup, ccfg: CompareConfig, closed_book: dict, model=None) -> dict:
    """The base model reading the top_k sources; its probe score is the base model's (`closed_book`: the closed-book row
    or `probe_score`'s dict), since RAG leaves the weights alone. `model`: the base model as another object answers
    (`answer_memo.RememberingGenerator`), default setup.gen.

    Example: row_rag(setup, ccfg, row_closed_book(setup, ccfg))["cited_gold"] -> 0.78
    """
    rag = RAG(setup.index, model or setup.gen, ccfg.top_k, ccfg.max_new_tokens)
    return {**score_rag(rag, setup.questions, closed_book["general_acc"], closed_book["n_probe"], setup.untaught,
                         closed_book["probe_records"]), **row_costs(setup.index_info, rag=True)}


def row_reader(setup: Setup, ccfg: CompareConfig, reader) -> dict:
    """The shipped reading adapter (`fitting_reader`, data/reader) reading the top_k sources (no training, greedy).

    Example: row_reader(setup, ccfg, fitting_reader(setup.gen))["accuracy"] -> 0.56
    Its training cost is the shipped adapter's, paid once by `labkit train-reader` (on the training
    wordings of the questions of two thirds of the documents; these rows score the held-out paraphrases).
    """
    general = probe_score(reader, setup.probe)
    row = score_rag(RAG(setup.index, reader, ccfg.top_k, ccfg.max_new_tokens), setup.questions, general["general_acc"],
                    general["n_probe"], setup.untaught, general["probe_records"])
    return {**row,
            **row_costs(setup.index_info, rag=True, train_s=reader_info()["train_s"],
                        adapter_bytes=dir_size(READER_DIR))}


def row_perfect(setup: Setup, ccfg: CompareConfig, model, reading_row: dict) -> dict:
    """A model reading through the perfect retriever (a gold chunk always among the top_k sources): its reading ceiling.

    Example: row_perfect(setup, ccfg, setup.gen, rag_row)["accuracy"] -> 0.41
    `reading_row` is the same model's row with real retrieval: its probe score, costs and latency are this row's (a
    prompt it shares with the real row may be answered from memory: `answer_memo`).
    """
    perfect = PerfectRetriever(setup.index, [*setup.questions, *setup.untaught])
    row = score_rag(RAG(perfect, model, ccfg.top_k, ccfg.max_new_tokens), setup.questions, reading_row["general_acc"],
                    reading_row["n_probe"], setup.untaught, reading_row.get("probe_records"))
    return {**row, **{k: reading_row[k] for k in ("index_build_s", "index_bytes", "train_s", "adapter_bytes",
                                                  "latency_p50_s")}}


def rows_fine_tuned(setup: Setup, ccfg: CompareConfig, seed: int) -> tuple[dict, dict, object]:
    """LoRA on the questions and fact statements: the closed-book row, the + RAG row, and the TrainResult.

    Example: ft_row, with_rag, result = rows_fine_tuned(setup, ccfg, 0); ft_row["accuracy"] -> 0.46
    """
    ft = train_lora(setup.gen, build_examples(setup.gen, setup.questions, fact_statements=ccfg.fact_statements), ccfg,
                    seed)
    train_s, adapter = round(ft.train_s, 2), save_row_adapter(ft, Approach.FINE_TUNED)
    ft_row = {**score_closed_book(ft.gen, setup.questions, setup.probe, ccfg.max_new_tokens, setup.untaught),
              **row_costs(setup.index_info, rag=False, train_s=train_s, adapter_bytes=adapter)}
    with_rag = {**score_rag(RAG(setup.index, ft.gen, ccfg.top_k, ccfg.max_new_tokens), setup.questions,
                            ft_row["general_acc"], ft_row["n_probe"], setup.untaught, ft_row["probe_records"]),
                **row_costs(setup.index_info, rag=True, train_s=train_s, adapter_bytes=adapter)}
    return ft_row, with_rag, ft


def row_docs(setup: Setup, ccfg: CompareConfig, seed: int) -> dict:
    """Ovadia et al.'s unsupervised fine-tune: the documents' raw text, no questions, no fact statements.

    Example: row_docs(setup, ccfg, 0)["accuracy"] -> 0.05
    """
    examples = build_examples(setup.gen, setup.questions, fact_statements=0, include_qa=False, include_docs=True)
    docs = train_lora(setup.gen, examples, ccfg, seed, ccfg.num_docs_steps)
    return {**score_closed_book(docs.gen, setup.questions, setup.probe, ccfg.max_new_tokens, setup.untaught),
            **row_costs(setup.index_info, rag=False, train_s=round(docs.train_s, 2),
                        adapter_bytes=save_row_adapter(docs, Approach.FINE_TUNED_DOCS))}


def row_raft(setup: Setup, ccfg: CompareConfig, seed: int) -> tuple[dict, object]:
    """The retrieval-aware fine-tune, answering with RAG: its row and the TrainResult (freshness asks it again).

    Example: row, raft = row_raft(setup, ccfg, 0); row["accuracy"] -> 0.72
    """
    # max_len 640: the whole RAG prompt fits, so the target is never cut off
    raft = train_lora(setup.gen, raft_examples(setup.gen, setup.index, setup.questions, ccfg.top_k), ccfg, seed,
                      ccfg.num_raft_steps, batch_size=ccfg.raft_batch_size, max_len=640)
    general = probe_score(raft.gen, setup.probe)
    row = score_rag(RAG(setup.index, raft.gen, ccfg.top_k, ccfg.max_new_tokens), setup.questions,
                    general["general_acc"], general["n_probe"], setup.untaught, general["probe_records"])
    costs = row_costs(setup.index_info, rag=True, train_s=round(raft.train_s, 2),
                      adapter_bytes=save_row_adapter(raft, Approach.RAFT_RAG))
    return {**row, **costs}, raft
