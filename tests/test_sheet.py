"""labkit.sheet: the instructor's results sheet is what `labkit sheet` writes from the committed records, every rate on
it carries its n and interval, and every notebook has its section and its question."""

import re

import pytest

from labkit import sheet
from labkit.config import REPO_ROOT
from labkit.data import load_run_times, load_shipped, load_sweep, reader_info

NOTEBOOKS = sorted(p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def made():
    """The sheet made now from the committed records (about 2 s: the claims' bootstraps), shared by the tests."""
    return sheet.sheet_markdown(load_shipped(), load_sweep(), reader_info(), load_run_times())


def test_the_committed_sheet_is_what_labkit_sheet_writes_from_the_committed_records(made):
    fix = "docs/results_sheet.md and .html are made from data/ by `make sheet` (labkit sheet): run it, then commit"
    assert sheet.SHEET_MD.read_text(encoding="utf-8") == made, fix
    page = sheet.SHEET_HTML.read_text(encoding="utf-8")
    assert sheet.html_source_sha256(page) == sheet.markdown_sha256(made), fix  # the HTML made from this Markdown


def test_every_notebook_has_its_section_and_its_question(made):
    headings = re.findall(r"^## (\d\d) · ", made, flags=re.M)
    assert headings == [n[:2] for n in NOTEBOOKS]
    assert made.count("**Ask the room:**") == len(NOTEBOOKS)
    with pytest.raises(ValueError, match="no results-sheet section for 08_bring_your_own.*make sheet"):
        sheet.sheet_markdown(load_shipped(), load_sweep(), reader_info(), load_run_times(),
                             notebooks=[*NOTEBOOKS, "08_bring_your_own"])


def test_no_question_for_the_room_types_a_figure():
    """The questions are fixed prose: a number in one would not follow the records."""
    for section in sheet.SECTIONS:
        assert not re.search(r"\d", section.ask), section.notebook


def test_every_rate_on_the_sheet_carries_its_n_and_its_interval(made):
    # each rate or difference with its [low, high]: the text after it, up to the next such figure or the table cell's
    # end, says over how many answers or items; a table's paired differences carry theirs in the column heading
    interval = re.compile(r"[+-]?\d\.\d\d \[[+-]?\d\.\d\d, [+-]?\d\.\d\d\]")
    found = 0
    for line in made.splitlines():
        for part in line.split("|") if line.startswith("|") else [line]:
            matches = list(interval.finditer(part))
            for match, after in zip(matches, [*matches[1:], None], strict=False):  # each, and the next
                found += 1
                rest = part[match.end():after.start() if after else None]
                difference_cell = line.startswith("|") and match.group()[0] in "+-"
                assert difference_cell or re.search(r"\(n=\d+|\d+ items\)|over \d+ questions", rest), (
                    f"a figure without its n: {part.strip()[:120]!r}")
    assert found > 40  # the sheet's figures, not an empty page
    assert len(re.findall(r"\| vs RAG \(paired, n=\d+\) \|", made)) == 2


def test_the_sheet_quotes_the_figures_the_readme_and_notebooks_print(made):
    from labkit.findings import fmt_n, versus
    from labkit.forgetting import run_finding
    from labkit.keys import Approach

    shipped, sweep = load_shipped(), load_sweep()
    assert fmt_n(shipped["scoreboard"][Approach.CLOSED_BOOK]["general_acc"]) in made
    assert versus(shipped, Approach.FINE_TUNED) in made
    run = next(r for r in sweep["runs"] if r["key"] == sheet.SWEEP_KEYS[0])
    assert run_finding(run, sweep["setup"]["num_probe"]).removeprefix("- ") in made


def test_the_html_is_printable_offline_and_escapes_what_it_quotes():
    md = "# Title\n\n" + sheet.MADE_BY + "\n\n| a | b |\n|---|---|\n| <script>x</script> | 2 |\n"
    page = sheet.sheet_html(md)
    assert "<table>" in page and "&lt;script&gt;" in page and "<script>" not in page
    assert not re.search(r"(src|href)=\"https?://", page)  # nothing fetched: the styles are inline
    assert "do not edit by hand" not in page  # the Markdown's marker comment stays out of the page
    assert sheet.html_source_sha256(page) == sheet.markdown_sha256(md) != sheet.markdown_sha256(md + " ")


def test_write_sheet_writes_both_files(tmp_path, made, monkeypatch):
    monkeypatch.setattr(sheet, "sheet_markdown", lambda *records: made)  # made above from the same records
    paths = sheet.write_sheet(tmp_path / "docs")
    assert [p.name for p in paths] == ["results_sheet.md", "results_sheet.html"]
    assert paths[0].read_text(encoding="utf-8") == made
    assert sheet.html_source_sha256(paths[1].read_text(encoding="utf-8")) == sheet.markdown_sha256(made)
