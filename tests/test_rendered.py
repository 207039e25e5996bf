"""labkit.rendered: the shipped rendered copies match the notebooks and records they were made from; a changed notebook,
a missing copy or a changed record is named with `make rendered`; the HTML fetches nothing."""

import json
import re

import nbformat
import pytest

from labkit import rendered


def test_every_notebook_has_a_rendered_copy_made_from_its_current_source():
    if rendered.load_manifest() is None:
        pytest.skip("no rendered copies yet (rendered/manifest.json is missing): `make rendered` makes them")
    problems = rendered.stale()
    assert not problems, "\n".join(problems)


def notebook(path, *sources, outputs=()):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    for cell, out in zip(nb.cells, outputs, strict=False):
        cell.outputs, cell.execution_count = [out], 1
    nbformat.write(nb, path)
    return path


@pytest.fixture
def kit(tmp_path):
    """A notebooks folder of two, a record, and a manifest that matches them (as `labkit render` writes it)."""
    books, out, record = tmp_path / "notebooks", tmp_path / "rendered", tmp_path / "results.json"
    books.mkdir(), out.mkdir()
    record.write_text('{"accuracy": 0.5}')
    entries = {}
    for stem in ("00_a", "01_b"):
        path = notebook(books / f"{stem}.ipynb", f"print('{stem}')")
        (out / f"{stem}.html").write_text("<html></html>")
        entries[stem] = {"html": f"{stem}.html", "source_sha256": rendered.source_sha256(path), "commit": "abc1234",
                         "records": rendered.record_hashes([record])}
    (out / rendered.MANIFEST).write_text(json.dumps({"notebooks": entries}))
    return books, out, record


def stale(kit):
    books, out, record = kit
    return rendered.stale(books, out, [record])


def test_current_copies_are_not_stale_and_outputs_do_not_count(kit):
    assert stale(kit) == []
    books = kit[0]
    # the same cells run: outputs and an execution count are not the source
    notebook(books / "01_b.ipynb", "print('01_b')", outputs=[nbformat.v4.new_output("stream", text="01_b\n")])
    assert stale(kit) == []


@pytest.mark.parametrize("change, words", [
    (lambda b, o, r: notebook(b / "01_b.ipynb", "print('01_b, edited')"),
     "01_b changed after its rendered copy (made at commit abc1234)"),
    (lambda b, o, r: notebook(b / "02_c.ipynb", "print(2)"), "02_c has no rendered copy"),
    (lambda b, o, r: (o / "00_a.html").unlink(), "00_a's rendered copy 00_a.html is missing"),
    (lambda b, o, r: (b / "01_b.ipynb").unlink(), "a copy of 01_b, which is no longer a notebook"),
    (lambda b, o, r: r.write_text('{"accuracy": 0.6}'), "00_a's rendered copy shows"),
])
def test_each_way_a_copy_falls_behind_is_named_with_the_fix(kit, change, words):
    change(*kit)
    problems = stale(kit)
    assert problems and any(words in p for p in problems), problems
    assert all("make rendered" in p for p in problems)


def test_notebook_names_are_checked_before_anything_runs(kit):
    books = kit[0]
    assert rendered.notebook_paths(["01"], books) == [books / "01_b.ipynb"]
    assert rendered.notebook_paths(None, books) == [books / "00_a.ipynb", books / "01_b.ipynb"]
    with pytest.raises(ValueError, match="no notebook '../x': name one of 00_a, 01_b"):
        rendered.notebook_paths(["../x"], books)


def test_the_html_fetches_nothing_and_says_how_it_was_made():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Zebra lesson $x^2$"),
                                         nbformat.v4.new_code_cell("w")])
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={
        "text/plain": "HBox()", rendered.WIDGET_VIEW: {"model_id": "1", "version_major": 2, "version_minor": 0}})]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    page = rendered.export_html(nb, "*Rendered copy, commit abc1234.*")
    assert not re.search(r"(src=|import\()[\"']?https?://", page)  # no CDN script: opening it offline loses nothing
    assert "widget-state" not in page and "it shows when you run the notebook" in page
    assert page.index("Rendered copy, commit abc1234") < page.index("Zebra lesson")  # the banner comes first
    assert nb.cells[0].source == "# Zebra lesson $x^2$" and len(nb.cells) == 2  # the notebook given is left as it was


def test_the_index_lists_each_copy():
    text = rendered.index_markdown({"notebooks": {"01_b": {"html": "01_b.html", "commit": "abc1234",
                                                           "date": "2026-12-07", "seconds": 41.6}}})
    assert "| `01_b` | [01_b.html](01_b.html) | abc1234 | 2026-12-07 | 42 s |" in text
