"""The README's generated blocks, one marker convention and one writer, and the shipped run in words.

A generated block of a Markdown file sits between two marker lines, `<!-- NAME: made by WHO from WHAT; do not edit by
hand -->` and `<!-- end of NAME -->`. `Block` spells the pair; `replace_block` is the one function that puts new text
between them (`write_block` does it to a file, `read_block` reads what is there). The kit's four blocks:
- `RESULTS` (README.md): the shipped full run, `readme_markdown(load_shipped())`; `labkit publish` writes it;
- `RUN_TIMES` (README.md): the notebooks' measured run times, `run_times_markdown`; benchmarks/bench_notebooks.py
  writes it;
- `READER` (README.md and data/README.md): the reading adapter's record, `report.reader_markdown`; `labkit
  train-reader` writes it;
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
from labkit.findings import fmt, meaning, questions_asked
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

    def vs_rag(d):
        return "—" if d is None else (f"{d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}]"
                                      + ("" if d["measurable"] else ", none measurable"))

    for approach, row in board.items():
        vs, untaught = vs_rag(diffs.get(approach)), row.get("untaught_acc")
        vs_untaught = vs_rag(untaught_diffs.get(approach)) if untaught else "—"
        cost = []
        if (row.get("index_build_s") or {}).get("mean"):
            cost.append(f"{row['index_build_s']['mean']:.0f} s index")
        if (row.get("train_s") or {}).get("mean"):
            cost.append(f"{row['train_s']['mean']:.0f} s training")
        lines.append(f"| {approach} | {row['accuracy'].get('n', '')} | {fmt(row['accuracy'])} | {vs} | "
                     f"{(untaught or {}).get('n', '')} | {fmt(untaught)} "
                     f"| {vs_untaught} | {_with_n(row.get('multi_acc'))} | {fmt(row.get('cited_gold_by_model'))} "
                     f"| {fmt(row.get('general_acc'))} | {' + '.join(cost) or 'none'} |")
    return "\n".join(lines
                     + ["", *meaning(results), "",
                        "The common guidance, tested claim by claim on this run (`labkit.claims`: "
                              "one rule per claim, \"measurable\" as above):", "", claims_markdown(results)])


def _with_n(stat) -> str:
    return fmt(stat) + (f" (n={stat['n']})" if stat and stat.get("n") else "")


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
