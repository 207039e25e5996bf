"""Notebooks 06 and 07 as a learner opens them by default: they show the shipped full run (LABKIT_LIVE=0), not a
live one.

`make test` validates every notebook live in quick mode (nbval); this runs the two that can also show the shipped
results, in that mode, inside the same parallel run (a separate pytest pass after it cost the suite its length).
Every cell must run and every assert in it hold on the shipped data/results.json, except those tagged
`same-in-both-modes`: they read nothing of the run (06's playground and its closed-book-versus-RAG exercise, ~40 s of
answers), are the same code in both modes and run in the live nbval pass.
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SAME = "same-in-both-modes"  # a cell that reads nothing of the run: the live pass runs it


def test_the_cells_left_to_the_live_pass_read_nothing_of_the_run():
    for name in ("06_side_by_side", "07_combining_and_choosing"):
        for cell in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells:
            if SAME in cell.metadata.get("tags", []):
                assert not any(word in cell.source for word in ("results", "shipped", "RUN_LIVE", "board")), cell.source


@pytest.mark.parametrize("name", ["06_side_by_side", "07_combining_and_choosing"])
def test_the_notebook_runs_on_the_shipped_results(name, monkeypatch):
    monkeypatch.setenv("LABKIT_LIVE", "0")
    monkeypatch.delenv("LABKIT_QUICK", raising=False)  # a learner's default: full mode, which reads the shipped run
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells = [c for c in notebook.cells if SAME not in c.metadata.get("tags", [])]
    where = {"metadata": {"path": str(NOTEBOOKS)}}
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources=where)
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    streams = [o.get("text", "") for o in outputs if o.get("output_type") == "stream"]
    # it showed the shipped run, it did not run live
    assert any("Precomputed, not run here" in text for text in streams)
