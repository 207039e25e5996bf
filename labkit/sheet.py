"""The instructor's results sheet: each notebook's key figures with n and 95% intervals, and the question for the room.

What it holds: `SECTIONS` (per notebook: its title, the figures it rests on, the question for the room),
`sheet_markdown` (the one page, every figure read from the committed records: data/results.json, the forgetting sweep,
the reading adapter's record, the notebooks' run times), `sheet_html` (the same page, printable, offline: mistune,
which nbconvert brings; it records the sha256 of the Markdown it was made from, so a test sees a stale copy), and
`write_sheet` (`labkit sheet`, `make sheet`: both files into docs/).

Every figure is written by the function that writes it for the README, the report or a notebook (`findings.fmt_n`,
`findings.versus`, `findings.diff_cell`, `forgetting.run_finding`, `report.reader_cell`, `claims`' rows,
`costs.format_seconds`): the sheet chooses and labels figures, it never computes one.

What it leaves out: running anything, and the figures' own formats (the modules above).

Example: sheet_markdown(load_shipped(), load_sweep(), reader_info(), load_run_times()).splitlines()[0]
    -> "# Results sheet: what each notebook shows, and what to ask the room"
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path

from labkit import claims
from labkit.config import REPO_ROOT
from labkit.costs import format_seconds
from labkit.evaluate import MISS_LABELS
from labkit.findings import diff_cell, fmt, fmt_n, versus
from labkit.forgetting import run_finding, sweep_summary
from labkit.keys import After, Approach
from labkit.readme import provenance
from labkit.report import reader_cell

DOCS_DIR = REPO_ROOT / "docs"
SHEET_MD = DOCS_DIR / "results_sheet.md"
SHEET_HTML = DOCS_DIR / "results_sheet.html"
MADE_BY = ("<!-- made by `labkit sheet` (make sheet) from data/results.json, data/forgetting_sweep.json, "
           "data/reader/labkit.json and data/run_times.json; do not edit by hand -->")
# the sweep's runs notebook 05 checks: LoRA against full fine-tuning, too high an lr, replay
SWEEP_KEYS = ("lora-r16-lr0.002-rp0", "full-lr0.002-rp0", "lora-r16-lr0.01-rp0", "lora-r16-lr0.002-rp0.5")


@dataclass(frozen=True)
class Records:
    """The committed records the sheet reads (each loaded by `labkit.data`)."""

    results: dict  # data/results.json, the shipped full run
    sweep: dict  # data/forgetting_sweep.json
    reader: dict  # data/reader/labkit.json
    times: dict  # data/run_times.json
    claim_rows: dict  # each claim function of `claims.CLAIMS` -> its row on the results (computed once: bootstraps)


def _claim(rec: Records, claim) -> str:
    row = rec.claim_rows[claim]
    return f"- claim \"{row['claim']}\": **{row['verdict']}**; {row['figure']}"


def _start(rec: Records) -> list[str]:
    return ["Nothing is measured yet: the environment check (`labkit doctor`) and the map of the day."]


def _closed_book(rec: Records) -> list[str]:
    row = rec.results["scoreboard"][Approach.CLOSED_BOOK]
    return [f"- closed-book accuracy, taught questions: {fmt_n(row['accuracy'])}",
            f"- closed-book accuracy, untaught questions: {fmt_n(row.get('untaught_acc'))}",
            f"- closed-book multiple choice on the same questions (mc_acc): {fmt_n(row.get('mc_acc'))}",
            f"- general probe, the base model (general_acc): {fmt_n(row.get('general_acc'))}"]


def _rag(rec: Records) -> list[str]:
    board = rec.results["scoreboard"]
    rag, reader = board[Approach.RAG], board.get(Approach.READER_RAG)
    lines = [f"- RAG accuracy, taught questions: {fmt_n(rag['accuracy'])}; closed-book "
             f"{versus(rec.results, Approach.CLOSED_BOOK)}"]
    lines += [f"- RAG, {label}: {fmt_n(rag.get(key))}" for key, label in MISS_LABELS.items() if rag.get(key)]
    if reader:
        lines.append(f"- reading adapter + RAG, taught questions: {fmt_n(reader['accuracy'])}, "
                     f"{versus(rec.results, Approach.READER_RAG)}")
    foreign = (rec.reader.get("evaluation") or {}).get("foreign corpus") or {}
    if foreign:
        lines.append("- a corpus nobody here wrote (the reading adapter's record): "
                     + "; ".join(f"{name} {reader_cell(s)}" for name, s in foreign.items()))
    return lines + [_claim(rec, claims.retrieval_matters)]


def _freshness(rec: Records) -> list[str]:
    fr = rec.results.get("freshness") or {}
    lines = [f"- {who}: the new value in {fmt_n(fr[who]['new'])}, the old in {fmt_n(fr[who]['old'])}"
             for who in (After.RAG, After.STALE, After.RETRAINED) if who in fr]
    if fr.get("update_s"):
        lines.append(f"- index update {fmt(fr['update_s'], 'update_s')} s for {fmt(fr['n_updates'], 'prompt_tokens')} "
                     f"documents; retraining {fmt(fr['retrain_s'], 'retrain_s')} s")
    return lines + [_claim(rec, claims.updates_between_retrainings),
                    _claim(rec, claims.updates_against_retraining)]


def _lora(rec: Records) -> list[str]:
    row = rec.results["scoreboard"][Approach.FINE_TUNED]
    return [f"- fine-tuned (LoRA rank {rec.results['config']['rank']}, {rec.results['config']['num_steps']} steps), "
            f"taught questions: {fmt_n(row['accuracy'])}, {versus(rec.results, Approach.FINE_TUNED)}",
            f"- fine-tuned multiple choice on the same questions (mc_acc): {fmt_n(row.get('mc_acc'))}",
            f"- training: {fmt(row.get('train_s'), 'train_s')} s a seed"]


def _forgetting(rec: Records) -> list[str]:
    runs = {r["key"]: r for r in rec.sweep["runs"]}
    n = rec.sweep["setup"]["num_probe"]
    return ([f"- the forgetting sweep (data/forgetting_sweep.json, {rec.sweep['num_steps']} steps a run, one seed):"]
            + [f"  {run_finding(runs[k], n)}" for k in SWEEP_KEYS if k in runs]
            + [f"  {sweep_summary(rec.sweep)}", _claim(rec, claims.forgetting)])


def _side_by_side(rec: Records) -> list[str]:
    board = rec.results["scoreboard"]
    diffs, untaught = rec.results.get("differences") or {}, rec.results.get("untaught_differences") or {}
    def paired_n(d):  # the questions each paired difference is over, in its column's heading
        counts = sorted({x["n"] for x in d.values()})
        return f"vs RAG (paired, n={' or '.join(map(str, counts))})" if counts else "vs RAG"

    table = ["", f"| approach | accuracy, taught | {paired_n(diffs)} | accuracy, untaught | {paired_n(untaught)} |",
             "|---|---|---|---|---|"]
    table += [f"| {a} | {fmt_n(row['accuracy'])} | {diff_cell(diffs.get(a))} | {fmt_n(row.get('untaught_acc'))} | "
              f"{diff_cell(untaught.get(a)) if row.get('untaught_acc') else '—'} |" for a, row in board.items()]
    return ["- the scoreboard (mean over seeds, ± their spread where a row trains):", *table, "",
            _claim(rec, claims.wide_updates), _claim(rec, claims.documents_teach_no_facts)]


def _combining(rec: Records) -> list[str]:
    board = rec.results["scoreboard"]
    lines = []
    if Approach.RAFT_RAG in board:
        lines.append(f"- RAFT + RAG, taught questions: {fmt_n(board[Approach.RAFT_RAG]['accuracy'])}, "
                     f"{versus(rec.results, Approach.RAFT_RAG)}")
    lines += [_claim(rec, claims.behaviour_task), _claim(rec, claims.behaviour_and_facts),
              "- every claim of the common guidance, and its verdict on this run (its figure: the README's claims "
              "table):", "", "| claim | verdict |", "|---|---|"]
    return lines + [f"| {r['claim']} | {r['verdict']} |" for r in rec.claim_rows.values()]



def _own_documents(rec: Records) -> list[str]:
    foreign = (rec.reader.get("evaluation") or {}).get("foreign corpus") or {}
    if not foreign:
        return ["- the learners' own folders: their figures are their own (the capstone's check prints them)"]
    return ["- the capstone's reference point, a corpus nobody here wrote (the reading adapter's record): "
            + "; ".join(f"{name} {reader_cell(s)}" for name, s in foreign.items()),
            "- each learner's own folder: five questions, so every rate's interval is wide; compare misses, not rates"]

@dataclass(frozen=True)
class Section:
    """One notebook's part of the sheet."""

    notebook: str  # the notebook's file name without .ipynb
    title: str
    figures: object  # Records -> Markdown lines, each figure with its n and interval, written by its one writer
    ask: str  # the question for the room: no figure typed in it, so it holds whatever the records say


SECTIONS = (
    Section("00_start_here", "Start here", _start,
            "RAG or fine-tuning for a team's own documents? Take a vote and keep it: what would you need to measure "
            "to settle it?"),
    Section("01_closed_book_baseline", "The closed-book baseline", _closed_book,
            "Why does the model invent an answer instead of saying it does not know? What does guessing score on a "
            "four-choice probe, and how far above it is the base model on general knowledge?"),
    Section("02_rag_from_scratch", "RAG from scratch", _rag,
            "Before showing the split: when RAG answers wrong, did it fail to find the document or to read it? "
            "How much of that does the reading adapter fix, on documents it never saw?"),
    Section("03_rag_freshness_and_tuning", "RAG freshness and tuning", _freshness,
            "The sources change at once: do the answers follow as well, and where they do not, is it finding or "
            "reading? What would it cost to retrain a model for every price change?"),
    Section("04_lora_from_scratch", "LoRA from scratch", _lora,
            "Why score on held-out paraphrases and not on the training wording? Which moves more after training, "
            "multiple choice or open answers, and why would they differ?"),
    Section("05_watching_forgetting", "Watching forgetting", _forgetting,
            "Is the probe's drop measurable with this many items? Does replay keep general knowledge, and what does "
            "it cost in new knowledge?"),
    Section("06_side_by_side", "Side by side", _side_by_side,
            "Which differences are measurable? On which column does each fine-tuned row lead, and on which not? "
            "Could your team list its users' questions in advance?"),
    Section("07_combining_and_choosing", "Combining and choosing", _combining,
            "Which part of behaviour + facts gives the format, which the facts? Which claims of the common guidance "
            "did the numbers support, and which not? Back to the morning's vote: what did the numbers say that "
            "opinion did not?"),
    Section("08_your_own_documents", "Your own documents", _own_documents,
            "On your folder, were the misses finding or reading? Which would you fix first, and how would you "
            "measure that the fix worked?"),
)


def _run_time(times: dict, notebook: str) -> str:
    row = times["notebooks"].get(notebook) or {}
    parts = [f"{mode} {format_seconds(row[mode])}" for mode in ("default", "quick") if row.get(mode) is not None]
    return ", ".join(parts) or "run time not measured"


def sheet_markdown(results: dict, sweep: dict, reader: dict, times: dict, notebooks=None) -> str:
    """The results sheet as Markdown: one section per notebook, its figures with n and interval, the room's question.

    Example: sheet_markdown(load_shipped(), load_sweep(), reader_info(), load_run_times()).count("Ask the room") -> 8
    `notebooks` (the notebooks' names, default: every one in notebooks/) must each have a section: a notebook
    without one raises ValueError naming it, so a new notebook cannot be left off the sheet.
    """
    known = {s.notebook for s in SECTIONS}
    names = sorted(p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb")) if notebooks is None else notebooks
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"no results-sheet section for {', '.join(missing)}: add one to SECTIONS in labkit/sheet.py "
                         "(its figures and the question for the room), then run `make sheet`")
    rec = Records(results, sweep, reader, times, dict(zip(claims.CLAIMS, claims.claims_table(results), strict=True)))
    lines = ["# Results sheet: what each notebook shows, and what to ask the room", "", MADE_BY, "",
             "For the person at the front of the room ([INSTRUCTOR.md](../INSTRUCTOR.md)). The figures are the kit's "
             "committed records, the ones the README quotes and the notebooks show beside their own: "
             + provenance(results), "",
             "How to read a figure: a rate is mean [95% interval] (n = answers or items), ± the spread over seeds "
             "where a row trains; a difference's interval is a paired bootstrap over questions, and one that "
             "includes zero is \"no measurable difference\". Notebooks 01 to 05 measure live, on their own questions "
             "and settings, so a laptop's printout differs in detail from these figures: the intervals say how much. "
             "The rendered copies in [rendered/](../rendered/) show what each notebook prints in default "
             "mode. Run times: default and quick mode, measured (data/run_times.json)."]
    for s in SECTIONS:
        if s.notebook not in names:
            continue
        lines += ["", f"## {s.notebook[:2]} · {s.title} ({_run_time(times, s.notebook)})", ""]
        lines += s.figures(rec)
        lines += ["", f"**Ask the room:** {s.ask}"]
    return "\n".join(lines) + "\n"


PRINT_CSS = """body { font: 10pt/1.35 system-ui, sans-serif; max-width: 60em; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 15pt; margin: 0 0 0.4em; } h2 { font-size: 11.5pt; margin: 1em 0 0.3em; break-after: avoid; }
ul { margin: 0.2em 0; padding-left: 1.2em; } li { margin: 0.1em 0; } p { margin: 0.3em 0; }
table { border-collapse: collapse; font-size: 9pt; break-inside: avoid; }
th, td { border: 1px solid #999; padding: 1px 5px; text-align: left; } code { font-size: 9pt; }
@page { size: A4; margin: 12mm; } @media print { body { margin: 0; max-width: none; } a { color: inherit; } }"""


def markdown_sha256(markdown: str) -> str:
    """The sha256 of the Markdown a sheet's HTML is made from. Example: markdown_sha256("x")[:8] -> "2d711642"."""
    return hashlib.sha256(markdown.encode("utf-8")).hexdigest()


def sheet_html(markdown: str) -> str:
    """The sheet as one printable HTML page, nothing fetched (styles inline), recording its Markdown's sha256.

    Example: "<table>" in sheet_html("| a |\\n|---|\\n| 1 |\\n") -> True
    """
    try:
        import mistune
    except ImportError as exc:
        raise RuntimeError("the results sheet's HTML needs mistune (nbconvert brings it): pip install -e '.[lab]'") \
            from exc
    body = mistune.create_markdown(escape=True, plugins=["table"])(markdown.replace(MADE_BY, ""))
    title = html.escape(markdown.splitlines()[0].lstrip("# "))
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n"
            f"<meta name=\"labkit-sheet-markdown-sha256\" content=\"{markdown_sha256(markdown)}\">\n"
            f"<style>\n{PRINT_CSS}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


def html_source_sha256(page: str) -> str | None:
    """The Markdown sha256 an HTML sheet records, or None. Example: html_source_sha256(sheet_html("x"))[:8] ->
    "2d711642"."""
    found = re.search(r'<meta name="labkit-sheet-markdown-sha256" content="([0-9a-f]{64})">', page)
    return found.group(1) if found else None


def write_sheet(out=None) -> list[Path]:
    """`labkit sheet`: the sheet from the committed records, as results_sheet.md and results_sheet.html in `out`
    (default docs/).

    Example: write_sheet() -> [PosixPath('docs/results_sheet.md'), PosixPath('docs/results_sheet.html')]
    Both texts are made before either file is written, so a bad record leaves the old sheet whole.
    """
    from labkit.data import load_run_times, load_shipped, load_sweep, reader_info

    markdown = sheet_markdown(load_shipped(), load_sweep(), reader_info(), load_run_times())
    page = sheet_html(markdown)
    out = Path(out) if out is not None else DOCS_DIR
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / SHEET_MD.name, out / SHEET_HTML.name]
    for path, text in zip(paths, (markdown, page), strict=True):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return paths
