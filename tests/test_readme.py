"""labkit.readme: one marker convention and one writer for the generated blocks; each block quotes its shipped file."""

import json
import re

import pytest

from labkit import readme
from labkit.config import DATA_DIR, REPO_ROOT
from labkit.data import FOREIGN_CORPORA, load_reader_comparison, load_run_times, load_shipped, reader_info
from labkit.readme import READER, READER_COMPARISON, RESULTS, RUN_TIMES, Block, read_block, replace_block, write_block
from labkit.report import reader_comparison_markdown, reader_markdown


def stat(x, spread=0.0):
    return {"mean": x, "spread": spread}


# ---------------------------------------------------------------- the markers and the one writer


def test_every_block_has_its_two_markers_once_in_each_file_that_carries_it():
    carriers = {RESULTS: [REPO_ROOT / "README.md"], RUN_TIMES: [REPO_ROOT / "README.md"],
                READER: [REPO_ROOT / "README.md", DATA_DIR / "README.md"],
                READER_COMPARISON: [REPO_ROOT / "README.md", DATA_DIR / "README.md"]}
    for block, paths in carriers.items():
        assert re.fullmatch(r"<!-- [a-z ]+: made by .+; do not edit by hand -->", block.begin)
        assert block.end == f"<!-- end of {block.name} -->"
        for path in paths:
            text = path.read_text()
            assert text.count(block.begin) == text.count(block.end) == 1, (path.name, block.name)
            assert text.index(block.begin) < text.index(block.end)


def test_replace_block_changes_only_what_is_between_the_markers_and_refuses_a_missing_or_reversed_pair(tmp_path):
    b = Block("x", "a test")
    text = f"# kit\nbefore\n{b.begin}\nold numbers 0.99\n{b.end}\nafter\n"
    new = replace_block(text, b, "new\nlines")
    assert new == f"# kit\nbefore\n{b.begin}\nnew\nlines\n{b.end}\nafter\n"
    assert replace_block(new, b, "old numbers 0.99") == text  # the round trip gives the file back, byte for byte
    for broken in ("# kit\n", f"{b.begin}\nno end\n", f"{b.end}\nwrong order\n{b.begin}\n"):
        with pytest.raises(ValueError, match="no x block"):
            replace_block(broken, b, "x")
    path = tmp_path / "README.md"
    path.write_text(text)
    assert write_block(path, b, "written") == path and read_block(b, path) == "written"
    assert path.read_text().startswith("# kit\nbefore\n") and path.read_text().endswith(f"{b.end}\nafter\n")


# ---------------------------------------------------------------- each block quotes its shipped file


def test_the_readme_quotes_the_shipped_results_exactly():
    # every figure in the README's results section is made from data/results.json: regenerate with `labkit publish`
    shipped = load_shipped()
    assert shipped["quick"] is False
    assert read_block(RESULTS) == readme.readme_markdown(shipped)


def test_the_readme_run_times_are_the_measured_ones():
    # the run-time table is made from data/run_times.json: regenerate with `python benchmarks/bench_notebooks.py`
    times = load_run_times()
    assert read_block(RUN_TIMES) == readme.run_times_markdown(times)
    notebooks = sorted(p.stem for p in (REPO_ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(times["notebooks"]) == notebooks  # every notebook has its row
    assert all(row.get("default") for row in times["notebooks"].values())  # the default mode is measured for each


def test_the_readmes_quote_the_shipped_adapter_figures():
    for path in (DATA_DIR / "README.md", REPO_ROOT / "README.md"):
        assert read_block(READER, path) == reader_markdown(reader_info()), (
            f"{path}'s reader block is made by `labkit train-reader`; do not edit it")
    evaluation = reader_info()["evaluation"]
    assert set(evaluation) == {"held-out documents", "all questions", "foreign corpus"}
    assert all(set(readers) == {"plain", "reading adapter"} for readers in evaluation.values())


def test_the_readmes_quote_the_reader_comparison_on_every_corpus():
    record = load_reader_comparison()
    for path in (DATA_DIR / "README.md", REPO_ROOT / "README.md"):
        assert read_block(READER_COMPARISON, path) == reader_comparison_markdown(record), (
            f"{path}'s reader comparison is made by benchmarks/bench_readers.py; do not edit it")
    # every foreign corpus is measured, with both readers
    assert set(record["sets"]) == {*record["kit_sets"], *(p.name for p in FOREIGN_CORPORA)}
    assert all(set(entry["readers"]) == {"plain", "reading adapter"} for entry in record["sets"].values())


def test_no_notebook_types_its_own_run_time():
    """Run times live in one measured table (the README's); a header with typed minutes drifts from it."""
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        text = " ".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"]
                        == "markdown")
        for sentence in re.findall(r"\*\*Run time[.:]\*\*[^\n]*", text):
            assert not re.search(r"\d+(\.\d+)?\s*(s\b|sec|min)", sentence), f"{path.name}: {sentence[:120]}"


def test_readme_section_is_the_one_notebook_table(tmp_path):
    assert readme.readme_section("The notebooks").startswith("| notebook |")  # notebook 00 shows this, not a copy
    path = tmp_path / "README.md"
    path.write_text("# kit\n\n## A\none\n\n## B\ntwo\n")
    assert readme.readme_section("A", path) == "one" and readme.readme_section("B", path) == "two"
    with pytest.raises(ValueError, match="no section 'C'"):
        readme.readme_section("C", path)


# ---------------------------------------------------------------- the shipped run in words


def test_provenance_names_both_precisions_when_the_run_recorded_them():
    shipped = load_shipped()
    run = {**shipped, "train_precision": "bfloat16", "answer_precision": "float32"}
    assert "training matmuls in bfloat16, answering matmuls in float32" in readme.provenance(run)
    older = {k: v for k, v in run.items() if k != "answer_precision"}  # runs before the field: nothing is guessed
    assert "answering" not in readme.provenance(older)


def test_reversals_name_only_the_orderings_that_flip():
    def board(**acc):
        return {a.replace("_", " "): {"accuracy": stat(v)} for a, v in acc.items()}
    full = {"scoreboard": board(RAG=0.27, fine_tuned=0.46, closed_book=0.02),
            "behaviour": {"lora": {"label_accuracy": 0.9}, "few_shot": {"label_accuracy": 0.4}}}
    quick = {"scoreboard": board(RAG=0.40, fine_tuned=0.33, closed_book=0.07),
             "behaviour": {"lora": {"label_accuracy": 0.38}, "few_shot": {"label_accuracy": 0.75}}}
    lines = readme.reversals(quick, full)
    assert len(lines) == 2 and "fine tuned behind RAG (0.33 against 0.40); the full run puts it ahead of" in lines[0]
    assert "LoRA on triage labels behind retrieved examples" in lines[1]
    assert readme.reversals(full, full) == ["- This run orders every approach as the full run does."]


def test_the_multi_document_cell_carries_its_n():
    multi = {"mean": 0.25, "spread": 0.0, "n": 4, "lo": 0.05, "hi": 0.70}
    assert readme._with_n(multi) == "0.25 [0.05, 0.70] (n=4)" and readme._with_n(None) == "n/a"
