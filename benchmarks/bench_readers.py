"""The readers on every corpus: the plain model and the reading adapter, as `labkit ask` answers, on the kit's held-out
documents and on every foreign corpus (`data.FOREIGN_CORPORA`); writes data/reader_comparison.json and the README's
reader comparison table (README.md and data/README.md).

Each question set's index is built afresh and timed (index_folder's defaults, no cache), then each reader answers
every question of the set (top 3 sources, greedy, a quote where the model wrote nothing usable). Prints the figures;
asserts nothing. About 15 minutes on 2 cores; run it with nothing else running (`nice -n 10` beside other work).

Usage: python benchmarks/bench_readers.py [--sets held-out documents,debian-faqs] [--no-write]
       python benchmarks/bench_readers.py --adapter /tmp/reader-mix --skip-plain   # a candidate adapter, not written
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import os
import platform
import subprocess
import threading
import time
from dataclasses import asdict
from pathlib import Path

from labkit import ask
from labkit.config import DATA_DIR, KB_DIR, REPO_ROOT
from labkit.data import (
    FOREIGN_CORPORA,
    READER_COMPARISON_PATH,
    READER_DIR,
    foreign_items,
    load_qa,
    reader_info,
    split_documents,
    split_questions,
)
from labkit.folder_index import index_folder
from labkit.models import load_embedder, load_generator
from labkit.reader import kb_items, reader_for
from labkit.reader_sets import compare_readers
from labkit.readme import READER_COMPARISON, README, write_block
from labkit.report import reader_comparison_markdown

KIT_SET = "held-out documents"  # the kit's own: the first paraphrase of each question about the adapter's held-out 3rd


def question_sets() -> dict:
    """name -> (folder, items): the kit's held-out documents, then each foreign corpus by its folder name."""
    every = reader_info()["reader_config"]["held_out_every"]
    held_docs = split_documents([p.stem for p in KB_DIR.glob("*.md")], every)[1]
    sets = {KIT_SET: (KB_DIR, kb_items(split_questions(load_qa(), held_docs)[1]))}
    sets.update({path.name: (path / "docs", foreign_items(path)) for path in FOREIGN_CORPORA})
    return sets


def ask_index_options() -> dict:
    """The index_folder arguments `labkit ask` adds to its defaults: its retriever, where ask names one."""
    retriever = getattr(ask, "ASK_RETRIEVER", None)
    return {"retriever": retriever} if retriever else {}


def retrieval_settings(options: dict) -> str:
    """index_folder's settings as words, e.g. "kind flat, chunk_size 128, overlap 24" (whatever they are today)."""
    skip = {"folder", "embedder", "cache", "progress", "max_bytes", "follow_links"}
    settings = {name: p.default for name, p in inspect.signature(index_folder).parameters.items()
                if name not in skip and p.default is not inspect.Parameter.empty}
    return ", ".join(f"{name} {value}" for name, value in {**settings, **options}.items())


class LoadSampler:
    """The 1-minute load average sampled every 30 s while the run lasts: timings on a busy machine say so."""

    def __init__(self):
        self.samples, self.stop = [os.getloadavg()[0]], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(30):
            self.samples.append(os.getloadavg()[0])

    def finish(self) -> dict:
        self.stop.set()
        return {"mean": round(sum(self.samples) / len(self.samples), 2), "max": round(max(self.samples), 2),
                "samples": len(self.samples), "cores": os.cpu_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", help="comma-separated question sets (default: all; a partial run never writes)")
    parser.add_argument("--no-write", action="store_true", help="print the figures only")
    parser.add_argument("--adapter", type=Path, default=READER_DIR,
                        help="the reading adapter to measure (default data/reader; another one is never written)")
    parser.add_argument("--skip-plain", action="store_true", help="measure the adapter only (never written)")
    args = parser.parse_args()
    sets = question_sets()
    if args.sets:
        wanted = [s.strip() for s in args.sets.split(",")]
        unknown = [s for s in wanted if s not in sets]
        if unknown:
            raise SystemExit(f"unknown set(s) {unknown}; the sets are: {', '.join(sets)}")
        sets = {name: sets[name] for name in wanted}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_ROOT).stdout.strip()  # the code measured: taken before the run, not after it
    start, load = time.perf_counter(), LoadSampler()
    gen = load_generator()
    tuned, line = reader_for(gen, path=args.adapter)
    print(line)
    # as `labkit ask` reads: the adapter's answers copied from the sources where ask copies them
    adapter = (tuned, ask.reading_options(tuned))
    readers = {"reading adapter": adapter} if args.skip_plain else {"plain": gen, "reading adapter": adapter}
    options = ask_index_options()
    result = compare_readers(readers, load_embedder(), sets, index_options=options)
    info = reader_info(args.adapter)
    record = {"command": "python benchmarks/bench_readers.py", "date": datetime.date.today().isoformat(),
              "commit": commit or "?",
              "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores",
              "retrieval": f"index_folder with {retrieval_settings(options)}", "top_k": 3,
              "adapter": {"command": info["command"], "train_s": info["train_s"]}, "kit_sets": [KIT_SET],
              "extractive": adapter[1]["extractive"],
              "answerable": asdict(adapter[1]["answerable"]) if adapter[1]["answerable"] else None,
              "seconds": round(time.perf_counter() - start, 1), "load_average": load.finish(), "sets": result}
    print(reader_comparison_markdown(record))
    if args.no_write or args.sets or args.skip_plain or args.adapter.resolve() != READER_DIR.resolve():
        return
    READER_COMPARISON_PATH.write_text(json.dumps(record, indent=1) + "\n")
    for readme in (README, DATA_DIR / "README.md"):
        write_block(readme, READER_COMPARISON, reader_comparison_markdown(record))
    print(f"wrote {READER_COMPARISON_PATH} and the reader comparison in README.md and data/README.md")


if __name__ == "__main__":
    main()
