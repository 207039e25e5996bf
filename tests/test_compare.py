"""Tests for labkit.compare: scoreboard arithmetic, the freshness update on a tiny index, a tiny end-to-end report."""

import json

from labkit import compare
from labkit.config import KB_DIR
from labkit.data import load_qa, load_updates


def test_aggregate_means_and_spread():
    runs = [{"rows": {"RAG": {"accuracy": 0.6, "mc_acc": None}}, "freshness": None},
            {"rows": {"RAG": {"accuracy": 0.8, "mc_acc": None}}, "freshness": None}]
    board = compare.aggregate(runs)["scoreboard"]
    assert board["RAG"]["accuracy"] == {"mean": 0.7, "spread": 0.1414}
    assert board["RAG"]["mc_acc"] is None  # n/a stays n/a
    assert compare.fmt(board["RAG"]["accuracy"]) == "0.70 ± 0.14" and compare.fmt(None) == "n/a"


def test_updated_questions_and_share_new():
    q = next(q for q in load_qa() if q["id"] == "q001")
    u = next(u for u in load_updates() if "q001" in u["question_ids"])
    new = compare.updated_questions([q], [u])[0]
    assert new["answer"] == u["new_answers"]["q001"] and all(q["answer"] not in f for f in new["facts"])
    item = {"qa_id": "q001", "answer": q["answer"]}
    assert compare.share_new([f"It costs {new['answer']}.", f"It costs {q['answer']}."], [item, item], u["new_answers"]) == {"new": 0.5, "old": 0.5}


def test_taught_questions_include_updated_ones():
    questions, updates = compare.taught_questions(compare.default_compare_config(quick=True, questions=2, updates=3))
    ids = {q["id"] for q in questions}
    assert all(i in ids for u in updates for i in u["question_ids"]) and len(ids) == len(questions)


def test_apply_updates_on_a_tiny_index(embedder):
    from labkit.corpus import load_folder
    from labkit.retrieval import build_index

    u = load_updates()[0]
    doc = next(d for d in load_folder(KB_DIR).documents if d.id == u["doc_id"])
    index = build_index([doc], embedder, progress=False)
    info = compare.apply_updates(index, [u])
    assert info["documents"] == 1 and info["seconds"] >= 0
    text = " ".join(c.text for c in index.chunks.values())
    assert u["new"] in text and u["old"] not in text


def test_tiny_compare_writes_report(tmp_path, generator, embedder):
    ccfg = compare.default_compare_config(quick=True, questions=4, updates=1, num_steps=2, docs_steps=2, raft_steps=2, probe=4, behaviour_test=2,
                                          behaviour_steps=2, max_new_tokens=8, rebuild_index=False)
    results = compare.run_experiment(ccfg, gen=generator, embedder=embedder, log=lambda s: None)
    assert set(results["scoreboard"]) == set(compare.APPROACHES)
    assert results["scoreboard"]["RAG"]["mc_acc"] is None and results["scoreboard"]["closed-book"]["mc_acc"] is not None
    path = compare.write_report(results, tmp_path)
    text = path.read_text()
    assert "| RAFT + RAG |" in text and "estimates" in text and "## Freshness" in text
    for name in ("scoreboard.png", "freshness.png", "accuracy_vs_cost.png", "results.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "results.json").read_text())["freshness"]["n_updates"]["mean"] == 1


def test_untrained_rows_run_once_and_are_reused_across_seeds(generator, embedder):
    ccfg = compare.default_compare_config(quick=True, questions=2, updates=1, num_steps=1, probe=2, max_new_tokens=6,
                                          approaches=("closed-book", "RAG"), rebuild_index=False)
    index, info = compare.measure_index(embedder, rebuild=False)
    untrained = {}
    first = compare.run_seed(generator, embedder, index, ccfg, 0, info, ccfg.approaches, log=lambda s: None, untrained=untrained)
    assert set(untrained) == {"closed-book", "RAG"}
    untrained["RAG"] = {**untrained["RAG"], "accuracy": -1.0}  # a marker: the second seed must reuse, not recompute
    second = compare.run_seed(generator, embedder, index, ccfg, 1, info, ccfg.approaches, log=lambda s: None, untrained=untrained)
    assert second["rows"]["RAG"]["accuracy"] == -1.0
    assert second["rows"]["closed-book"]["accuracy"] == first["rows"]["closed-book"]["accuracy"]


def test_meaning_follows_the_numbers_not_the_literature():
    def stat(x):
        return {"mean": x, "spread": 0.0}

    board = {"closed-book": {"accuracy": stat(0.02)}, "RAG": {"accuracy": stat(0.27)},
             "fine-tuned": {"accuracy": stat(0.46)}, "fine-tuned (docs)": {"accuracy": stat(0.05)}}
    text = compare._meaning({"scoreboard": board})[0]
    assert "0.46, ahead of RAG" in text and "0.05, behind RAG, as Ovadia" in text
    board["fine-tuned (docs)"] = {"accuracy": stat(0.40)}
    board["fine-tuned"] = {"accuracy": stat(0.10)}
    text = compare._meaning({"scoreboard": board})[0]
    assert "0.10, behind RAG" in text and "does not hold on this run" in text
