"""The notebooks' prose follows the numbers (issue 26): no measured figure typed into prose, no comparison without its
figure.

Two checks over every notebooks/*.ipynb, reading the JSON only (nothing is run):
- no measured-looking decimal (0.xx) in a markdown cell or a code comment: a learner reads it as a result, and it goes
  stale when the run is re-made. Lines that name a chance level or a guess are allowed; an assert's calibration
  belongs in tests/notebook_calibration.md.
- in notebooks 02, 03, 06 and 07, a markdown sentence that compares approaches ("ahead of", "behind", "beats", "better
  than", "outperforms", "worse than", "wins", "leads") either asks it (ends with "?": the learner checks it against a
  printed figure) or sits right under or above a code cell that prints (print, display or Markdown); in the opener
  (cell 0) only a question passes. A heuristic: it checks that a figure is printed beside the sentence, not that the
  figure says what the sentence says, and a comparison worded without these words passes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
DECIMAL = re.compile(r"(?<![\w.])0\.\d\d(?!\d)")
ALLOWED = re.compile(r"guess|chance", re.I)
COMPARES = re.compile(r"\b(ahead of|behind|beats?|better than|outperforms?|worse than|wins|leads?)\b", re.I)
PRINTS = re.compile(r"\b(print|display|Markdown)\(")
CHECKED = ("02", "03", "06", "07")  # the notebooks whose openers and conclusions compare approaches


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def prose_lines(cell: dict) -> list[str]:
    """A markdown cell's lines, or a code cell's comments (what follows the first # of a line)."""
    text = "".join(cell["source"])
    if cell["cell_type"] == "markdown":
        return text.splitlines()
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def typed_decimals(path: Path) -> list[str]:
    return [f"{path.name} cell {i}: {line.strip()[:120]}" for i, cell in enumerate(cells(path))
            for line in prose_lines(cell) if DECIMAL.search(line) and not ALLOWED.search(line)]


def unbacked_comparisons(path: Path) -> list[str]:
    found, nb = [], cells(path)
    for i, cell in enumerate(nb):
        if cell["cell_type"] != "markdown":
            continue
        # the figure sits right above or below; the opener (cell 0) sits above the imports: it prints nothing it claims
        beside = nb[i - 1:i + 2:2]  # the cells just above and just below
        printed = i > 0 and any(c["cell_type"] == "code" and PRINTS.search("".join(c["source"])) for c in beside)
        for sentence in re.split(r"(?<=[.?!])\s+", "".join(cell["source"])):
            if COMPARES.search(sentence) and not sentence.rstrip().endswith("?") and not printed:
                found.append(f"{path.name} cell {i}: {sentence.strip()[:120]}")
    return found


def test_the_checks_catch_what_they_are_for():
    assert DECIMAL.search("RAG answers 0.27 of the questions") and not DECIMAL.search("a 1.0 ceiling, 10.25 s, v0.12")
    assert prose_lines({"cell_type": "code", "source": ["x = 1  # measured 0.46\n"]}) == [" measured 0.46"]
    assert COMPARES.search("Fine-tuning is well ahead of RAG.")
    assert not COMPARES.search("a better retriever will not help")


def test_a_comparison_passes_only_as_a_question_or_beside_a_print(tmp_path):
    def notebook(*cells_):
        path = tmp_path / "02_x.ipynb"
        nb = {"cells": [{"cell_type": kind, "source": [text]} for kind, text in cells_]}
        path.write_text(json.dumps(nb), encoding="utf-8")
        return path

    assert unbacked_comparisons(notebook(("markdown", "RAG beats fine-tuning."), ("code", "print(acc)")))  # the opener
    assert not unbacked_comparisons(notebook(("markdown", "Does RAG beat fine-tuning here?"), ("code", "x = 1")))
    setup = ("code", "import labkit")
    claim = ("markdown", "RAG is ahead of the fine-tune.")
    assert unbacked_comparisons(notebook(("markdown", "Intro."), setup, claim, setup))
    assert not unbacked_comparisons(notebook(("markdown", "Intro."), ("code", "print(acc)"), claim))


def test_no_measured_decimal_is_typed_into_a_notebook():
    hits = [hit for path in NOTEBOOKS for hit in typed_decimals(path)]
    assert not hits, ("measured-looking decimals in notebook prose or comments (print them, or move an assert's "
                      "calibration to tests/notebook_calibration.md):\n" + "\n".join(hits))


def test_a_comparison_of_approaches_sits_beside_the_figure_it_rests_on():
    hits = [hit for path in NOTEBOOKS if path.name[:2] in CHECKED for hit in unbacked_comparisons(path)]
    assert not hits, ("a sentence compares approaches with no printed figure right beside it (print it, or ask it as a "
                      "question):\n" + "\n".join(hits))


def test_every_notebook_is_read():
    assert {p.name[:2] for p in NOTEBOOKS} >= {"00", "01", "02", "03", "04", "05", "06", "07"}


# ---------------------------------------------------------------- counts and settings quoted in prose (issue 27)

WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
         "eleven": 11, "twelve": 12}
QUOTE = re.compile(r"\b(\d+|" + "|".join(WORDS) + r"|a (?:few )?hundred|over a hundred)\s+(?:[\w-]+\s+)?"
                   r"(questions?|steps?|items?|documents?|updates?|chunks?|seeds?|messages?|facts?|topics?|ways|rows|"
                   r"sources?|choices|distractors|intents|ranks?|learning rates|runs?)\b", re.I)


def _checked_quotes() -> dict:
    """Every count or setting a notebook's prose quotes, with the value the data, the config or the code gives it:
    (notebook, the words quoted) -> a function returning True when they agree."""
    from labkit import capstone
    from labkit.behaviour_facts import BEHAVIOUR_FACTS_APPROACHES
    from labkit.data import TRIAGE_INTENTS, load_probe, load_qa, load_shipped, load_sweep
    from labkit.forgetting import sweep_runs

    def code(nb, literal):
        return lambda: any(literal in "".join(c["source"]) for c in cells(next(p for p in NOTEBOOKS
                                                                                if p.name.startswith(nb)))
                           if c["cell_type"] == "code")

    def lrs(method):
        return len({r["entry"]["lr"] for r in sweep_runs(load_sweep(), method, replay=0.0)})

    return {
        ("01", "three questions"): code("01", "qa[:3]"),  # the cell asks the first three
        ("01", "four choices"): lambda: {len(q["distractors"]) + 1 for q in load_qa()} == {4},
        ("01", "over a hundred encyclopedia facts"): lambda: 100 < len(load_probe()) < 200,
        ("02", "three seeds"): lambda: len(load_shipped()["seeds"]) == 3,
        ("06", "three seeds"): lambda: len(load_shipped()["seeds"]) == 3,
        ("03", "a few hundred chunks"): lambda: 200 <= len(__import__("labkit.corpus", fromlist=["x"]).chunk_corpus(
            __import__("labkit.documents", fromlist=["x"]).load_folder(__import__("labkit.config", fromlist=["x"])
                                                                       .KB_DIR))) < 1000,
        ("04", "three distractors"): lambda: {len(q["distractors"]) for q in load_qa()} == {3},
        ("06", "three distractors"): lambda: {len(q["distractors"]) for q in load_qa()} == {3},
        ("05", "three learning rates"): lambda: lrs("lora") == lrs("full") == 3,
        ("07", "eight intents"): lambda: len(TRIAGE_INTENTS) == 8,
        ("07", "Three ways"): lambda: len(BEHAVIOUR_FACTS_APPROACHES) == 3,
        ("08", "five questions"): lambda: capstone.MIN_QUESTIONS == 5,
        ("08", "3 sources"): lambda: __import__("inspect").signature(capstone.run_capstone)
        .parameters["top_k"].default == 3,
    }


# words that match the pattern but quote no count of the kit's data or settings
NOT_COUNTS = {("01", "two ways"), ("02", "two gold documents"), ("05", "two curves update"),
              ("04", "05 compares ranks"), ("02", "00 run"), ("02", "03 changes facts")}


def quoted_counts(path: Path) -> list[tuple[str, str, str]]:
    """(notebook number, the words quoted, the line) for every count-like phrase in markdown or a code comment; an
    exercise's task (labkit.exercises words it, tests/test_exercises.py checks the notebook shows it as checked), a
    line a learner is told to change ("change me") and a comment quoting its own line's code are left out."""
    found = []
    for cell in cells(path):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and re.match(r"\*\*(\d+\.|Your turn)", text):
            continue
        lines = text.splitlines() if cell["cell_type"] == "markdown" else [line for line in text.splitlines()
                                                                           if "#" in line]
        for line in lines:
            code, _, prose = line.partition("#") if cell["cell_type"] == "code" else ("", "", line)
            if "change me" not in prose:
                found += [(path.name[:2], m.group(0), prose.strip()) for m in QUOTE.finditer(prose)
                          if not re.search(rf"\b{m.group(1)}\b", code)]
    return found


def test_every_count_quoted_in_prose_is_checked_against_the_data():
    """Issue 27: "15 questions" (06) where quick mode asks 12, "(16 steps)", "five ways" above seven rows... A count
    quoted in prose is either printed by the cell instead, or listed in _checked_quotes with what it must equal."""
    checks = _checked_quotes()
    unchecked = [f"{nb}: {words!r} in {line[:100]!r}" for path in NOTEBOOKS for nb, words, line in quoted_counts(path)
                 if (nb, words) not in checks and (nb, words) not in NOT_COUNTS]
    assert not unchecked, "counts quoted in notebook prose with no check (print them, or add a check):\n" + \
        "\n".join(unchecked)
    wrong = [key for key, agrees in checks.items() if not agrees()]
    assert not wrong, f"quoted counts the data no longer gives: {wrong}"


def test_the_quote_scanner_catches_what_it_is_for():
    assert QUOTE.search("the same model five ways on the same questions").group(0) == "five ways"
    assert QUOTE.search("one seed, 15 questions, 24 steps").group(0) == "15 questions"
    assert not QUOTE.search("hand-written questions")


def test_the_first_load_time_quoted_in_the_readme_and_the_instructors_guide_is_the_measured_one():
    from labkit.data import load_run_times

    load = load_run_times()["generator_load"]
    first, cached = f"{load['first_s']:.0f} s", f"{load['cached_s']:.0f} s"
    root = NOTEBOOKS[0].parent.parent
    readme, guide = (root / "README.md").read_text(), (root / "INSTRUCTOR.md").read_text()
    assert f"({first} when measured, later loads {cached}:" in readme
    assert f"({first} when measured) and caches it; later loads take {cached}" in guide
    assert not re.search(r"first (?:model )?load[^.]*~\d+ s", readme + guide)


# ---------------------------------------------------------------- time warnings before slow cells (issue 27)

WARNING = re.compile(r'warn_if_slow\("([\w-]+)", "([\w-]+)"\)')


def test_each_slow_cell_warns_first_and_each_warning_names_its_own_cell():
    """A cell measured over labkit.data.SLOW_CELL_S in default mode (data/run_times.json, benchmarks/bench_notebooks.py)
    prints a one-line warning, from the measured figure, before its work; a warning names the cell it sits in."""
    from labkit.data import SLOW_CELL_S, load_run_times

    times = load_run_times().get("cells") or {}
    missing, misnamed = [], []
    for path in NOTEBOOKS:
        slow = {cid for cid, s in (times.get(path.stem) or {}).get("default", {}).items() if s > SLOW_CELL_S}
        for cell in cells(path):
            calls = WARNING.findall("".join(cell["source"]))
            misnamed += [f"{path.stem} {cell.get('id')}: {c}" for c in calls if c != (path.stem, cell.get("id"))]
            if cell.get("id") in slow and not calls:
                missing.append(f"{path.stem} {cell.get('id')}")
    assert not misnamed, f"warnings naming another cell: {misnamed}"
    assert not missing, f"cells over {SLOW_CELL_S:.0f} s in default mode with no warning first: {missing}"
