"""labkit.report: cells, tables, "what it means" from the numbers, the written report, the latest-results cache."""

import json

import pytest

from labkit import findings, report
from labkit.stats import rate_text


def stat(x, spread=0.0):
    return {"mean": x, "spread": spread}


def test_scoreboard_markdown_has_a_row_per_approach_and_a_column_per_metric():
    board = {"RAG": {"accuracy": stat(0.27)}, "closed-book": {"accuracy": stat(0.02)}}
    lines = report.scoreboard_markdown(board).splitlines()
    assert lines[0].startswith("| approach | n taught | n untaught | accuracy (match), taught questions | accuracy "
                               "(match), untaught")
    assert len(lines) == 4 and lines[2].startswith("| RAG |  |  | 0.27 | n/a |") and lines[3].startswith(
        "| closed-book |  |  | 0.02 |")
    board["RAG"]["untaught_acc"] = {"mean": 0.3, "spread": 0.0, "n": 75, "lo": 0.2, "hi": 0.41}
    assert report.scoreboard_markdown(board).splitlines()[2].startswith("| RAG |  | 75 | 0.27 | 0.30 [0.20, 0.41] |")


def test_cost_markdown_rows():
    cp = {"rows": [{"model": "7B model", "device": "this CPU", "train": "1.3 h", "per_answer": "2.0 s",
                    "assumption": "measured"}]}
    assert report.cost_markdown(cp).splitlines()[2] == "| 7B model | this CPU | 1.3 h | 2.0 s | measured |"


def test_write_report_and_latest_cache(tiny_results, tmp_path, monkeypatch):
    path = report.write_report(tiny_results, tmp_path)
    text = path.read_text()
    assert "| RAFT + RAG |" in text and "estimates" in text and "## Freshness" in text and "## What it means" in text
    # the reading adapter's held-out and foreign figures come from the shipped record; the retrained row says what it
    # cost the rest
    assert "| foreign corpus | reading adapter |" in text and "data/reader/labkit.json" in text
    assert "continuing the fine-tuned adapter" in text and "unchanged facts" in text
    assert (
        "## Behaviour + facts" in text
        and "| behaviour LoRA + RAG | 1.00 [0.86, 1.00] |" in text
        and "- Behaviour + facts (24 support" in text
    )
    for name in ("scoreboard.png", "freshness.png", "accuracy_vs_cost.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "results.json").read_text())["scoreboard"] == tiny_results["scoreboard"]
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    assert report.load_latest() is None
    report.save_latest(tiny_results)
    assert report.load_latest()["scoreboard"] == tiny_results["scoreboard"]


def test_rate_carries_its_interval_and_n():
    assert rate_text(0.9, 40) == "0.90 [0.77, 0.96] (n=40)" and rate_text(0.9, 40, show_n=False) == "0.90 [0.77, 0.96]"


@pytest.fixture
def tiny_results():
    """A hand-made results dict with every section the report draws (no model run needed)."""
    return make_tiny_results()


def make_tiny_results() -> dict:
    """The `tiny_results` record, for other test files (test_publish) to build their own fixture from."""
    approaches = ("closed-book", "RAG", "reading adapter + RAG", "fine-tuned", "fine-tuned (docs)", "fine-tuned + RAG",
                  "RAFT + RAG")
    metrics = ("accuracy", "f1", "mc_acc", "cited", "cited_gold", "general_acc", "latency_p50_s", "prompt_tokens",
               "index_build_s", "train_s", "index_bytes", "adapter_bytes")
    board = {a: {m: stat(0.1 * (i + 1)) for m in metrics} for i, a in enumerate(approaches)}
    fresh = {k: {"new": stat(0.3), "old": stat(0.1)} for k
             in ("RAG after update", "fine-tuned (stale)", "fine-tuned retrained")}
    fresh |= {k: stat(1.0) for k
              in ("update_s", "update_per_document_s", "retrain_s", "n_updates", "n_questions", "num_retrain_steps")}
    fresh |= {"kept_acc_before": stat(0.5), "kept_acc_after": stat(0.4)}
    behaviour = {"num_test": 8, "top_k": 4, "num_steps": 24,
                 **{n: {"label_accuracy": 0.5, "format_compliance": 0.9, "priority_accuracy": 0.6,
                        "prompt_tokens": 40.0,
                        "seconds_per_message": 0.7, "train_s": 3.0} for n in ("zero_shot", "few_shot", "lora")},
                 "behaviour_facts": behaviour_facts_result(0.9)}
    cp = {"train_tokens": 1000, "total_params": 135e6,
          "rows": [{"model": "SmolLM2-135M", "device": "this CPU", "train": "9 s", "per_answer": "0.1 s",
                    "assumption": "measured"}]}
    return {"config": {"seeds": [0], "rank": 16, "num_steps": 24, "top_k": 3}, "quick": True, "seconds": 12.0,
            "seeds": [{"n_questions": 15}], "scoreboard": board, "freshness": fresh, "behaviour": behaviour,
            "cost_projection": cp, "train_tokens_per_s": 160.0}


def test_cost_over_time_table_has_a_year_per_frequency_and_names_crossings(tiny_results):
    text = report.cost_over_time_markdown(tiny_results)
    assert text.splitlines()[0].startswith("| approach | kept current by | one-off (s) | per change (s) | daily: a "
                                           "year (s)")
    assert "Crossings:" in text and "| RAG | index update |" in text


def test_miss_split_table_has_rates_with_intervals_and_says_when_not_measured():
    rag = {"accuracy": {"mean": 0.3, "spread": 0.0, "n": 40, "lo": 0.18, "hi": 0.45},
           "retrieval_miss": {"mean": 0.05, "spread": 0.0, "n": 40, "lo": 0.01, "hi": 0.17},
           "reading_miss": {"mean": 0.65, "spread": 0.0, "n": 40, "lo": 0.49, "hi": 0.78}}
    table = report.miss_split_markdown({"closed-book": {"accuracy": rag["accuracy"], "retrieval_miss": None},
                                        "RAG": rag})
    assert table.splitlines()[2] == "| RAG | 40 | 0.30 [0.18, 0.45] | 0.05 [0.01, 0.17] | 0.65 [0.49, 0.78] |"
    assert len(table.splitlines()) == 3  # closed-book has no sources, so no row
    assert "Not measured in this run" in report.miss_split_markdown({"RAG": {"accuracy": rag["accuracy"]}})


def test_the_reader_table_quotes_the_record_and_leaves_the_markers_to_the_readme():
    from labkit.data import reader_info

    info = reader_info()
    text = report.reader_markdown(info)
    assert text.startswith(f"`{info['command']}` trained it in {info['train_s']:.0f} s") and "<!--" not in text
    held = info["evaluation"]["held-out documents"]["reading adapter"]
    assert f"| held-out documents | reading adapter | {held['accuracy']:.2f} " in text
    # no table unmeasured
    assert report.reader_markdown({k: v for k, v in info.items() if k != "evaluation"}).count("\n") == 1


def _rate(hits, n):
    from labkit.stats import wilson_interval

    return {"rate": round(hits / n, 4), "hits": hits, "n": n, "ci95": list(wilson_interval(hits / n, n))}


def _reader(right, n, shown, retrieval, reading, abstained, quotes=0, empty=0):
    """summarize_reader's shape (labkit.reader imports torch: this test stays cheap without it)."""
    return {"accuracy": round(right / n, 4), "n": n, "right": right, "accuracy_95": _rate(right, n)["ci95"],
            "gold_shown": _rate(shown, n), "retrieval_misses": _rate(retrieval, n),
            "reading_misses": _rate(reading, n), "abstain_gold_shown": _rate(abstained, shown),
            "abstain_unanswerable": _rate(3, 8), "quotes": _rate(quotes, n + 8), "empty": _rate(empty, n + 8),
            "answer_p50_s": 1.234}


def test_the_reader_comparison_has_a_row_per_set_and_reader_and_names_what_holds_each_corpus_back():
    record = {"command": "python benchmarks/bench_readers.py", "machine": "Linux, 2 CPU cores", "date": "2026-01-02",
              "commit": "abc1234", "retrieval": "index_folder's defaults: kind flat", "top_k": 3,
              "kit_sets": ["held-out documents"], "load_average": {"mean": 7.5, "max": 8.2, "samples": 9, "cores": 2},
              "sets": {"held-out documents": {"documents": 46, "chunks": 120, "index_build_s": 4.56, "readers": {
                           "reading adapter": _reader(10, 20, 19, 1, 5, 4)}},
                       "faqs": {"documents": 6, "chunks": 69, "index_build_s": 12.4, "readers": {
                           "plain": _reader(10, 40, 30, 10, 20, 0, quotes=6),
                           "reading adapter": _reader(24, 40, 38, 2, 6, 8)}},
                       "cards": {"documents": 14, "chunks": 58, "index_build_s": 14.2, "readers": {
                           "reading adapter": _reader(30, 40, 39, 1, 6, 3)}}}}
    lines = report.reader_comparison_markdown(record).splitlines()
    assert "load average was 7.5 on 2 cores" in lines[0] and "the seconds are longer" in lines[0]
    rows = [line for line in lines if line.startswith("| ") and "question set" not in line]
    assert len(rows) == 4 and rows[1].startswith("| faqs | 6, 69 | 12.4 s | plain | 0.25 [")
    assert "| 0.75 [0.60, 0.86] (30/40) | 10/40 | 20/40 |" in rows[1] and "| 6/48 | 0/48 | 1.23 s |" in rows[1]
    targets = [line for line in lines if line.startswith("- ")]
    assert [t.split(":")[0] for t in targets] == ["- faqs", "- cards"]  # the foreign corpora only, default reader
    # 38/40 shown: its interval [0.83, 0.99] is not all above 0.90; 8/38 abstentions: [0.11, 0.36], all above 0.10
    assert targets[0].startswith("- faqs: meets empty answers 0.00 [") and "no measurable difference from gold " \
        "passage shown 0.95 [0.83, 0.99] (at least 0.90)" in targets[0]
    assert "misses abstains with the gold passage shown 0.21 [0.11, 0.36] (at most 0.10)" in targets[0]
    assert targets[0].endswith("8 abstentions with the gold passage shown: abstention holds it back most.")
    assert "term share" not in lines[0]  # a record measured without ask's answerable rule says nothing of it
    ruled = report.reader_comparison_markdown({**record, "answerable": {"answer_from": 0.5, "abstain_below": 0.3,
                                                                        "min_chunks": 20}}).splitlines()[0]
    assert "at least 0.5 of the question becomes the best span" in ruled and "less than 0.3 becomes the abstention " \
        "(on an index of 20 chunks or more)" in ruled
    perfect = report._targets(_reader(40, 40, 40, 0, 0, 0))
    assert perfect.startswith("meets gold passage shown 1.00 [0.91, 1.00]") and "holds it back" not in perfect


def behaviour_facts_result(fact_after):
    """A result of labkit.behaviour_facts.run_behaviour_facts's shape; fact_after: behaviour LoRA + RAG's fact accuracy
    after the update."""
    def s(fmt, label, fact, n):
        return {"format_compliance": fmt, "label_accuracy": label, "priority_accuracy": label, "fact_accuracy": fact,
                "n": n}
    return {"num_messages": 24, "num_changed": 11, "top_k": 3,
            "before": {"few-shot + RAG": s(0.5, 0.6, 0.4, 24), "behaviour LoRA": s(1.0, 1.0, 0.2, 24),
                       "behaviour LoRA + RAG": s(1.0, 1.0, 0.7, 24)},
            "after": {"few-shot + RAG": s(0.5, 0.6, 0.1, 11), "behaviour LoRA": s(1.0, 1.0, 0.0, 11),
                      "behaviour LoRA + RAG": s(1.0, 1.0, fact_after, 11)}}


def test_the_behaviour_facts_table_and_bullet_quote_the_result_with_intervals():
    # 0.9 of 11 against 0.1: measurable; 0.3 against 0.1: not
    table = report.behaviour_facts_markdown(behaviour_facts_result(0.9)).splitlines()
    assert table[0].startswith("| approach | format compliance (n=24) |") and "after the update (n=11)" in table[0]
    assert (
        table[4]
        == "| behaviour LoRA + RAG | 1.00 [0.86, 1.00] | 1.00 [0.86, 1.00] | 0.70 [0.50, 0.84] | 0.90 [0.61, 0.98] |"
    )
    line = findings.behaviour_facts_findings(behaviour_facts_result(0.9))
    assert "after the update: behaviour LoRA + RAG, measurably ahead of few-shot + RAG and behaviour LoRA." in line
    assert ("Format: behaviour LoRA and behaviour LoRA + RAG (no measurable difference between them), measurably ahead "
            "of "
            "few-shot + RAG.") in line
    # 0.3 of 11 overlaps both others: nobody leads measurably
    assert (
        "after the update: few-shot + RAG and behaviour LoRA and behaviour LoRA + RAG (no measurable difference "
        "between them), none measurably behind."
        in findings.behaviour_facts_findings(behaviour_facts_result(0.3))
    )


def test_a_reader_comparison_made_before_ask_named_its_retriever_is_not_called_asks_retrieval():
    from labkit.data import load_reader_comparison
    from labkit.report import reader_comparison_markdown

    record = load_reader_comparison()
    old = {**record, "retrieval": "index_folder's defaults: kind flat, chunk_size 128, overlap 24"}
    assert "dense retrieval (" in reader_comparison_markdown(old).splitlines()[0]
    new = {**record, "retrieval": "index_folder with retriever hybrid"}
    first = reader_comparison_markdown(new).splitlines()[0]
    assert "as `labkit ask --docs` does it (index_folder with retriever hybrid" in first and "dense" not in first
