"""Readers on question sets: every reader on every set, the same retrieval, scored by `reader.score_reader`.

What it holds: `evaluate_readers` (what `labkit train-reader` records in the adapter's labkit.json: held-out
documents, the kit's set, a foreign corpus) and `compare_readers` (every reader on every corpus as `labkit ask`
answers, each index built afresh and timed: benchmarks/bench_readers.py writes it to data/reader_comparison.json,
benchmarks/bench_reader_candidate.py decides which adapter ships with it), `format_evaluation` (a plain-text table).

What it leaves out: scoring one reader on one set (`labkit.reader.score_reader`), training and loading the adapter
(`labkit.reader`), the README's tables (`labkit.report`).

Example: compare_readers({"plain": gen}, embedder, {"debian-faqs": (folder, items)})["debian-faqs"]["readers"]["plain"][
    "right"] -> 24
"""

from __future__ import annotations

import time
from pathlib import Path

from labkit.data import FOREIGN_DIR, foreign_items
from labkit.folder_index import index_folder
from labkit.rag import RAG
from labkit.reader import kb_items, score_reader


def evaluate_readers(readers: dict, embedder, kb_index, held_out: list[dict], everything: list[dict] | None = None,
                     foreign: Path | None = FOREIGN_DIR, top_k: int = 3) -> dict:
    """Each reader (name -> Generator) on the same retrieval and questions: held-out documents, the kit's set, a foreign
    corpus.

    Example: evaluate_readers({"plain": gen, "reading adapter": tuned}, embedder, index, held)["held-out
        documents"]["plain"]["accuracy"]
    Returns {question set: {reader name: summarize_reader(...) without its records}}.
    """
    sets = {"held-out documents": (kb_index, kb_items(held_out))}
    if everything:
        sets["all questions"] = (kb_index, kb_items(everything))
    if foreign is not None:
        sets["foreign corpus"] = (index_folder(Path(foreign) / "docs", embedder, progress=False),
                                  foreign_items(foreign))
    out: dict = {}
    for set_name, (index, items) in sets.items():
        for name, reader in readers.items():
            summary = score_reader(RAG(index, reader, top_k=top_k, max_new_tokens=32), items)
            out.setdefault(set_name, {})[name] = {k: v for k, v in summary.items() if k != "records"}
    return out


def compare_readers(readers: dict, embedder, question_sets: dict, top_k: int = 3, log=print,
                    index_options: dict | None = None) -> dict:
    """Each reader on each question set as `labkit ask` answers (`quote_empty`), every index built afresh and timed.

    Example: compare_readers({"plain": gen}, embedder, {"debian-faqs": (folder, items)})["debian-faqs"]["readers"][
        "plain"]["gold_shown"]["rate"] -> 0.86
    readers: name -> Generator, or (Generator, more RAG options: {"extractive": True}, say).
    question_sets: name -> (folder of documents, items as score_reader takes them). Returns name -> {"documents",
    "chunks", "index_build_s", "questions", "readers": {reader: summarize_reader(...), records kept short}}.
    index_options: more index_folder arguments (the retriever `labkit ask` uses, say), the same for every set.
    """
    out = {}
    for set_name, (folder, items) in question_sets.items():
        start = time.perf_counter()
        index = index_folder(folder, embedder, cache=False, progress=False, **(index_options or {}))
        entry = {"documents": len(index.documents), "chunks": len(index.chunks),
                 "index_build_s": round(time.perf_counter() - start, 2), "questions": len(items), "readers": {}}
        for name, reader in readers.items():
            reader, options = reader if isinstance(reader, tuple) else (reader, {})
            summary = score_reader(RAG(index, reader, top_k=top_k, quote_empty=True, **options), items)
            summary["records"] = [{k: r[k] for k in ("id", "answer", "expected", "answerable", "match", "gold_shown",
                                                     "abstained", "answer_kind", "abstain_lead",
                                                     "term_share")}
                                  for r in summary["records"]]
            entry["readers"][name] = summary
            log(f"{set_name:<22} {name:<16} {_line(summary)}")
        out[set_name] = entry
    return out


def _line(s: dict) -> str:
    low, high = s["accuracy_95"]
    right = (f"right {s['right']}/{s['n']} = {s['accuracy']:.2f} [{low:.2f}, {high:.2f}]" if s["accuracy"] is not None
             else f"no answerable question; abstains {fraction(s['abstain_unanswerable'])}")
    return (f"{right}; gold passage shown "
            f"{fraction(s['gold_shown'])}; abstains with it shown {fraction(s['abstain_gold_shown'])}; quotes "
            f"{fraction(s['quotes'])}; empty {fraction(s['empty'])}; p50 {s['answer_p50_s']:.2f} s")


def format_evaluation(evaluation: dict) -> str:
    """A plain-text table of evaluate_readers' result. Example: print(format_evaluation(ev))."""
    lines = [f"{'question set':<20} {'reader':<16} {'accuracy [95% CI]':<24} {'n':>4} {'abstain (gold found)':>21} "
             f"{'abstain (no answer)':>20} {'empty':>6} {'p50 s':>6}"]
    for set_name, readers in evaluation.items():
        for name, s in readers.items():
            low, high = s["accuracy_95"]
            gold, none = s["abstain_gold_found"], s["abstain_no_answer"]
            lines.append(f"{set_name:<20} {name:<16} {s['accuracy']:.2f} [{low:.2f}, {high:.2f}]{'':<10} {s['n']:>4} "
                         f"{fraction(gold):>21} {fraction(none):>20} {s['empty']['rate']:>6.2f} "
                         f"{s['answer_p50_s']:>6.2f}")
    return "\n".join(lines)


def fraction(rate: dict) -> str:
    """A rate as hits/n. Example: fraction({"hits": 3, "n": 29, ...}) -> "3/29"; "-" where n is 0."""
    return f"{rate['hits']}/{rate['n']}" if rate["n"] else "-"
