"""labkit.readme: one marker convention and one writer for the generated blocks; each block quotes its shipped file."""

import json
import re

import pytest

from labkit import readme
from labkit.config import DATA_DIR, REPO_ROOT
from labkit.data import (
    FOREIGN_CORPORA,
    load_corpus_size,
    load_reader_comparison,
    load_retrieval,
    load_run_times,
    load_shipped,
    reader_info,
)
from labkit.readme import (
    CORPUS_SIZE,
    READER,
    READER_COMPARISON,
    RESULTS,
    RETRIEVAL,
    RUN_TIMES,
    Block,
    read_block,
    replace_block,
    write_block,
)
from labkit.report import reader_comparison_markdown, reader_markdown


def stat(x, spread=0.0):
    return {"mean": x, "spread": spread}


# ---------------------------------------------------------------- the markers and the one writer


def test_every_block_has_its_two_markers_once_in_each_file_that_carries_it():
    carriers = {RESULTS: [REPO_ROOT / "README.md"], RUN_TIMES: [REPO_ROOT / "README.md"],
                CORPUS_SIZE: [REPO_ROOT / "README.md"], RETRIEVAL: [REPO_ROOT / "README.md"],
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


def test_the_readme_corpus_sizes_are_the_measured_ones():
    # made from data/corpus_size.json: regenerate with `nice -n 10 python benchmarks/bench_corpus_size.py --record`
    record = load_corpus_size()
    assert read_block(CORPUS_SIZE) == readme.corpus_size_markdown(record)
    stores = {r["store"] for r in record["rows"]}
    assert {"faiss flat", "faiss ivf", "qdrant embedded"} <= stores
    assert max(r["size"] for r in record["rows"] if r["store"] in ("faiss flat", "faiss ivf")) == 1_000_000
    assert all(r["recall_at_10"] == 1.0 for r in record["rows"] if r["store"] == "faiss flat")  # flat is the reference


def _corpus_record(ivf_ms, qdrant_ms, build_s):
    rows = [{"size": n, "store": store, "build_s": build_s if store == "qdrant embedded" else 0.5, "memory_mb": 10.0,
             "p50_ms": ms, "p95_ms": ms * 2, "recall_at_10": 1.0 if store == "faiss flat" else 0.9,
             "embed_projected_s": n * 0.01}
            for n in (1000, 100_000) for store, ms in (("faiss flat", 50.0 if n == 1000 else 150.0),
                                                        ("faiss ivf", ivf_ms), ("qdrant embedded", qdrant_ms))]
    return {"machine": "m", "date": "d", "commit": "c", "seconds": 60, "load_avg": 1.0, "threads": 1, "queries": 50,
            "top_k": 10, "rows": rows, "embedding": {"sample": 8, "words_per_chunk": 30, "per_chunk_s": 0.01,
                                                     "precision": "float32"}}


def test_the_corpus_size_findings_turn_with_the_figures():
    fast = readme.corpus_size_findings(_corpus_record(ivf_ms=5.0, qdrant_ms=400.0, build_s=2.0))
    assert "passes 100 ms from 100,000 chunks" in fast[0] and "x30.0 faster" in fast[1] and "worth it" in fast[1]
    assert "a Qdrant server" in fast[2] and "past 100 ms from 1,000 chunks" in fast[2]
    assert "the embedder, not the index" in fast[3] and "n=50" in fast[0]
    stopped = _corpus_record(ivf_ms=5.0, qdrant_ms=400.0, build_s=2.0)
    stopped["rows"].append({"size": 1_000_000, "store": "qdrant embedded", "timed_out_s": 600,
                            "embed_projected_s": 1e4})
    assert "at 1,000,000 chunks it did not finish in 10.0 min" in readme.corpus_size_findings(stopped)[2]
    assert "| 1,000,000 | qdrant embedded | not finished in 10.0 min" in readme.corpus_size_markdown(stopped)
    slow = readme.corpus_size_findings(_corpus_record(ivf_ms=500.0, qdrant_ms=1.0, build_s=5000.0))
    assert "flat is the choice" in slow[1] and "as fast as FAISS flat" in slow[2]
    assert "index build costs more" in slow[3]


def test_the_readmes_quote_the_shipped_adapter_figures():
    for path in (DATA_DIR / "README.md", REPO_ROOT / "README.md"):
        assert read_block(READER, path) == reader_markdown(reader_info()), (
            f"{path}'s reader block is made by `labkit train-reader`; do not edit it")
    evaluation = reader_info()["evaluation"]
    assert set(evaluation) == {"held-out documents", "all questions", "foreign corpus"}
    assert all(set(readers) == {"plain", "reading adapter"} for readers in evaluation.values())


def test_the_readme_quotes_the_retrieval_record_and_it_covers_every_corpus():
    # made from data/retrieval.json: regenerate with `python benchmarks/bench_retrieval.py`
    record = load_retrieval()
    assert read_block(RETRIEVAL) == readme.retrieval_markdown(record)
    assert set(record["corpora"]) == {"kb", *(p.name for p in FOREIGN_CORPORA)}, (
        "a foreign corpus was added or removed since the retrieval benchmark ran: run it again")
    assert all(set(c["retrievers"]) == {"dense", "bm25", "hybrid"} for c in record["corpora"].values())


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
