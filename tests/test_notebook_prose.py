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
