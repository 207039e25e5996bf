"""The README's generated blocks, one marker convention and one writer, and the shipped run in words.

A generated block of a Markdown file sits between two marker lines, `<!-- NAME: made by WHO from WHAT; do not edit by
hand -->` and `<!-- end of NAME -->`. `Block` spells the pair; `replace_block` is the one function that puts new text
between them (`write_block` does it to a file, `read_block` reads what is there). The kit's four blocks:
- `RESULTS` (README.md): the shipped full run, `readme_markdown(load_shipped())`; `labkit publish` writes it;
- `RUN_TIMES` (README.md): the notebooks' measured run times, `run_times_markdown`; benchmarks/bench_notebooks.py
  writes it;
- `READER` (README.md and data/README.md): the reading adapter's record, `report.reader_markdown`; `labkit
  train-reader` writes it;
- `CORPUS_SIZE` (README.md): bigger corpora per vector store, `corpus_size_markdown`; benchmarks/bench_corpus_size.py
  --record writes it.
- `RETRIEVAL` (README.md): dense, BM25 and hybrid retrieval measured, `retrieval_markdown`;
  benchmarks/bench_retrieval.py writes it from data/retrieval.json.
- `READER_COMPARISON` (README.md and data/README.md): the readers on the kit's held-out documents and every foreign
  corpus, `report.reader_comparison_markdown`; benchmarks/bench_readers.py writes it.
The shipped run in words: `provenance` (where and how it was measured), `shipped_findings` (a notebook's conclusion),
`reversals` (where a quick run orders two approaches the other way round). `readme_section`: one "## title" section
of the README (notebook 00 shows the notebook table from there, so run times are written once).

What it leaves out: the tables and findings themselves (`labkit.report`), loading the shipped files (`labkit.data`),
and checking a run before it is published (`labkit.publish`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.claims import claims_markdown
from labkit.config import REPO_ROOT
from labkit.costs import format_seconds
from labkit.findings import diff_cell, fmt, fmt_n, meaning, questions_asked
from labkit.keys import Approach

README = REPO_ROOT / "README.md"


@dataclass(frozen=True)
class Block:
    """A generated block: the text between its two marker lines is made by one command from one file."""

    name: str  # the marker's name: "results" -> "<!-- results: ..." and "<!-- end of results -->"
    made_by: str  # who writes it from what, said in the opening marker

    @property
    def begin(self) -> str:
        """The opening marker.

        Example: RESULTS.begin -> "<!-- results: made by `labkit publish` from ...; do not edit by hand -->"
        """
        return f"<!-- {self.name}: made by {self.made_by}; do not edit by hand -->"

    @property
    def end(self) -> str:
        """The closing marker. Example: RESULTS.end -> "<!-- end of results -->"."""
        return f"<!-- end of {self.name} -->"


RESULTS = Block("results", "`labkit publish` from data/results.json (make report)")
RUN_TIMES = Block("run times", "benchmarks/bench_notebooks.py from data/run_times.json")
READER = Block("reader", "`labkit train-reader` from data/reader/labkit.json")
CORPUS_SIZE = Block("corpus size", "benchmarks/bench_corpus_size.py --record from data/corpus_size.json")
INTERACTIVE_MS = 100.0  # a search slower than this (p50) no longer feels instant beside a ~1 s answer
RETRIEVAL = Block("retrieval", "benchmarks/bench_retrieval.py from data/retrieval.json")
READER_COMPARISON = Block("reader comparison", "benchmarks/bench_readers.py from data/reader_comparison.json")


def replace_block(text: str, block: Block, body: str) -> str:
    """The text with what is between the block's markers replaced by body; ValueError if the markers are not there.

    Example: replace_block("a\\n<!-- x: made by me; do not edit by hand -->\\nold\\n<!-- end of x -->\\n",
    Block("x", "me"), "new") -> "a\\n<!-- x: made by me; do not edit by hand -->\\nnew\\n<!-- end of x -->\\n"
    """
    if block.begin not in text or block.end not in text.split(block.begin, 1)[1]:
        raise ValueError(f"no {block.name} block: put {block.begin!r} and, after it, {block.end!r} where it belongs")
    before, rest = text.split(block.begin, 1)
    after = rest.split(block.end, 1)[1]
    return f"{before}{block.begin}\n{body}\n{block.end}{after}"


def write_block(path, block: Block, body: str) -> Path:
    """Rewrite a file's block with body; nothing outside its markers changes.

    Example: write_block(README, RUN_TIMES, run_times_markdown(load_run_times())) -> PosixPath('README.md')
    """
    path = Path(path)
    path.write_text(replace_block(path.read_text(encoding="utf-8"), block, body), encoding="utf-8")
    return path


def read_block(block: Block, path=README) -> str:
    """What is between a block's markers now (the body replace_block put there).
    Example: read_block(RUN_TIMES)[:10] -> "| notebook"."""
    inner = Path(path).read_text(encoding="utf-8").split(block.begin, 1)[1].split(block.end, 1)[0]
    return inner.removeprefix("\n").removesuffix("\n")


def readme_section(title: str, readme=README) -> str:
    """One "## title" section of the README, without its heading: notebook 00 shows the README's notebook table from
    here, so run times are written once.
    Example: readme_section("The notebooks").lstrip().startswith("| notebook |") -> True."""
    text = Path(readme).read_text()
    marker = f"\n## {title}\n"
    if marker not in text:
        raise ValueError(f"the README has no section {title!r}")
    return text.split(marker, 1)[1].split("\n## ", 1)[0].strip()


# ---------------------------------------------------------------- the shipped run in words


def provenance(results: dict) -> str:
    """Where and how a run was measured, in one sentence.
    Example: provenance(load_shipped()) -> "`make report` ran ... in 52 minutes (...)"."""
    run_config, info = results["config"], results.get("published", {})
    return (f"`make report` ran the whole side-by-side experiment headless in {results['seconds'] / 60:.0f} minutes "
            f"({info.get('machine', 'this machine')}, {info.get('date', 'date not recorded')}, commit "
            f"{info.get('commit', '?')}): "
            f"the embedded SmolLM2-135M-Instruct, {len(run_config['seeds'])} seeds, "
            f"{questions_asked(results)} per seed (held-out paraphrases), LoRA rank {run_config['rank']}, "
            f"{run_config['num_steps']} steps"
            + (f", training matmuls in {results['train_precision']}" if results.get("train_precision") else "")
            + (f", answering matmuls in {results['answer_precision']}" if results.get("answer_precision") else "")
            + (f", {results['workers']} worker processes side by side" if results.get("workers", 1) > 1 else "") + "."
            + (f" {info['note']}" if info.get("note") else ""))


def shipped_findings(results: dict) -> str:
    """The shipped run's findings as Markdown, for a notebook's conclusion.
    Example: Markdown(shipped_findings(load_shipped()))."""
    return "\n".join([provenance(results), "", *meaning(results)])


def reversals(run: dict, shipped: dict) -> list[str]:
    """Where this run orders two approaches the other way round from the shipped full run, one sentence each.

    Example: reversals(quick_results, load_shipped())
        -> ["- This run puts fine-tuned behind RAG (0.33 against 0.40); the full run ahead ..."]
    Quick mode's few questions and steps can reverse a lesson: a notebook says so instead of teaching the reversal.
    """
    def order(a, b):
        return "ahead of" if a > b else "behind" if a < b else "level with"

    board_run, board_full = run.get("scoreboard") or {}, shipped.get("scoreboard") or {}
    pairs = []  # (name, against, this run's two values, the full run's two values)
    if Approach.RAG in board_run and Approach.RAG in board_full:
        pairs += [(a, Approach.RAG, board_run[a]["accuracy"]["mean"], board_run[Approach.RAG]["accuracy"]["mean"],
                   board_full[a]["accuracy"]["mean"], board_full[Approach.RAG]["accuracy"]["mean"])
                  for a in board_run if a != Approach.RAG and a in board_full]
    b_run, b_full = run.get("behaviour"), shipped.get("behaviour")
    if b_run and b_full:
        pairs.append(("LoRA on triage labels", "retrieved examples", b_run["lora"]["label_accuracy"],
                      b_run["few_shot"]["label_accuracy"],
                      b_full["lora"]["label_accuracy"], b_full["few_shot"]["label_accuracy"]))
    out = []
    for a, b, x, y, fx, fy in pairs:
        if order(x, y) != order(fx, fy):
            out.append(f"- This run puts {a} {order(x, y)} {b} ({x:.2f} against {y:.2f}); the full run puts it "
                       f"{order(fx, fy)} "
                       f"({fx:.2f} against {fy:.2f}). Trust the full run: it rests on more questions and seeds.")
    return out or ["- This run orders every approach as the full run does."]


def readme_markdown(results: dict) -> str:
    """The README's "What the kit measured" section, every number taken from the results.

    Example: readme_markdown(load_shipped()).splitlines()[0]
        -> "`make report` ran the whole side-by-side experiment ..."
    """
    board = results["scoreboard"]
    head = (provenance(results) + " Rates are the mean over seeds with the 95% Wilson interval for n answers; "
            "\"vs RAG\" is the paired difference in accuracy with its 95% bootstrap interval over questions (\"none "
            "measurable\" "
            "when it includes zero). The figures below are read from `data/results.json`; `reports/report.md` has "
            "every column.")
    lines = [head, "", "| approach | n taught | accuracy, taught | vs RAG | n untaught | accuracy, untaught | vs RAG | "
             "multi-document questions | model-written gold citation | general probe (forgetting) | one-off cost |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    diffs, untaught_diffs = results.get("differences") or {}, results.get("untaught_differences") or {}

    for approach, row in board.items():
        vs, untaught = diff_cell(diffs.get(approach)), row.get("untaught_acc")
        vs_untaught = diff_cell(untaught_diffs.get(approach)) if untaught else "—"
        cost = []
        if (row.get("index_build_s") or {}).get("mean"):
            cost.append(f"{row['index_build_s']['mean']:.0f} s index")
        if (row.get("train_s") or {}).get("mean"):
            cost.append(f"{row['train_s']['mean']:.0f} s training")
        lines.append(f"| {approach} | {row['accuracy'].get('n', '')} | {fmt(row['accuracy'])} | {vs} | "
                     f"{(untaught or {}).get('n', '')} | {fmt(untaught)} "
                     f"| {vs_untaught} | {fmt_n(row.get('multi_acc'))} | {fmt(row.get('cited_gold_by_model'))} "
                     f"| {fmt(row.get('general_acc'))} | {' + '.join(cost) or 'none'} |")
    return "\n".join(lines
                     + ["", *meaning(results), "",
                        "The common guidance, tested claim by claim on this run (`labkit.claims`: "
                              "one rule per claim, \"measurable\" as above):", "", claims_markdown(results)])


# ---------------------------------------------------------------- how long each notebook takes

RUN_MODES = {  # mode -> (environment, what a reader sees)
    "default": ({}, "default (full mode; 06 and 07 show the shipped run)"),
    "quick": ({"LABKIT_QUICK": "1"}, "quick mode (`LABKIT_QUICK=1`, as CI; 06 and 07 run live)"),
}


def run_times_markdown(times: dict) -> str:
    """The README's table of measured notebook run times, one column per mode, with where they were measured.

    Example: run_times_markdown({"machine": "Linux x86_64, 2 cores", "date": "2026-12-02", "commit": "abc1234",
    "notebooks": {"00_start_here": {"default": 14.2}}}).splitlines()[2] -> "| `00_start_here` | 14.2 s | not measured |"
    """
    modes = list(RUN_MODES)
    lines = ["| notebook | " + " | ".join(RUN_MODES[m][1] for m in modes) + " |", "|---" * (len(modes) + 1) + "|"]
    for name, row in times["notebooks"].items():
        lines.append(f"| `{name}` | "
                     + " | ".join(format_seconds(row[m]) if row.get(m) is not None else "not measured" for m in modes)
                     + " |")
    lines += ["",
              f"Measured by `python benchmarks/bench_notebooks.py` on {times['machine']}, {times['date']}, commit "
              f"{times['commit']} "
              "(each notebook run top to bottom in a fresh kernel, model cache warm)."]
    return "\n".join(lines)


# ---------------------------------------------------------------- bigger corpora, per vector store


def corpus_size_markdown(record: dict) -> str:
    """The README's table of index build, memory, search latency and recall per store and size, and where each store
    stops being the right choice, every figure read from the record.

    Example: corpus_size_markdown(load_corpus_size()).splitlines()[2] -> "| chunks | store | build | ..."
    """
    emb, rows, n = record["embedding"], record["rows"], record["queries"]
    lines = [f"Measured by `nice -n 10 python benchmarks/bench_corpus_size.py --record` on {record['machine']}, "
             f"{record['date']}, commit {record['commit']} ({format_seconds(record['seconds'])} in all; load average "
             f"{record['load_avg']} when it started: other work shared the cores; {record['threads']} thread(s)). "
             "Each store is "
             f"built in a process of its own; memory is that process's resident memory grown by the build; search is "
             f"one question at a time, top {record['top_k']}, p50 and p95 over n={n} of the kit's questions; recall@10 "
             "is against FAISS flat's exact top 10 (over the same n). Beyond the knowledge base's real chunk vectors, "
             "random unit vectors stand in for more documents. Embedding was measured on "
             f"{emb['sample']} synthetic chunks of {emb['words_per_chunk']} words "
             f"({emb['per_chunk_s'] * 1000:.1f} ms a chunk, {emb['precision']} matmuls) and is projected to each size.",
             "",
             "| chunks | store | build | memory | search p50 | search p95 | recall@10 vs flat | embedding them "
             "(projected) |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "timed_out_s" in r:  # stopped by the benchmark's time limit: no figure of its own
            lines.append(f"| {r['size']:,} | {r['store']} | not finished in {format_seconds(r['timed_out_s'])} (build "
                         f"and searches) | — | — | — | — | {format_seconds(r['embed_projected_s'])} |")
            continue
        lines.append(f"| {r['size']:,} | {r['store']} | {format_seconds(r['build_s'])} | {r['memory_mb']:,.0f} MB | "
                     f"{r['p50_ms']:.2f} ms | {r['p95_ms']:.2f} ms | {r['recall_at_10']:.2f} | "
                     f"{format_seconds(r['embed_projected_s'])} |")
    return "\n".join(lines + ["", *corpus_size_findings(record)])


def corpus_size_findings(record: dict) -> list[str]:
    """Where each store stops being the right choice, in sentences computed from the record.
    Example: corpus_size_findings(load_corpus_size())[0] -> "- FAISS flat (exact) ..."."""
    n, unfinished = record["queries"], {r["store"]: r for r in record["rows"] if "timed_out_s" in r}
    rows = [r for r in record["rows"] if "timed_out_s" not in r]
    of = {s: sorted((r for r in rows if r["store"] == s), key=lambda r: r["size"]) for s in {r["store"] for r in rows}}

    def slow_from(store):  # the first size whose p50 is past the interactive limit
        return next((r for r in of.get(store, []) if r["p50_ms"] > INTERACTIVE_MS), None)

    out = []
    flat, largest = of["faiss flat"], of["faiss flat"][-1]
    limit = slow_from("faiss flat")
    out.append(f"- FAISS flat (exact) searches {largest['size']:,} chunks in {largest['p50_ms']:.1f} ms (p50, n={n}); "
               + (f"it passes {INTERACTIVE_MS:.0f} ms from {limit['size']:,} chunks." if limit else
                  f"under {INTERACTIVE_MS:.0f} ms at every size measured: on one machine, exact search is the right "
                  "choice up to this size."))
    if of.get("faiss ivf"):
        ivf = of["faiss ivf"][-1]
        same = next(r for r in flat if r["size"] == ivf["size"])
        out.append(f"- FAISS IVF at {ivf['size']:,} chunks: {ivf['p50_ms']:.1f} ms against flat's "
                   f"{same['p50_ms']:.1f} ms (x{same['p50_ms'] / ivf['p50_ms']:.1f} faster), recall@10 "
                   f"{ivf['recall_at_10']:.2f} (n={n}), after a {format_seconds(ivf['build_s'])} build (flat: "
                   f"{format_seconds(same['build_s'])})"
                   + (": worth it where flat is too slow and some lost neighbours are acceptable."
                      if ivf["p50_ms"] < same["p50_ms"]
                      else ": no faster than flat at this size, so flat is the choice."))
    if of.get("qdrant embedded"):
        q = of["qdrant embedded"][-1]
        same = next(r for r in flat if r["size"] == q["size"])
        qlimit = slow_from("qdrant embedded")
        out.append(f"- Qdrant's embedded mode at {q['size']:,} chunks: build {format_seconds(q['build_s'])} "
                   f"(x{q['build_s'] / max(same['build_s'], 1e-9):,.0f} FAISS flat's), memory "
                   f"{q['memory_mb']:,.0f} MB (FAISS flat {same['memory_mb']:,.0f} MB), search {q['p50_ms']:.1f} ms "
                   f"(x{q['p50_ms'] / same['p50_ms']:.1f}), recall@10 {q['recall_at_10']:.2f}"
                   + (f"; past {INTERACTIVE_MS:.0f} ms from {qlimit['size']:,} chunks" if qlimit else "")
                   + (f"; at {unfinished['qdrant embedded']['size']:,} chunks it did not finish in "
                      f"{format_seconds(unfinished['qdrant embedded']['timed_out_s'])}"
                      if "qdrant embedded" in unfinished else "")
                   + (". It is for trying the Qdrant API on a laptop; a shared or large index wants a Qdrant server "
                      "(its own HNSW index, not measured here: no server installs from this kit's package registries)."
                      if q["p50_ms"] > same["p50_ms"] else ": as fast as FAISS flat here."))
    embed_s, build_s = max(r["embed_projected_s"] for r in rows), max(r["build_s"] for r in rows)
    out.append(f"- Embedding {max(r['size'] for r in rows):,} chunks would take about {format_seconds(embed_s)} on "
               f"this machine (projected), against {format_seconds(build_s)} for the slowest index build: "
               + ("the embedder, not the index, is the cost of a bigger corpus." if embed_s > build_s
                  else "the index build costs more than embedding here."))
    return out
# ---------------------------------------------------------------- dense, BM25 and hybrid retrieval

_RETRIEVAL_COLUMNS = {"recall@1": "recall@1", "recall@3": "recall@3", "recall@5": "recall@5", "mrr": "MRR",
                      "gold_in_sources": "a gold document among the sources",
                      "answer_in_sources": "the answer in the sources shown"}


def _cell(stat: dict) -> str:
    return f"{stat['rate']:.2f} [{stat['lo']:.2f}, {stat['hi']:.2f}]"


def _diff(d: dict) -> str:
    return f"{d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}]" + ("" if d["measurable"] else ", none measurable")


def retrieval_markdown(record: dict) -> str:
    """The README's retrieval block: each corpus and retriever measured, the differences from dense, the chunk sweep,
    and what `labkit ask` uses, every figure read from the record (data/retrieval.json).

    Example: retrieval_markdown(load_retrieval()).splitlines()[2] -> "| corpus | retriever | n | recall@1 | ..."
    """
    settings, choice, sweep = record["settings"], record["choice"], record["chunk_sweep"]
    lines = [f"Measured by `python benchmarks/bench_retrieval.py` on {record['machine']}, {record['date']}, commit "
             f"{record['commit']} ({record['seconds'] / 60:.0f} minutes). One index per corpus "
             f"({settings['chunk_size']}-word chunks, overlap {settings['overlap']}) searched three ways: **dense** "
             f"(the embeddings), **BM25** (keywords) and **hybrid** (both, {settings['fuse']}). The sources are the "
             f"first {settings['top_k']} chunks, as `labkit ask` shows them; \"the answer in the sources shown\" "
             "counts what the prompt shows of them. Shares carry their 95% Wilson interval, MRR a bootstrap interval; "
             "kb: the first held-out paraphrase of each question of data/qa.jsonl; a foreign corpus: its answerable "
             "questions.", "",
             "| corpus | retriever | n | " + " | ".join(_RETRIEVAL_COLUMNS.values()) + " |",
             "|---" * (3 + len(_RETRIEVAL_COLUMNS)) + "|"]
    for name, corpus in record["corpora"].items():
        for retriever, row in corpus["retrievers"].items():
            lines.append(f"| {name} ({corpus['documents']} documents, {corpus['chunks']} chunks) | {retriever} | "
                         f"{row['n']} | " + " | ".join(_cell(row[m]) for m in _RETRIEVAL_COLUMNS) + " |")
    lines.append("")
    for name, corpus in record["corpora"].items():
        for retriever, diffs in corpus["vs_dense"].items():
            lines.append(f"- {name}, {retriever} minus dense (n={diffs['mrr']['n']} questions, paired bootstrap): "
                         + "; ".join(f"{_RETRIEVAL_COLUMNS[m]} {_diff(d)}" for m, d in diffs.items()) + ".")
    pooled = choice["pooled_mrr_vs_dense"]
    lines.append(f"- `labkit ask` searches with **{choice['retriever']}** retrieval; the rule: {choice['rule']}. "
                 + (f"Pooled, {choice['best_by_mrr']} minus dense MRR is {_diff(pooled)} (n={pooled['n']})"
                    if pooled else "Dense has the best MRR pooled")
                 + (f"; measurably behind dense on {', '.join(choice['measurably_worse_on'])}"
                    if choice["measurably_worse_on"] else "") + ". The kit's own experiment (notebooks 02-07, "
                 "`labkit compare`) keeps dense retrieval, so its shipped figures stand.")
    pick = sweep["choice"]
    vs = pick["answer_in_sources_vs_kit"]
    lines += [f"- Chunking for `ask --docs`, swept on {', '.join(sweep['corpora'])} with {sweep['retriever']} "
              f"retrieval (below): the rule: {pick['rule']}. Best: {pick['best']['chunk_size']} words, overlap "
              f"{pick['best']['overlap']}" + (f", against the kit's setting {_diff(vs)} (n={vs['n']})" if vs else "")
              + f"; `ask --docs` uses {pick['chunk_size']} words, overlap {pick['overlap']}.", "",
              "| chunk_size | overlap | chunks | n | the answer in the sources shown | a gold document among the "
              "sources | MRR |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {row['chunk_size']} | {row['overlap']} | {row['chunks']} | {row['n']} | "
              f"{_cell(row['answer_in_sources'])} | {_cell(row['gold_in_sources'])} | {_cell(row['mrr'])} |"
              for row in sweep["rows"]]
    return "\n".join(lines)
