"""The capstone: a folder of your own documents and five questions about it, answered as `labkit ask --docs` answers
them, with the plain model and with the reading adapter, scored with the kit's matcher, every miss named retrieval's
or reading's.

What it holds: `check_questions` (your questions checked whole, against your folder, before any model loads),
`run_capstone` (the folder indexed as `ask --docs` indexes it, cached; both readers on the same sources;
`reader.score_reader`'s records, each miss's cause), and `capstone_markdown` (rates with n and intervals, then every
question with both answers).

What it leaves out: the `ask` command (`labkit.ask`, which answers one question the same way), the notebook's
exercises about the run (`labkit.exercises`), and judging a folder's documents (`labkit.documents` reads what it can
and says what it skipped).

Example: run_capstone("data/foreign/playwright-cli/docs", [{"question": "...", "answer": "Pixel 10",
    "doc": "SKILL.md"}, ...])["readers"]["plain"]["accuracy"] -> 0.4
"""

from __future__ import annotations

from pathlib import Path

from labkit.ask import ASK_RETRIEVER, reading_options
from labkit.data import FOREIGN_DIR
from labkit.evaluate import miss_split
from labkit.question_check import check_question
from labkit.rag import RAG
from labkit.reader import reader_for, score_reader
from labkit.stats import rate_table

MIN_QUESTIONS, MAX_QUESTIONS = 5, 50  # five asked of a learner; more only make the run longer
EXAMPLE_FOLDER = FOREIGN_DIR / "docs"  # the notebook's example: documentation nobody here wrote
READERS = ("plain", "reading adapter")


def check_questions(questions, folder) -> list[dict]:
    """Your questions as scoring items, every problem found at once (nothing runs until all are right).

    Example: check_questions([{"question": "Which flag?", "answer": "--boxes", "doc": "SKILL.md"}] * 5, folder)[0]
        -> {"id": "yours-1", "asked": "Which flag?", "answer": "--boxes", "aliases": [], "doc_ids": ["SKILL"]}
    Each question is a dict: "question", "answer" (words its document states), "doc" (the file, inside the folder,
    that states it), optionally "aliases" (other accepted wordings).
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"{folder} is not a folder: point FOLDER at the folder that holds your documents.")
    root = root.resolve()
    if isinstance(questions, (str, bytes, dict)) or not hasattr(questions, "__len__"):
        raise ValueError("QUESTIONS is a list of dicts, one per question (see the example in the cell).")
    if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
        raise ValueError(f"give {MIN_QUESTIONS} to {MAX_QUESTIONS} questions (got {len(questions)}).")
    problems, items = [], []
    for i, q in enumerate(questions, 1):
        if not isinstance(q, dict):
            problems.append(f"question {i} is not a dict with question, answer and doc")
            continue
        try:
            asked = check_question(q.get("question"), "its question is empty")
        except ValueError as exc:
            problems.append(f"question {i}: {exc}")
            asked = ""
        answer, aliases, doc = q.get("answer"), q.get("aliases", []), q.get("doc")
        if not isinstance(answer, str) or not answer.strip():
            problems.append(f"question {i}: its answer is empty (the words its document states)")
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            problems.append(f"question {i}: aliases is a list of other accepted wordings")
        path = (root / doc).resolve() if isinstance(doc, str) and doc.strip() else None
        if path is None:
            problems.append(f"question {i}: name the file that holds its answer (doc)")
        elif not path.is_relative_to(root) or not path.is_file():
            problems.append(f"question {i}: {doc!r} is not a file inside {folder}")
        if asked and path is not None and path.is_relative_to(root):
            items.append({"id": f"yours-{i}", "asked": asked.strip(), "answer": str(answer).strip(),
                          "aliases": list(aliases) if isinstance(aliases, list) else [],
                          "doc_ids": [path.relative_to(root).with_suffix("").as_posix()]})
    if problems:
        raise ValueError("fix these, then run the cell again:\n- " + "\n- ".join(problems))
    return items


def run_capstone(folder, questions, gen=None, embedder=None, top_k: int = 3, max_new_tokens: int = 48) -> dict:
    """Your questions answered from your folder by both readers, as `labkit ask --docs FOLDER` answers (its retriever,
    top_k sources, the index cached, the reading adapter merged and copying its answers from the sources, a quote where
    a model wrote nothing usable), each scored with the kit's matcher and each miss split into retrieval's and
    reading's.

    Example: run_capstone(folder, questions)["readers"]["reading adapter"]["misses"]
        -> {"retrieval": ["yours-4"], "reading": ["yours-2"]}
    """
    from labkit.folder_index import index_folder
    from labkit.models import load_embedder, load_generator

    items = check_questions(questions, folder)
    index = index_folder(folder, embedder or load_embedder(), progress=False, retriever=ASK_RETRIEVER)
    unread = sorted({it["doc_ids"][0] for it in items} - set(index.documents))
    if unread:
        skipped = {Path(s["path"]).with_suffix("").as_posix(): s["reason"] for s in (index.report or {}).get("skipped",
                                                                                                            [])}
        raise ValueError("these files were not read, so no question about them can be answered: "
                         + "; ".join(f"{d} ({skipped.get(d, 'not among the documents read')})" for d in unread))
    gen = gen or load_generator()
    tuned, reader_line = reader_for(gen, "adapter", merged=True)
    out = {}
    for name, model in zip(READERS, (gen, tuned), strict=True):
        # ask's way: its retriever, the supporting quote where the model wrote nothing usable, the reading adapter's
        # answer copied from the sources
        rag = RAG(index, model, top_k=top_k, max_new_tokens=max_new_tokens, quote_empty=True,
                  **reading_options(model))
        scored = score_reader(rag, items)
        wrong = [r for r in scored["records"] if not r["match"]]
        scored["misses"] = {"retrieval": [r["id"] for r in wrong if not r["retrieved_gold"]],
                            "reading": [r["id"] for r in wrong if r["retrieved_gold"]]}
        scored["split"] = miss_split(scored["records"])
        out[name] = scored
    return {"folder": str(folder), "n": len(items), "items": items, "readers": out, "reader_line": reader_line,
            "example": Path(folder).resolve() == EXAMPLE_FOLDER.resolve()}


def capstone_markdown(run: dict) -> str:
    """The run as Markdown: each reader's accuracy and misses (retrieval, reading) with n and 95% intervals, then
    every question with both answers and, for each miss, its cause.

    Example: capstone_markdown(run).splitlines()[0] -> "| reader | right | retrieval miss | reading miss |"
    """
    n = run["n"]
    rows = {name: {"right": (s["right"] / n, n), "retrieval miss": (len(s["misses"]["retrieval"]) / n, n),
                   "reading miss": (len(s["misses"]["reading"]) / n, n)} for name, s in run["readers"].items()}
    lines = [rate_table(rows, "reader"), "", "| question | expected | " + " | ".join(READERS) + " |",
             "|---|---|" + "---|" * len(READERS)]
    per = {name: {r["id"]: r for r in s["records"]} for name, s in run["readers"].items()}
    for it in run["items"]:
        cells = []
        for name in READERS:
            r = per[name][it["id"]]
            cause = "right" if r["match"] else ("retrieval miss" if not r["retrieved_gold"] else "reading miss")
            cells.append(f"{_cell(r['answer'])} ({cause})")
        lines.append(f"| {_cell(it['asked'])} | {_cell(it['answer'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 3] + "..."
