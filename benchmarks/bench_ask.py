"""How long `labkit ask --docs` makes a user wait: the first call (the index built) and later calls, each a new process.

Prints, for one folder (default: Python's own HTML documentation, Debian's python3-doc, else data/kb):
- the first call's wall seconds (the folder read, chunked, embedded, the BM25 index built and everything cached; run it
  with an empty LABKIT_CACHE beside a warm model cache to see the build), then the p50 / p95 of later calls, each
  `labkit ask QUESTION --docs FOLDER --json` in a fresh process as a user runs it: first with nothing kept loaded
  (model and index loads included), then answered by the background process `labkit ask` keeps (labkit.ask_server);
- with --phases, where a later call's seconds go, one process: imports, the embedder, the folder's key (its files
  hashed), the index load, the generator, the reading adapter, the search, the answer (wall and CPU seconds: on a
  shared machine the CPU seconds say what an idle one would take);
- with --agreement N, how many of N answers the reading adapter merged into the weights (what `ask` loads) gives
  differently from the adapter applied by peft (what the README's reader table measured), on the kit's held-out
  questions.
Asserts nothing. Usage: nice -n 10 python benchmarks/bench_ask.py [FOLDER] [--calls 5] [--phases] [--agreement 40]
(OMP_NUM_THREADS=1 on a shared machine: see the README's troubleshooting.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from labkit.ask_server import running_servers, stop_servers
from labkit.config import KB_DIR, REPO_ROOT

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html")
QUESTIONS = ["How do I read a file line by line?", "Which function creates a directory and its parents?",
             "What does the --upgrade flag of pip install do?", "How do I sort a list of dictionaries by a key?",
             "What is the default encoding of open() in text mode?", "How do I start a thread?",
             "Which exception does int() raise for a string that is not a number?"]


def ask(question: str, folder: str, keep_loaded: float = 0) -> tuple[float, dict]:
    """One `labkit ask --json` in a new process: (wall seconds, its JSON). keep_loaded: LABKIT_KEEP_LOADED's minutes
    (0: the call loads everything itself, no background process is used or started)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
           "LABKIT_KEEP_LOADED": str(keep_loaded)}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "ask", question, "--docs", folder, "--json"],
                         capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, json.loads(out.stdout)


def phases(folder: str, light: bool = True) -> None:
    """Where one later call's seconds go, in this process (the index must be cached already). light: as `ask` loads
    (LightEmbedder, the adapter merged); else as before them (sentence-transformers, the adapter applied by peft)."""
    marks = [("start", time.perf_counter(), time.process_time())]

    def mark(name):
        marks.append((name, time.perf_counter(), time.process_time()))

    import torch  # noqa: F401
    import transformers  # noqa: F401
    mark("import torch, transformers")
    from labkit.config import get_config
    from labkit.folder_index import cache_folder, folder_key
    from labkit.light_embedder import LightEmbedder
    from labkit.models import load_embedder, load_generator
    from labkit.rag import RAG
    from labkit.reader import reader_for
    from labkit.retrieval import VectorIndex
    mark("import labkit's modules")
    embedder = LightEmbedder(device=get_config().device) if light else load_embedder()
    mark(f"the embedder ({type(embedder).__name__})")
    key = folder_key(folder, embedder, "flat", 128, 24)
    mark("the folder's key (its files hashed)")
    index = VectorIndex.load(cache_folder(folder, key), embedder)
    index.retriever = "hybrid"
    mark(f"the index loaded ({len(index)} chunks)")
    gen = load_generator()
    mark("the generator")
    reader, _ = reader_for(gen, merged=light)
    mark("the reading adapter, " + ("merged" if light else "by peft"))
    result = RAG(index, reader, top_k=3).answer(QUESTIONS[0])
    mark("search and answer")
    for (_, t0, c0), (name, t1, c1) in zip(marks, marks[1:], strict=False):
        print(f"  {t1 - t0:6.2f} s wall {c1 - c0:6.2f} s CPU  {name}")
    print(f"  {marks[-1][1] - marks[0][1]:6.2f} s wall {marks[-1][2] - marks[0][2]:6.2f} s CPU  in all, after Python "
          f"started; answer: {result.answer[:60]!r}")


def agreement(n: int) -> None:
    """Answers of the reading adapter merged (ask) and applied by peft (the reader table), on n held-out questions."""
    from labkit.data import load_qa, unseen_documents
    from labkit.folder_index import index_folder
    from labkit.models import load_embedder, load_generator
    from labkit.rag import RAG
    from labkit.reader import reader_for

    unseen = set(unseen_documents())
    questions = [q["paraphrases"][0] for q in load_qa() if set(q["doc_ids"]) & unseen][:n]
    index = index_folder(KB_DIR, load_embedder(), progress=False)
    gen = load_generator()
    answers = {}
    for merged in (False, True):
        reader, _ = reader_for(gen, merged=merged)
        answers[merged] = [r.answer for r in RAG(index, reader, top_k=3).answer_many(questions)]
    differ = sum(a != b for a, b in zip(answers[False], answers[True], strict=True))
    print(f"reading adapter merged vs peft: {differ} of {len(questions)} answers differ (held-out questions, greedy)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", default=str(PYTHON_DOCS if PYTHON_DOCS.is_dir() else KB_DIR))
    parser.add_argument("--calls", type=int, default=5, help="later calls to time")
    parser.add_argument("--phases", action="store_true", help="also break one later call into its phases")
    parser.add_argument("--agreement", type=int, default=0, metavar="N", help="also compare N answers merged vs peft")
    args = parser.parse_args()
    print(f"cpu_count={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f} folder={args.folder}")
    first_s, first = ask(QUESTIONS[0], args.folder)
    print(f"first call: {first_s:.1f} s (index from cache: {first['timings']['index_from_cache']}, "
          f"{first['documents']} documents, index {first['timings']['index_s']:.1f} s)")
    for kept in (False, True):
        if kept:  # one call that answers itself and starts the background process, then wait until it listens
            ask(QUESTIONS[0], args.folder, keep_loaded=10)
            deadline = time.monotonic() + 600
            while running_servers() == 0 and time.monotonic() < deadline:
                time.sleep(1)
        later = [ask(QUESTIONS[1 + i % (len(QUESTIONS) - 1)], args.folder, keep_loaded=10 if kept else 0)
                 for i in range(args.calls)]
        walls = sorted(s for s, _ in later)
        print(("kept loaded (LABKIT_KEEP_LOADED=10, answered by the background process)" if kept else
               "nothing kept loaded (LABKIT_KEEP_LOADED=0)") +
              f": later calls p50 {statistics.median(walls):.2f} s, p95 {walls[int(0.95 * (len(walls) - 1))]:.2f} s "
              f"over {len(walls)} calls (each a new process); in them, index p50 "
              f"{statistics.median(o['timings']['index_s'] for _, o in later):.2f} s, answer p50 "
              f"{statistics.median(o['timings']['generate_s'] for _, o in later):.2f} s; "
              f"load_avg={os.getloadavg()[0]:.1f}")
    print(f"stopped {stop_servers()} background process(es)")
    if args.phases:  # each in its own process, so neither inherits the other's imports
        for light in (False, True):
            print("phases, " + ("as `ask` loads now" if light else "as before (sentence-transformers, peft)") + ":")
            subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO_ROOT / 'benchmarks')!r}); "
                            f"import bench_ask; bench_ask.phases({args.folder!r}, {light})"], check=True,
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    if args.agreement:
        agreement(args.agreement)


if __name__ == "__main__":
    main()
