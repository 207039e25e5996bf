"""labkit.compare: scoreboard arithmetic, the rows and their costs, a tiny end-to-end run, untrained rows run once."""

import pytest

from labkit import compare
from labkit.config import KB_DIR
from labkit.data import load_updates, reader_info, taught_questions
from labkit.freshness import changed_questions
from labkit.hybrid import HYBRID_APPROACHES
from labkit.models import resolve_precision


def test_aggregate_means_spread_and_intervals():
    runs = [{"rows": {"RAG": {"accuracy": 0.6, "mc_acc": None, "n": 40, "train_s": 1.0}}, "freshness": None},
            {"rows": {"RAG": {"accuracy": 0.8, "mc_acc": None, "n": 40, "train_s": 3.0}}, "freshness": None}]
    board = compare.aggregate(runs)["scoreboard"]
    assert board["RAG"]["accuracy"] == {"mean": 0.7, "spread": 0.1414, "n": 40, "lo": 0.5457, "hi": 0.8193}
    assert board["RAG"]["train_s"] == {"mean": 2.0, "spread": 1.4142}  # not a rate: no interval
    assert board["RAG"]["mc_acc"] is None  # n/a stays n/a


def test_differences_pair_questions_and_average_seeds():
    def run(rag, ft):
        return {"rows": {"RAG": {"records": [{"id": f"q{i}/0", "match": m} for i, m in enumerate(rag)]},
                         "fine-tuned": {"records": [{"id": f"q{i}/0", "match": m} for i, m in enumerate(ft)]}}}

    d = compare.differences([run([0] * 20, [1] * 20), run([0] * 20, [1] * 10 + [0] * 10)])["fine-tuned"]
    assert d["n"] == 20 and d["diff"] == 0.75 and d["measurable"]


def test_apply_updates_on_a_tiny_index(embedder):
    from labkit.documents import load_folder
    from labkit.retrieval import apply_updates, build_index

    u = load_updates()[0]
    doc = next(d for d in load_folder(KB_DIR).documents if d.id == u["doc_id"])
    index = build_index([doc], embedder, progress=False)
    info = apply_updates(index, [u])
    assert info["documents"] == 1 and info["per_document_s"] == info["seconds"]
    text = " ".join(c.text for c in index.chunks.values())
    assert u["new"] in text and u["old"] not in text


@pytest.fixture(scope="module")
def tiny(generator, embedder):
    """A whole run at tiny sizes. The behaviour task and the seeds' hybrid are recorded, not run:
    test_behaviour and test_hybrid run them (the hybrid's 72-token replies cost ~35 s even here);
    what matters here is that compare passes them the run's settings and keeps their results."""
    ccfg = compare.default_compare_config(quick=True, num_questions=4, num_updates=1, num_steps=2, docs_steps=2, raft_steps=2, retrain_steps=2, num_probe=4,
                                          behaviour_num_test=2, behaviour_steps=2, hybrid_messages=2, max_new_tokens=8, rebuild_index=False)
    calls = []

    def run_behaviour(gen, emb, num_test, num_steps, rank, lr, seed, then=None):
        calls.append((gen, emb, num_test, num_steps, rank, lr, seed))
        return {"num_test": num_test, "num_steps": num_steps, **{k: {"label_accuracy": 0.5} for k in ("zero_shot", "few_shot", "lora")},
                "hybrid": then(gen)}  # the base model stands in for the triage LoRA

    hybrid_calls = []

    def run_hybrid(gen, lora_gen, emb, index, num_messages, top_k):
        hybrid_calls.append((gen, lora_gen, emb, index, num_messages, top_k))
        scores = {"format_compliance": 1.0, "label_accuracy": 0.5, "priority_accuracy": 0.5, "fact_accuracy": 0.5}
        return {"num_messages": num_messages, "num_changed": 1, "top_k": top_k,
                "before": {a: {**scores, "n": num_messages} for a in HYBRID_APPROACHES}, "after": {a: {**scores, "n": 1} for a in HYBRID_APPROACHES}}

    saved = []
    pristine_index = compare.Shared.pristine_index

    def recording(shared):
        index = pristine_index(shared)
        saved.append(shared.pristine)
        return index

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compare, "run_behaviour", run_behaviour)
        mp.setattr(compare, "run_hybrid", run_hybrid)
        mp.setattr(compare.Shared, "pristine_index", recording)
        out = compare.run_experiment(ccfg, gen=generator, embedder=embedder, log=lambda s: None)
    assert calls == [(generator, embedder, 2, 2, ccfg.rank, ccfg.lr, 0)]
    # the hybrid replies from the base model and the behaviour task's LoRA (here the base model), over the run's index
    [(gen, lora_gen, emb, index, num_messages, top_k)] = hybrid_calls
    assert (gen, lora_gen, emb, num_messages, top_k) == (generator, generator, embedder, 2, ccfg.top_k) and len(index) > 0
    assert saved and not saved[0].exists()  # the saved copy of the index is removed when the run ends
    return out


def test_tiny_run_has_every_row_with_its_costs(tiny):
    board = tiny["scoreboard"]
    assert set(board) == set(compare.APPROACHES)
    assert board["RAG"]["mc_acc"] is None and board["closed-book"]["mc_acc"] is not None
    for approach in compare.APPROACHES:
        rag = approach in ("RAG", "reading adapter + RAG", "fine-tuned + RAG", "RAFT + RAG")
        trained = approach not in ("closed-book", "RAG")
        assert (board[approach]["index_bytes"]["mean"] > 0) is rag, approach
        assert (board[approach]["train_s"]["mean"] > 0) is trained, approach
        assert (board[approach]["adapter_bytes"]["mean"] > 0) is trained, approach
        if not rag:
            assert board[approach]["cited"]["mean"] == 0.0, approach  # closed-book answers cite nothing
    assert board["RAG"]["general_acc"] == board["closed-book"]["general_acc"]  # RAG leaves the weights alone
    assert board["reading adapter + RAG"]["train_s"]["mean"] == reader_info()["train_s"]  # the shipped adapter's one-off cost
    fresh = tiny["freshness"]
    assert fresh["n_updates"]["mean"] == 1 and set(fresh["RAG after update"]) == {"new", "old"}
    assert set(fresh["reading adapter + RAG after update"]) == {"new", "old"}
    # the retrained row continues the fine-tuned adapter for retrain_steps, and says what that did to the unchanged facts
    assert fresh["retrain_steps"]["mean"] == 2 and fresh["kept_acc_before"]["n"] == fresh["kept_acc_after"]["n"] == 3
    assert tiny["behaviour"]["num_steps"] == 2 and tiny["cost_projection"]["rows"][0]["model"] == "SmolLM2-135M"
    assert tiny["answer_precision"] == resolve_precision("auto") and tiny["train_precision"] == resolve_precision("auto")
    hybrid = tiny["behaviour"]["hybrid"]  # the seeds' hybrid ran on the behaviour task's LoRA, before and after the update
    assert hybrid["num_messages"] == 2 and hybrid["after"]["behaviour LoRA + RAG"]["n"] == hybrid["num_changed"] == 1
    n = tiny["scoreboard"]["RAG"]["accuracy"]["n"]
    assert n == tiny["seeds"][0]["n_questions"] and board["RAG"]["general_acc"]["n"] == 4  # every rate carries its n
    assert board["RAG"]["accuracy"]["lo"] <= board["RAG"]["accuracy"]["mean"] <= board["RAG"]["accuracy"]["hi"]
    assert board["RAG"]["cited_by_model"]["mean"] <= board["RAG"]["cited"]["mean"]  # attributed citations are extra
    assert set(tiny["differences"]) == set(compare.APPROACHES) - {"RAG"} and tiny["differences"]["fine-tuned"]["n"] == n


def test_untrained_rows_run_once_and_are_reused_across_seeds(generator, embedder):
    ccfg = compare.default_compare_config(quick=True, num_questions=2, num_updates=1, num_steps=1, num_probe=2, max_new_tokens=6,
                                          approaches=("closed-book", "RAG"), rebuild_index=False)
    index, info = compare.measure_index(embedder, rebuild=False)
    shared = compare.Shared(generator, embedder, index, info)
    first = compare.run_seed(shared, ccfg, 0, log=lambda s: None)
    assert set(shared.untrained) == {"closed-book", "RAG"}
    shared.untrained["RAG"] = {**shared.untrained["RAG"], "accuracy": -1.0}  # a marker: the second seed must reuse, not recompute
    second = compare.run_seed(shared, ccfg, 1, log=lambda s: None)
    assert second["rows"]["RAG"]["accuracy"] == -1.0
    assert second["rows"]["closed-book"]["accuracy"] == first["rows"]["closed-book"]["accuracy"]


def test_a_seed_is_joined_from_its_pieces_in_scoreboard_order():
    ccfg = compare.default_compare_config(quick=True, approaches=("closed-book", "fine-tuned", "fine-tuned (docs)", "RAFT + RAG"))
    new_answers, asked, _ = changed_questions(*taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document))
    after = [new_answers[it["qa_id"]] for it in asked]  # the untrained RAG's answers after the update: all new
    shared = compare.Shared(None, None, None, {}, untrained={"closed-book": {"accuracy": 0.1}, "RAG after update": after})
    tuned = {"fine-tuned + RAG after update": {"new": 0.5, "old": 0.2}, "fine-tuned (stale)": {"new": 0.0, "old": 0.7},
             "fine-tuned retrained": {"new": 0.4, "old": 0.3}}
    parts = [{"rows": {"RAFT + RAG": {"accuracy": 0.7}}, "raft_freshness": {"new": 0.6, "old": 0.1}},
             {"rows": {"fine-tuned (docs)": {"accuracy": 0.09}}},
             {"rows": {"fine-tuned": {"accuracy": 0.5}}, "train_tokens": 10,
              "freshness": {"n_updates": 8, **tuned, "records": [{"question": it["asked"], "new": "x", "old": "y", "fine-tuned (stale)": "z"}
                                                                  for it in asked]}}]
    seed = compare.join_pieces(shared, ccfg, 3, parts, log=lambda s: None)
    assert list(seed["rows"]) == ["closed-book", "fine-tuned", "fine-tuned (docs)", "RAFT + RAG"]  # ccfg.approaches' order, not the pieces'
    assert list(seed["freshness"]) == ["n_updates", "RAG after update", *tuned, "RAFT + RAG after update", "records"]
    assert seed["freshness"]["RAG after update"] == {"new": 1.0, "old": 0.0}  # the untrained model's figure, from its answers
    assert seed["freshness"]["RAFT + RAG after update"] == {"new": 0.6, "old": 0.1}
    assert list(seed["freshness"]["records"][0]) == ["question", "new", "old", "RAG after update", "fine-tuned (stale)"]
    assert seed["train_tokens"] == 10 and seed["seed"] == 3 and seed["n_questions"] > 0
    assert list(parts[2]["freshness"]) == ["n_updates", *tuned, "records"]  # the piece itself is left as it was
    assert list(parts[2]["freshness"]["records"][0]) == ["question", "new", "old", "fine-tuned (stale)"]
    alone = compare.join_pieces(shared, ccfg, 0, parts[:2], log=lambda s: None)
    assert alone["freshness"] is None  # the RAFT figure has nothing to join without the fine-tune's freshness


def test_an_unknown_piece_is_refused(generator, embedder):
    shared = compare.Shared(generator, embedder, None, {})
    with pytest.raises(ValueError, match="use one of fine-tuned, docs, RAFT"):
        compare.run_piece(shared, compare.default_compare_config(quick=True), 0, "raft")


def test_a_worker_computes_the_untrained_rows_once_for_every_seed(generator, embedder):
    """run_parallel in real worker processes (spawned: they load the model themselves), on rows that need no training."""
    ccfg = compare.default_compare_config(quick=True, num_questions=2, num_updates=1, num_probe=2, max_new_tokens=6,
                                          approaches=("closed-book", "RAG"), rebuild_index=False, seeds=2)
    index, info = compare.measure_index(embedder, rebuild=False)
    serial = compare.run_seed(compare.Shared(generator, embedder, index, info), ccfg, 0, log=lambda s: None)
    shared = compare.Shared(generator, embedder, index, info)
    runs, behaviour = compare.run_parallel(shared, ccfg, workers=2, behaviour=False, log=lambda s: None)
    assert [r["seed"] for r in runs] == [0, 1] and behaviour is None
    assert set(shared.untrained) == {"closed-book", "RAG"}  # the worker's rows, adopted here
    assert runs[0]["rows"]["RAG"] is runs[1]["rows"]["RAG"]  # one computation, every seed
    for row in ("closed-book", "RAG"):
        assert runs[0]["rows"][row]["accuracy"] == serial["rows"][row]["accuracy"]


def test_rows_this_process_has_are_not_a_task_again(generator, embedder):
    ccfg = compare.default_compare_config(quick=True, seeds=2)
    shared = compare.Shared(generator, embedder, compare.measure_index(embedder, rebuild=False)[0], {})
    kinds = [t[0] for t in compare.parallel_tasks(shared, ccfg, behaviour=True)]
    assert kinds == ["behaviour", "RAFT", "RAFT", "fine-tuned", "fine-tuned", "docs", "docs", "untrained"]  # longest first
    shared.untrained["closed-book"] = {"accuracy": 0.1}  # a serial seed ran first
    assert "untrained" not in [t[0] for t in compare.parallel_tasks(shared, ccfg, behaviour=False)]


def test_workers_must_fit_the_cores(tmp_path):
    from labkit.cli import run_compare

    with pytest.raises(ValueError, match="--workers must be between 1"):
        run_compare(seeds=1, out=str(tmp_path / "r"), workers=0)
    assert not (tmp_path / "r").exists()  # rejected before anything ran or was written
