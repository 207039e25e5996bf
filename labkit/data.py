"""The kit's shipped data: every loader of data/ and the subsets an experiment picks from it.

Loaders: question sets (`load_qa`), fact updates (`load_updates`), the general probe (`load_probe`), general chat text
for replay (`load_general_text`), the behaviour task (`load_triage`). The shipped records: the forgetting sweep
(`load_sweep`), the full side-by-side run the README quotes (`load_shipped`), the reading adapter's record
(`reader_info`), the foreign corpora (`FOREIGN_CORPORA`) and their questions (`foreign_items`), the readers compared on
every corpus (`load_reader_comparison`), the notebooks' measured run times (`load_run_times`; `cell_time_note` /
`warn_if_slow`: the one-line warning a slow cell prints before its work) and the retrieval benchmark's record
(`load_retrieval`). Subsets: `spread` and `stratified_subset` (quick mode still covers every document and intent),
`taught_questions`, `untaught_questions` and `updated_questions` (the side-by-side experiment's questions: taught, never
taught (`unseen_documents`, `split_documents`), and after the facts change). Each loader returns plain dicts (one per
JSONL line) so learners can look at them directly. See data/README.md for every schema. What it leaves out: the
documents themselves (read by `labkit.documents`), the adapter's weights (`labkit.reader` loads them onto a model) and
writing any of these files (the commands that make them).
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.config import DATA_DIR, KB_DIR

SWEEP_PATH = DATA_DIR / "forgetting_sweep.json"
SHIPPED_PATH = DATA_DIR / "results.json"  # the full-mode run the README and notebook conclusions quote
READER_DIR = DATA_DIR / "reader"  # the shipped adapter: adapter_model.safetensors, adapter_config.json, labkit.json
# corpora nobody here wrote, each docs/ + hand-written questions.jsonl + a README with its source and licence:
# CLI reference docs (Markdown), Debian packages' FAQ pages (plain text), scikit-learn's dataset cards (reST)
FOREIGN_CORPORA = tuple(DATA_DIR / "foreign" / name for name in ("playwright-cli", "debian-faqs", "sklearn-datasets"))
FOREIGN_DIR = FOREIGN_CORPORA[0]  # the one `labkit train-reader` scores on (the adapter's record keeps its figures)
READER_COMPARISON_PATH = DATA_DIR / "reader_comparison.json"  # written by benchmarks/bench_readers.py
RUN_TIMES_PATH = DATA_DIR / "run_times.json"  # written by benchmarks/bench_notebooks.py
CORPUS_SIZE_PATH = DATA_DIR / "corpus_size.json"  # written by benchmarks/bench_corpus_size.py --record
RETRIEVAL_PATH = DATA_DIR / "retrieval.json"  # written by benchmarks/bench_retrieval.py: dense, BM25, hybrid measured
TRIAGE_INTENTS = (  # the behaviour task's eight intents, in the order stratified subsets take them
    "order_status",
    "return_request",
    "warranty_claim",
    "damaged_delivery",
    "product_question",
    "billing_issue",
    "account_help",
    "repair_booking",
)


def load_jsonl(path) -> list[dict]:
    """Read a JSON-lines file, one dict a line. Example: load_jsonl("data/qa.jsonl")[0]["id"] -> "q001"."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run from a checkout of labkit or pass the right path.")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number} is not valid JSON ({exc.msg}); fix or remove that line.") from None
    return rows


def load_qa(limit: int | None = None) -> list[dict]:
    """The domain questions (data/qa.jsonl). Example: load_qa(2) -> [{"id": "q001", ...}, {"id": "q002", ...}]."""
    return load_jsonl(DATA_DIR / "qa.jsonl")[:limit]


def load_updates() -> list[dict]:
    """The fact changes of the freshness experiment (data/updates.jsonl). Example: load_updates()[0]["doc_id"]."""
    return load_jsonl(DATA_DIR / "updates.jsonl")


def load_probe(limit: int | None = None) -> list[dict]:
    """The general-knowledge multiple-choice probe (data/general_probe.jsonl). Example: load_probe(1)[0]["choices"]."""
    return load_jsonl(DATA_DIR / "general_probe.jsonl")[:limit]


def spread(rows: list[dict], n: int | None) -> list[dict]:
    """An evenly spaced subset of n rows (all rows if n is None), so quick mode still covers every document.

    Example: spread(list(range(10)), 3) -> [0, 3, 6]
    """
    if n is None or n >= len(rows):
        return list(rows)
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def load_general_text(limit: int | None = None) -> list[dict]:
    """The general chat pairs used for replay (data/general_text.jsonl).
    Example: load_general_text(1)[0]["question"]."""
    return load_jsonl(DATA_DIR / "general_text.jsonl")[:limit]


def load_triage(split: str | None = None) -> list[dict]:
    """The labelled support messages of the behaviour task (data/triage.jsonl), all or one split.

    Example: load_triage("test")[0].keys() -> {"id", "message", "intent", "priority", "reply", "split"}
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', not {split!r}.")
    return [r for r in load_jsonl(DATA_DIR / "triage.jsonl") if split is None or r["split"] == split]


def stratified_subset(examples: list[dict], n: int | None) -> list[dict]:
    """n examples taken in turn from each intent (file order), so every intent is covered.

    Example: stratified_subset(load_triage("test"), 24) -> 3 messages of each of the 8 intents
    """
    if n is None or n >= len(examples):
        return list(examples)
    by_intent: dict[str, list[dict]] = {}
    for ex in examples:
        by_intent.setdefault(ex["intent"], []).append(ex)
    queues = [by_intent[i] for i in TRIAGE_INTENTS if i in by_intent] + [v for k, v in by_intent.items() if k not
                                                                         in TRIAGE_INTENTS]
    picked, depth = [], 0
    while len(picked) < n:
        for queue in queues:
            if depth < len(queue) and len(picked) < n:
                picked.append(queue[depth])
        depth += 1
    return picked


def load_sweep(path=None) -> dict:
    """The shipped forgetting sweep (data/forgetting_sweep.json). Example: len(load_sweep()["runs"]) -> 8."""
    path = Path(path or SWEEP_PATH)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `labkit sweep` to compute it (about 15 minutes on 2 cores).")
    return json.loads(path.read_text())


def load_shipped() -> dict:
    """The committed full-mode results (`data/results.json`). Example: load_shipped()["quick"] -> False."""
    if not SHIPPED_PATH.is_file():
        raise FileNotFoundError(f"{SHIPPED_PATH} is missing: `make report` writes it (about 50 minutes on 2 cores)")
    return json.loads(SHIPPED_PATH.read_text())


def reader_info(path: Path = READER_DIR) -> dict:
    """The shipped adapter's labkit.json. Example: reader_info()["reader_config"]["rank"] -> 4."""
    file = Path(path) / "labkit.json"
    if not file.is_file():
        raise FileNotFoundError(f"No reading adapter in {path}; make one with `labkit train-reader`.")
    return json.loads(file.read_text())


def foreign_items(path: Path = FOREIGN_DIR) -> list[dict]:
    """A foreign corpus's hand-written questions as items (unanswerable ones have answer None).

    Example: foreign_items()[0]["doc_ids"] -> ["SKILL"]; foreign_items(FOREIGN_CORPORA[1])[0]["doc_ids"] -> ["xz-utils"]
    """
    return [{**q, "asked": q["question"]} for q in load_jsonl(Path(path) / "questions.jsonl")]


def load_retrieval(path: Path = RETRIEVAL_PATH) -> dict:
    """The retrieval benchmark's record (dense, BM25 and hybrid on the kit's and the foreign corpora; the chunk sweep).

    Example: load_retrieval()["corpora"]["kb"]["retrievers"]["hybrid"]["mrr"] -> 0.93
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: `python benchmarks/bench_retrieval.py` writes it (minutes).")
    return json.loads(Path(path).read_text())


def load_reader_comparison(path: Path = READER_COMPARISON_PATH) -> dict:
    """The readers measured on the kit's held-out documents and every foreign corpus (data/reader_comparison.json).

    Example: load_reader_comparison()["sets"]["debian-faqs"]["readers"]["reading adapter"]["accuracy"] -> 0.4
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No reader comparison at {path}; make it with `python benchmarks/bench_readers.py`.")
    return json.loads(path.read_text())


def load_run_times(path: Path = RUN_TIMES_PATH) -> dict:
    """The notebooks' measured run times (data/run_times.json).

    Example: load_run_times()["notebooks"]["00_start_here"]["default"] -> 14.2
    """
    return json.loads(Path(path).read_text())


def load_corpus_size(path: Path = CORPUS_SIZE_PATH) -> dict:
    """The measured cost of bigger corpora per store (data/corpus_size.json, benchmarks/bench_corpus_size.py).

    Example: load_corpus_size()["rows"][0]["store"] -> "faiss flat"
    """
    return json.loads(Path(path).read_text())


SLOW_CELL_S = 30.0  # a cell measured slower than this in default mode warns before it starts


def _seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def cell_time_note(notebook: str, cell_id: str, quick: bool = False, times: dict | None = None) -> str:
    """One line saying how long a cell took when it was measured, if that was over SLOW_CELL_S in default mode; ""
    otherwise (or when the cell was not measured).

    Example: cell_time_note("02_rag_from_scratch", "d225fe7b")
        -> "This cell took 55 s in default mode when measured (quick mode: 12 s; Linux x86_64, 2 cores, ...)."
    The figures are benchmarks/bench_notebooks.py's (data/run_times.json), never typed into a notebook.
    """
    times = load_run_times() if times is None else times
    cells = (times.get("cells") or {}).get(notebook) or {}
    default, fast = (cells.get(mode, {}).get(cell_id) for mode in ("default", "quick"))
    if default is None or default <= SLOW_CELL_S:
        return ""
    now = f"; quick mode, which is on: {_seconds(fast)}" if quick and fast is not None else ""
    bf16 = " with bf16 matmuls" if times.get("precision") == "bfloat16" else ""
    return (f"This cell took {_seconds(default)} in default mode when measured{now} ({times.get('machine', '?')}"
            f"{bf16}, {times.get('date', '?')}; a CPU without bf16 instructions takes longer: labkit doctor says).")


def warn_if_slow(notebook: str, cell_id: str) -> None:
    """Print `cell_time_note` for this cell when it has one: the first line of every slow cell calls it.
    Example: warn_if_slow("02_rag_from_scratch", "d225fe7b") prints "This cell took 55 s ..." or nothing."""
    from labkit.config import get_config

    note = cell_time_note(notebook, cell_id, quick=get_config().quick)
    if note:
        print(note, flush=True)


def needs_two_documents(q: dict) -> bool:
    """Whether a qa record's answer needs more than one document (the scoreboard's multi-document column).

    Example: needs_two_documents({"doc_ids": ["product-kettle", "product-toaster"]}) -> True
    """
    return len(q["doc_ids"]) > 1


UNSEEN_EVERY = 3  # every 3rd document of each kind is an unseen document: no training of any row reads a word of it


def split_documents(doc_ids, every: int = UNSEEN_EVERY) -> tuple[list[str], list[str]]:
    """(trained, held out): within each kind of document (the id's first word), every `every`-th is held out.

    Example: split_documents(["faq-a", "faq-b", "faq-c", "news-a"]) -> (["faq-a", "faq-c", "news-a"], ["faq-b"])
    Stratified so that the held-out third has products, policies, FAQs and news alike. With the
    default, the held-out third are the knowledge base's *unseen documents* (`unseen_documents`).
    """
    if every < 2:
        raise ValueError(f"held_out_every must be 2 or more (got {every}): 1 would hold out every document.")
    kinds: dict[str, list[str]] = {}
    for doc_id in sorted(set(doc_ids)):
        kinds.setdefault(doc_id.split("-")[0], []).append(doc_id)
    held = {d for docs in kinds.values() for i, d in enumerate(docs) if i % every == 1}
    return sorted(set(doc_ids) - held), sorted(held)


def split_questions(questions: list[dict], held_out_docs) -> tuple[list[dict], list[dict]]:
    """(trainable, held out): questions whose gold documents are all trained / all held out; mixed ones are dropped.

    Example: split_questions(load_qa(), held)[1][0]["doc_ids"][0] in held -> True
    """
    held = set(held_out_docs)
    trainable = [q for q in questions if not held & set(q["doc_ids"])]
    held_out = [q for q in questions if set(q["doc_ids"]) <= held]
    return trainable, held_out


def unseen_documents() -> list[str]:
    """The knowledge base's unseen documents: the third no training of any row reads (fine-tunes, RAFT, reader,
    retraining).

    Example: unseen_documents()[:2] -> ["changelog-app-2-4", "company-careers"]
    Their questions are the scoreboard's *untaught* column: questions nobody anticipated when the
    training sets were made, so no fine-tune can have learnt their answers.
    """
    return split_documents([p.stem for p in KB_DIR.glob("*.md")])[1]


def is_untaught(q: dict, unseen) -> bool:
    """Whether a qa record touches an unseen document (so nobody was taught its fact).
    Example: is_untaught(q, unseen_documents())."""
    return bool(set(q["doc_ids"]) & set(unseen))


def taught_questions(num_questions: int | None, num_updates: int | None,
                     multi_document: bool = False) -> tuple[list[dict], list[dict]]:
    """The qa records taught and asked, and the updates applied. Example: taught_questions(12, 4)[0][0]["id"] -> "q001".

    Only questions on trained documents are taught (none touches an unseen document):
    `num_questions` of them spread over the knowledge base (None: all 120), and every updated
    fact's question is added (only updates of trained documents are applied: 16 of 26), so the
    freshness test asks a fine-tuned model about facts it really learnt. multi_document=True adds
    every question whose answer needs two trained documents, so that column rests on more than a handful.
    """
    unseen = unseen_documents()
    qa = [q for q in load_qa() if not is_untaught(q, unseen)]
    by_id = {q["id"]: q for q in qa}
    updates = spread([u for u in load_updates() if all(i in by_id for i in u["question_ids"])], num_updates)
    chosen = spread(qa, num_questions)
    ids = {q["id"] for q in chosen}
    chosen += [by_id[i] for u in updates for i in u["question_ids"] if i not in ids and not ids.add(i)]
    if multi_document:
        chosen += [q for q in qa if needs_two_documents(q) and q["id"] not in ids and not ids.add(q["id"])]
    return chosen, updates


def untaught_questions(num_untaught: int | None) -> list[dict]:
    """The qa records asked but never taught: every question touching an unseen document (75), or `num_untaught` spread
    over them.

    Example: untaught_questions(8)[0]["doc_ids"][0] in unseen_documents() -> True
    """
    unseen = unseen_documents()
    return spread([q for q in load_qa() if is_untaught(q, unseen)], num_untaught)


def updated_questions(questions: list[dict], updates: list[dict]) -> list[dict]:
    """The qa records after the updates: new answer, facts rewritten, old aliases dropped.

    Example: one record {"answer": "$89", "facts": ["... costs $89."]} with u01
        -> {"answer": "$95", "facts": ["... costs $95."]}
    """
    new = {qid: answer for u in updates for qid, answer in u["new_answers"].items()}
    out = []
    for q in questions:
        if q["id"] in new:
            answer = new[q["id"]]
            q = {**q, "answer": answer, "aliases": [],
                 "facts": [f.replace(q["answer"], answer) for f in q.get("facts", [])]}
        out.append(q)
    return out
