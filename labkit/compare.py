"""The side-by-side experiment: one model, one knowledge base, every approach on one scoreboard.

What it holds:
- `CompareConfig` / `default_compare_config`: the sizes of a run (questions, steps, seeds);
  quick mode is one seed, 12 questions (15 with the updated facts' questions) and a few steps.
- One small function per scoreboard row, each scored on the held-out paraphrases of the
  same taught questions: `row_closed_book`, `row_rag`, `rows_fine_tuned` (LoRA on the
  questions and fact statements, closed-book and + RAG), `row_docs` (LoRA on the
  documents' raw text alone: the "unsupervised" fine-tune of Ovadia et al. 2023),
  `row_raft` (a RAFT-style retrieval-aware fine-tune trained on `rag.build_prompt` prompts
  of retrieved chunks, distractors included, answering with the fact and the number of the
  gold source), and `freshness` (data/updates.jsonl: RAG after an incremental index
  update, the fine-tuned model as it is (stale) and retrained on the updated facts, timed, and
  the RAFT model reading the updated index).
- `run_seed` runs them for one seed over a `Shared` state (models, index, and the rows that
  need no training, computed once), one training at a time (`run_piece`: fine-tuned, docs,
  RAFT); `run_experiment` runs it all (serially, or with `run_parallel` every seed's pieces
  and the behaviour task in worker processes side by side, longest first), plus the
  behaviour task (`behaviour.run_behaviour`) and the cost projection (`costs.project` on the
  measured training speed); `labkit.scoreboard` turns the seed runs into means, spreads and intervals.

What it leaves out: Markdown, charts and the cached latest results (`labkit.report`), the
decision guide (`labkit.choose`), the `labkit compare` command (`labkit.cli`), full
fine-tuning (LoRA only here; notebook 05 has full), and multiple-choice scoring for the RAG
rows: MC measures what the model *stores*; with sources in the prompt it would measure
reading, which the open-answer accuracy already does, so those cells are n/a.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit.adapters import save_adapter
from labkit.behaviour import run_behaviour
from labkit.compare_config import CompareConfig, default_compare_config
from labkit.config import KB_DIR, get_config, set_seed
from labkit.costs import format_seconds, project
from labkit.data import load_probe, needs_two_documents, spread, taught_questions, updated_questions
from labkit.evaluate import (
    heldout_questions,
    mc_accuracy,
    mc_items_from_probe,
    mc_items_from_qa,
    miss_split,
    score_answers,
    share_new,
)
from labkit.finetune import Example, build_examples, make_config, train
from labkit.hybrid import run_hybrid
from labkit.models import load_embedder, load_generator, resolve_precision
from labkit.rag import RAG, build_prompt, clean_answer, evaluate_closed_book, evaluate_rag, sources_from_hits
from labkit.reader import READER_DIR, load_reader, reader_info
from labkit.retrieval import VectorIndex, apply_updates, index_folder
from labkit.scoreboard import APPROACHES as APPROACHES  # re-exported: the rows a run can have
from labkit.scoreboard import aggregate, differences
from labkit.storage import dir_size
from labkit.workers import run_tasks, threads_per_worker

ADAPTERS = {"fine-tuned": "compare-fine-tuned", "fine-tuned (docs)": "compare-docs", "RAFT + RAG": "compare-raft"}  # saved for the playground


# ---------------------------------------------------------------- shared state


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


def _train(gen, examples, ccfg: CompareConfig, seed: int, num_steps: int | None = None, **more):
    cfg = make_config(rank=ccfg.rank, lr=ccfg.lr, num_steps=num_steps or ccfg.num_steps, seed=seed,
                      fact_statements=ccfg.fact_statements, **more)
    return train(gen, examples, cfg, progress=True)  # a bar with an ETA: trainings take minutes


def _adapter_bytes(result, approach: str) -> int:
    """Save the adapter in the cache (the playground loads it) and return its size."""
    return dir_size(save_adapter(result, ADAPTERS[approach], overwrite=True, meta={"made_by": "labkit.compare"}))


def _costs(shared: Shared, rag: bool, train_s: float = 0.0, adapter_bytes: int = 0) -> dict:
    """A row's one-off costs: the index (RAG rows only) and the training."""
    info = shared.index_info
    return {"index_build_s": info["index_build_s"] if rag else 0.0, "index_bytes": info["index_bytes"] if rag else 0,
            "train_s": train_s, "adapter_bytes": adapter_bytes}


# ---------------------------------------------------------------- one function per row


def row_closed_book(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe) -> dict:
    """The base model with no sources (computed once per run). Example: row_closed_book(shared, qs, cfg, probe)["accuracy"] -> 0.07."""
    if "closed-book" not in shared.untrained:
        shared.untrained["closed-book"] = {**score_closed_book(shared.gen, questions, ccfg, probe), **_costs(shared, rag=False)}
    return shared.untrained["closed-book"]


def row_rag(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe) -> dict:
    """The base model reading the top_k sources (computed once per run). Example: row_rag(shared, qs, cfg, probe)["cited_gold"] -> 0.78."""
    if "RAG" not in shared.untrained:
        base = row_closed_book(shared, questions, ccfg, probe)
        rag = RAG(shared.index, shared.gen, ccfg.top_k, ccfg.max_new_tokens)
        shared.untrained["RAG"] = {**score_rag(rag, questions, base["general_acc"], base["n_probe"]), **_costs(shared, rag=True)}
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
            shared.untrained["reading adapter + RAG"] = {**row, **_costs(shared, rag=True, train_s=info["train_s"], adapter_bytes=dir_size(READER_DIR))}
    return shared.untrained["reading adapter + RAG"]


def rows_fine_tuned(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe, seed: int) -> tuple[dict, dict, object]:
    """LoRA on the questions and fact statements: the closed-book row, the + RAG row, and the TrainResult.

    Example: ft_row, hybrid_row, result = rows_fine_tuned(shared, qs, cfg, probe, 0); ft_row["accuracy"] -> 0.46
    """
    ft = _train(shared.gen, build_examples(shared.gen, questions, fact_statements=ccfg.fact_statements), ccfg, seed)
    train_s, adapter = round(ft.train_s, 2), _adapter_bytes(ft, "fine-tuned")
    ft_row = {**score_closed_book(ft.gen, questions, ccfg, probe), **_costs(shared, rag=False, train_s=train_s, adapter_bytes=adapter)}
    hybrid = {**score_rag(RAG(shared.index, ft.gen, ccfg.top_k, ccfg.max_new_tokens), questions, ft_row["general_acc"], ft_row["n_probe"]),
              **_costs(shared, rag=True, train_s=train_s, adapter_bytes=adapter)}
    return ft_row, hybrid, ft


def row_docs(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe, seed: int) -> dict:
    """Ovadia et al.'s unsupervised fine-tune: the documents' raw text, no questions, no fact statements.

    Example: row_docs(shared, qs, cfg, probe, 0)["accuracy"] -> 0.05
    """
    examples = build_examples(shared.gen, questions, fact_statements=0, include_qa=False, include_docs=True)
    docs = _train(shared.gen, examples, ccfg, seed, ccfg.docs_steps)
    return {**score_closed_book(docs.gen, questions, ccfg, probe),
            **_costs(shared, rag=False, train_s=round(docs.train_s, 2), adapter_bytes=_adapter_bytes(docs, "fine-tuned (docs)"))}


def row_raft(shared: Shared, questions: list[dict], ccfg: CompareConfig, probe, seed: int) -> tuple[dict, object]:
    """The retrieval-aware fine-tune, answering with RAG: its row and the TrainResult (freshness asks it again).

    Example: row, raft = row_raft(shared, qs, cfg, probe, 0); row["accuracy"] -> 0.72
    """
    # max_len 640: the whole RAG prompt fits, so the target is never cut off
    raft = _train(shared.gen, raft_examples(shared.gen, shared.index, questions, ccfg.top_k), ccfg, seed, ccfg.raft_steps,
                  batch_size=ccfg.raft_batch_size, max_len=640)
    row = score_rag(RAG(shared.index, raft.gen, ccfg.top_k, ccfg.max_new_tokens), questions, round(mc_accuracy(raft.gen, probe), 4), len(probe))
    return {**row, **_costs(shared, rag=True, train_s=round(raft.train_s, 2), adapter_bytes=_adapter_bytes(raft, "RAFT + RAG"))}, raft


def changed_questions(questions: list[dict], updates: list[dict]) -> tuple[dict, list[dict], list[str]]:
    """The facts' new values by question id, the held-out questions about them (records) and their texts.

    Example: new_answers, asked, texts = changed_questions(qs, load_updates()); texts[0] -> "How much is the Brimble Kettle?"
    """
    new_answers = {qid: a for u in updates for qid, a in u["new_answers"].items()}
    asked = heldout_questions([q for q in questions if q["id"] in new_answers])
    return new_answers, asked, [it["asked"] for it in asked]


def updated_index(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig):
    """The facts' new values, the held-out questions about them (records and texts), a fresh copy of the index with
    the updates applied, and the update's timing (made once per process: readers never edit it).

    Example: new_answers, asked, texts, index, update = updated_index(shared, qs, updates, cfg); update["seconds"] -> 2.3
    """
    new_answers, asked, texts = changed_questions(questions, updates)
    key = tuple(u["id"] for u in updates)
    if key not in shared._updated:  # freshness and raft_freshness (every seed) read the same updated copy: built once
        fresh_index = shared.pristine_index()
        shared._updated[key] = (fresh_index, apply_updates(fresh_index, updates))
    fresh_index, update = shared._updated[key]
    return new_answers, asked, texts, fresh_index, update


def untrained_after_update(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig) -> None:
    """The untrained models' answers on the updated index (RAG, and the reading adapter if the run has its row), into
    `shared.untrained`: greedy and untrained, so the same for every seed; `join_pieces` puts their figures beside
    each seed's freshness figures. Example: untrained_after_update(shared, qs, updates, cfg); shared.untrained["RAG after update"][0]
    """
    if "RAG after update" in shared.untrained:
        return
    _, _, texts, fresh_index, _ = updated_index(shared, questions, updates, ccfg)
    if "reading adapter + RAG" in ccfg.approaches:
        reader = shared.reader()
        shared.untrained["reading adapter + RAG after update"] = (
            [a.answer for a in RAG(fresh_index, reader, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)] if reader else None)
    shared.untrained["RAG after update"] = [a.answer for a in RAG(fresh_index, shared.gen, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)]


def freshness(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig, tuned, seed: int) -> dict:
    """After the facts change: the fine-tune as it is (stale), + RAG on an updated index, and its adapter trained further
    on the changed facts ("retrained": retrain_steps steps, from the fine-tuned adapter, not from scratch). The untrained
    models' figures (`untrained_after_update`) and the RAFT model's (`raft_freshness`) join them in `join_pieces`.

    Example: freshness(shared, qs, updates, cfg, ft.gen, 0)["fine-tuned (stale)"] -> {"new": 0.0, "old": 0.65}
    """
    new_answers, asked, texts, fresh_index, update = updated_index(shared, questions, updates, ccfg)
    hybrid = [a.answer for a in RAG(fresh_index, tuned, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)]
    stale = [clean_answer(a) for a in tuned.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
    # a team keeps its adapter and trains it on what changed, replaying as many unchanged facts so the rest is not forgotten
    changed = updated_questions([q for q in questions if q["id"] in new_answers], updates)
    kept = [q for q in questions if q["id"] not in new_answers]
    replayed = kept[:: max(1, len(kept) // max(1, len(changed)))][: len(changed)]
    retrained = _train(tuned, build_examples(shared.gen, changed + replayed, fact_statements=ccfg.fact_statements), ccfg, seed, ccfg.retrain_steps)
    redone = [clean_answer(a) for a in retrained.gen.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
    kept_items = heldout_questions(kept)
    kept_texts = [it["asked"] for it in kept_items]
    kept_before, kept_after = ([clean_answer(a) for a in g.generate(kept_texts, max_new_tokens=ccfg.max_new_tokens)] for g in (tuned, retrained.gen))
    return {"n_updates": len(updates), "n_questions": len(asked),
            "update_s": update["seconds"], "update_per_document_s": update["per_document_s"],
            "retrain_s": round(retrained.train_s, 2), "retrain_steps": ccfg.retrain_steps, "n_kept": len(kept_items),
            # the unchanged facts, before and after the update training: what the update cost the rest
            "kept_acc_before": _share_right(kept_before, kept_items), "kept_acc_after": _share_right(kept_after, kept_items),
            "fine-tuned + RAG after update": share_new(hybrid, asked, new_answers),
            "fine-tuned (stale)": share_new(stale, asked, new_answers),
            "fine-tuned retrained": share_new(redone, asked, new_answers),
            "records": [{"question": t, "new": new_answers[it["qa_id"]], "old": it["answer"], "fine-tuned (stale)": s_, "fine-tuned retrained": r}
                        for t, it, s_, r in zip(texts, asked, stale, redone, strict=True)]}


def join_freshness(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig, fresh: dict,
                   raft_fresh: dict | None) -> dict:
    """One seed's freshness figures: the fine-tune's (`freshness`), the untrained models' and the RAFT model's, in one
    dict (RAG first, records last; the parts stay as they were). Example: join_freshness(shared, qs, ups, cfg, f, r)["RAG after update"]
    """
    new_answers, asked, _ = changed_questions(questions, updates)
    untrained_after_update(shared, questions, updates, ccfg)
    after, reader = shared.untrained["RAG after update"], shared.untrained.get("reading adapter + RAG after update")
    tuned = ("fine-tuned + RAG after update", "fine-tuned (stale)", "fine-tuned retrained")
    return {**{k: v for k, v in fresh.items() if k not in tuned and k != "records"}, "RAG after update": share_new(after, asked, new_answers),
            **{k: fresh[k] for k in tuned},
            **({"reading adapter + RAG after update": share_new(reader, asked, new_answers)} if reader else {}),
            **({"RAFT + RAG after update": raft_fresh} if raft_fresh is not None else {}),
            "records": [{**{k: r[k] for k in ("question", "new", "old")}, "RAG after update": a, **{k: v for k, v in r.items() if k not in ("question", "new", "old")}}
                        for r, a in zip(fresh["records"], after, strict=True)]}


def raft_freshness(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig, raft) -> dict:
    """The RAFT model reading the updated index: the share of answers about changed facts that give the new value.

    Example: raft_freshness(shared, qs, updates, cfg, raft.gen) -> {"new": 0.68, "old": 0.04}
    """
    new_answers, asked, texts, fresh_index, _ = updated_index(shared, questions, updates, ccfg)
    return share_new([a.answer for a in RAG(fresh_index, raft, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)], asked, new_answers)


def _share_right(answers: list[str], items: list[dict]) -> float:
    return round(sum(r["match"] for r in score_answers(items, answers)) / max(1, len(items)), 4)


# ---------------------------------------------------------------- one seed, every seed


PIECES = ("fine-tuned", "docs", "RAFT")  # a seed's trainings: none needs another's model, so a parallel run spreads them over workers


def run_piece(shared: Shared, ccfg: CompareConfig, seed: int, piece: str, log=print) -> dict:
    """One training of a seed and everything scored with its model: rows, and its part of the freshness figures.

    Example: run_piece(shared, cfg, 0, "docs")["rows"]["fine-tuned (docs)"]["accuracy"] -> 0.09
    "fine-tuned": the fine-tuned and fine-tuned + RAG rows and the freshness figures (its adapter, stale and
    retrained); "docs": the documents-only row; "RAFT": its row and its answers on the updated index. Every
    training seeds itself, so a piece gives the same answers whichever runs first.
    """
    if piece not in PIECES:
        raise ValueError(f"unknown piece {piece!r}: use one of {', '.join(PIECES)}")
    set_seed(seed)
    approaches = set(ccfg.approaches)
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    probe = mc_items_from_probe(spread(load_probe(), ccfg.num_probe))
    out, t0 = {"rows": {}}, time.perf_counter()
    fresh_too = _fresh_too(ccfg, updates)  # freshness compares against the fine-tune

    def note(what):
        log(f"  seed {seed}: {what} ({time.perf_counter() - t0:.0f} s)")

    if piece == "fine-tuned" and {"fine-tuned", "fine-tuned + RAG"} & approaches:
        ft_row, hybrid_row, ft = rows_fine_tuned(shared, questions, ccfg, probe, seed)
        out.update(train_tokens=ft.tokens, train_tokens_per_s=round(ft.tokens / max(1e-9, ft.train_s), 1),
                   trainable_params=ft.trainable_params, total_params=ft.total_params, train_precision=ft.precision)
        for name, row in (("fine-tuned", ft_row), ("fine-tuned + RAG", hybrid_row)):
            if name in approaches:
                out["rows"][name] = row
                note(f"{name} accuracy {row['accuracy']}" + (f" after {row['train_s']} s training" if name == "fine-tuned" else ""))
        if fresh_too:
            out["freshness"] = fresh = freshness(shared, questions, updates, ccfg, ft.gen, seed)
            note(f"freshness: stale {fresh['fine-tuned (stale)']['new']}, retrained {fresh['fine-tuned retrained']['new']}")
    elif piece == "docs" and "fine-tuned (docs)" in approaches:
        out["rows"]["fine-tuned (docs)"] = row = row_docs(shared, questions, ccfg, probe, seed)
        note(f"fine-tuned (docs) accuracy {row['accuracy']}")
    elif piece == "RAFT" and "RAFT + RAG" in approaches:
        out["rows"]["RAFT + RAG"], raft = row_raft(shared, questions, ccfg, probe, seed)
        note(f"RAFT + RAG accuracy {out['rows']['RAFT + RAG']['accuracy']}")
        if fresh_too:
            out["raft_freshness"] = raft_freshness(shared, questions, updates, ccfg, raft.gen)
    return out


def untrained_rows(shared: Shared, ccfg: CompareConfig, log=print) -> dict:
    """The rows that need no training (closed-book, RAG, the shipped reading adapter), computed on first call, then reused,
    and the same models' answers after the facts change (`untrained_after_update`) where the run has freshness figures.

    Example: untrained_rows(shared, cfg)["RAG"]["accuracy"] -> 0.25
    They decode greedily, so every seed would give the same answers (spread 0); recomputing them
    cost a third of a full-mode seed.
    """
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    probe = mc_items_from_probe(spread(load_probe(), ccfg.num_probe))
    approaches, rows = set(ccfg.approaches), {}
    if "closed-book" in approaches:
        rows["closed-book"] = row_closed_book(shared, questions, ccfg, probe)
    if "RAG" in approaches:
        rows["RAG"] = row_rag(shared, questions, ccfg, probe)
    if "reading adapter + RAG" in approaches and (row := row_reader(shared, questions, ccfg, probe, log)) is not None:
        rows["reading adapter + RAG"] = row
    if _fresh_too(ccfg, updates):
        untrained_after_update(shared, questions, updates, ccfg)
    return rows


def _fresh_too(ccfg: CompareConfig, updates: list[dict]) -> bool:
    """Whether a run has freshness figures: facts change, and a fine-tune is there to go stale."""
    return bool(updates) and bool({"fine-tuned", "fine-tuned + RAG"} & set(ccfg.approaches))


def join_pieces(shared: Shared, ccfg: CompareConfig, seed: int, parts: list[dict], log=print) -> dict:
    """One seed's result from its pieces (`run_piece`) and the untrained rows: rows in `ccfg.approaches` order, freshness.

    Example: join_pieces(shared, cfg, 0, [run_piece(shared, cfg, 0, p) for p in PIECES])["rows"].keys()
    """
    rows = untrained_rows(shared, ccfg, log)
    extra, fresh, raft_fresh = {}, None, None
    for part in parts:
        rows.update(part["rows"])
        fresh = part.get("freshness", fresh)
        raft_fresh = part.get("raft_freshness", raft_fresh)
        extra.update({k: v for k, v in part.items() if k not in ("rows", "freshness", "raft_freshness")})
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    if fresh is not None:
        fresh = join_freshness(shared, questions, updates, ccfg, fresh, raft_fresh)
    return {"rows": {a: rows[a] for a in ccfg.approaches if a in rows}, "freshness": fresh,
            "seed": seed, "n_questions": len(questions), **extra}


def run_seed(shared: Shared, ccfg: CompareConfig, seed: int, log=print) -> dict:
    """One seed of the experiment: a row per approach in `ccfg.approaches`, and the freshness figures.

    Example: run_seed(shared, default_compare_config(quick=True), 0)["rows"]["RAG"]["accuracy"] -> 0.33
    The untrained rows come from `shared.untrained` after the first seed (`untrained_rows`); each
    training is a piece (`run_piece`), run here one after another.
    """
    t0 = time.perf_counter()
    reused = "closed-book" in shared.untrained
    for name, row in untrained_rows(shared, ccfg, log).items():
        log(f"  seed {seed}: {name} accuracy {row['accuracy']} ({time.perf_counter() - t0:.0f} s)" + (" (reused: no training, greedy)" if reused else ""))
    return join_pieces(shared, ccfg, seed, [run_piece(shared, ccfg, seed, piece, log) for piece in PIECES], log)


def behaviour_task(shared: Shared, ccfg: CompareConfig, seed: int) -> dict:
    """The behaviour experiment (zero-shot, few-shot, LoRA on triage) and, with its LoRA, the seeds' hybrid (labkit.hybrid).

    Example: behaviour_task(shared, cfg, 0)["hybrid"]["after"]["behaviour LoRA + RAG"]["fact_accuracy"] -> 0.64
    """
    def hybrid(lora_gen):
        return run_hybrid(shared.gen, lora_gen, shared.embedder, shared.index, ccfg.hybrid_messages, ccfg.top_k)

    return run_behaviour(shared.gen, shared.embedder, ccfg.behaviour_num_test, ccfg.behaviour_steps, ccfg.rank, ccfg.lr, seed,
                         then=hybrid if ccfg.hybrid_messages != 0 else None)


def cost_projection(tokens_per_s: float, total_params: float, train_tokens: float) -> list[dict]:
    """costs.project on the measured training speed, as rows of a table (estimates). Example: cost_projection(900, 135e6, 1e5)[0]["model"] -> "SmolLM2-135M"."""
    return [{"model": p.model, "device": p.device, "train": format_seconds(p.train_s), "train_s": p.train_s,
             "per_answer": format_seconds(p.seconds_per_answer), "assumption": p.assumption}
            for p in project(tokens_per_s, total_params, train_tokens, method="lora")]


def _strip(rows: dict) -> dict:
    return {a: {k: v for k, v in r.items() if k != "records"} for a, r in rows.items()}


_WORKER_STATE: dict = {}  # per worker process: the models and index, loaded by its first task, reused by the next


def _in_worker(kind: str, ccfg: CompareConfig, seed: int, generator: str, shared_state: tuple):
    """One task of a parallel run, in a worker process (`labkit.workers`): a piece of a seed (`run_piece`), the
    behaviour experiment, or the untrained rows (returned as `shared.untrained`, which the parent adopts)."""
    pristine, index_info = shared_state
    if _WORKER_STATE.get("key") != (generator, pristine):
        gen, embedder = load_generator(generator), load_embedder()
        _WORKER_STATE.update(key=(generator, pristine), shared=Shared(gen, embedder, VectorIndex.load(pristine, embedder), index_info, {}, pristine))
    shared = _WORKER_STATE["shared"]
    if kind == "behaviour":
        return behaviour_task(shared, ccfg, seed)
    if kind == "untrained":
        untrained_rows(shared, ccfg, log=lambda s: print(s, flush=True))
        return shared.untrained
    return run_piece(shared, ccfg, seed, kind, log=lambda s: print(s, flush=True))


# longest first, so the last task to start is a short one and no worker idles long at the end; one full-size seed on
# 1 thread (make report's log): behaviour ~460 s, RAFT ~270 s, fine-tuned with freshness ~235 s, docs ~150 s; the
# untrained rows (closed-book, RAG, reading adapter, and their answers after the update) are about as long as docs
_LONGEST_FIRST = ("behaviour", "RAFT", "fine-tuned", "docs", "untrained")


def parallel_tasks(shared: Shared, ccfg: CompareConfig, behaviour: bool) -> list[tuple]:
    """The tasks of a parallel run, longest first: every seed's pieces, the untrained rows unless this process has them
    already (a serial seed ran first), and the behaviour experiment. Saves the index every worker loads.

    Example: [t[0] for t in parallel_tasks(shared, cfg, True)] -> ["behaviour", "RAFT", "fine-tuned", "docs", "untrained"]
    """
    shared.pristine_index()  # saved once; every worker loads it
    state = (shared.pristine, shared.index_info)
    tasks = [(piece, ccfg, seed, shared.gen.name, state) for seed in ccfg.seeds for piece in PIECES]
    if not shared.untrained:
        tasks.append(("untrained", ccfg, ccfg.seeds[0], shared.gen.name, state))
    if behaviour:
        tasks.append(("behaviour", ccfg, ccfg.seeds[0], shared.gen.name, state))
    return sorted(tasks, key=lambda t: _LONGEST_FIRST.index(t[0]))  # stable: seeds stay in order within a kind


def run_parallel(shared: Shared, ccfg: CompareConfig, workers: int, behaviour: bool, log=print) -> tuple[list[dict], dict | None]:
    """Every seed's pieces (`run_piece`), the untrained rows and the behaviour experiment on `workers` processes of
    cores // workers threads each.

    Example: seed_runs, behaviour_result = run_parallel(shared, cfg, 2, True)
    Each worker loads the same saved index. Tasks are a seed's separate trainings, the untrained
    rows (once for every seed, as a serial run reuses them after its first seed) and the behaviour
    task, longest first, so the workers stay busy to the end whatever the number of seeds and
    workers. (Whole seeds balanced only by luck: at make report's 3 seeds + behaviour on 2 workers
    they did, and the split ran as long, 1468 s against 1479 s; with 2 seeds the behaviour task
    alone would have kept one worker for its whole length.) The untrained rows run in a worker,
    not here before the pool, because two one-thread workers do more work per second than one
    process on two threads (small kernels scale badly across threads).
    Answers can differ from a serial run in rare cases: fewer threads add up floats in another order.
    Workers' progress bars are off (two processes would draw over each other); each row logs a line.
    """
    tasks = parallel_tasks(shared, ccfg, behaviour)
    log(f"{len(tasks)} tasks on {workers} worker processes of {threads_per_worker(workers)} thread(s) each")
    done = dict(zip([(t[0], t[2]) for t in tasks], run_tasks(_in_worker, tasks, workers), strict=True))
    shared.untrained = {**done.get(("untrained", ccfg.seeds[0]), {}), **shared.untrained}  # what was here already stays
    seed_runs = [join_pieces(shared, ccfg, seed, [done[(piece, seed)] for piece in PIECES], log) for seed in ccfg.seeds]
    return seed_runs, (done[("behaviour", ccfg.seeds[0])] if behaviour else None)


def run_experiment(ccfg: CompareConfig | None = None, gen=None, embedder=None, behaviour: bool = True, log=print, workers: int = 1) -> dict:
    """Every seed, the aggregate scoreboard, the behaviour task and the cost projection, as one JSON-ready dict.

    Example: run_experiment(default_compare_config(quick=True))["scoreboard"]["RAG"]["accuracy"]["mean"] -> 0.33
    workers > 1 runs the seeds and the behaviour experiment side by side in processes (`run_parallel`).
    """
    ccfg = ccfg or default_compare_config()
    t0 = time.perf_counter()
    gen, embedder = gen or load_generator(), embedder or load_embedder()
    index, index_info = measure_index(embedder, ccfg.rebuild_index)
    log(f"index: {index_info['chunks']} chunks built in {index_info['index_build_s']} s")
    shared = Shared(gen, embedder, index, index_info)
    behaviour_result = None
    if workers > 1 and len(ccfg.seeds) + behaviour > 1:
        seed_runs, behaviour_result = run_parallel(shared, ccfg, workers, behaviour, log)
    else:
        seed_runs = [run_seed(shared, ccfg, seed, log=log) for seed in ccfg.seeds]
    out = {"config": asdict(ccfg), "quick": get_config().quick, "index": index_info, **aggregate(seed_runs),
           "differences": differences(seed_runs),
           "seeds": [{k: v for k, v in r.items() if k != "rows"} | {"rows": _strip(r["rows"])} for r in seed_runs]}
    tps = [r["train_tokens_per_s"] for r in seed_runs if r.get("train_tokens_per_s")]
    if tps:
        first = seed_runs[0]
        out["train_tokens_per_s"] = round(sum(tps) / len(tps), 1)
        out["train_precision"] = first["train_precision"]
        out["cost_projection"] = {"train_tokens": first["train_tokens"], "total_params": first["total_params"],
                                  "rows": cost_projection(out["train_tokens_per_s"], first["total_params"], first["train_tokens"])}
    if behaviour:
        out["behaviour"] = behaviour_result or behaviour_task(shared, ccfg, ccfg.seeds[0])
        log("behaviour: " + ", ".join(f"{k} {out['behaviour'][k]['label_accuracy']}" for k in ("zero_shot", "few_shot", "lora")))
    out["answer_precision"] = resolve_precision(gen.precision, next(gen.model.parameters()).device.type)  # Generator.inference's matmuls
    out["workers"] = workers
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out
