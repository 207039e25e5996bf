"""labkit.compare: a tiny end-to-end run, the untrained rows once per run, a seed joined from its pieces, parallel
tasks."""

from types import SimpleNamespace

import pytest

from labkit import behaviour_tasks, compare, untrained
from labkit.behaviour_facts import BEHAVIOUR_FACTS_APPROACHES
from labkit.data import reader_info
from labkit.freshness import changed_questions
from labkit.keys import APPROACHES, DIAGNOSTIC, After, Approach
from labkit.models import resolve_precision
from labkit.rows import make_setup, measure_index


@pytest.fixture(scope="module")
def tiny(generator, embedder):
    """A whole run at tiny sizes. The behaviour task, its triage LoRA and behaviour + facts are recorded, not run:
    test_behaviour and test_behaviour_facts run them (its 72-token replies cost ~35 s even here); what matters
    here is that compare passes them the run's settings, trains the LoRA once for both, and keeps their results."""
    ccfg = compare.default_compare_config(quick=True, num_questions=2, num_untaught=1, num_updates=1, num_steps=1,
                                          num_docs_steps=1, num_raft_steps=1, num_retrain_steps=2, num_probe=4,
                                          num_behaviour_test=2, num_behaviour_steps=2, num_fact_messages=2,
                                          max_new_tokens=4, top_k=1, rebuild_index=False)  # 1 source: a third of
    # the RAG prompts' length, which is most of the run's time; 1 step per fine-tune and 4-token answers: what is
    # tested is that every row is there with its costs, not what it scores
    lora = SimpleNamespace(gen=generator)  # the base model stands in for the triage LoRA
    calls, folders = [], []

    def train_triage(gen, num_steps, rank, lr, seed):
        calls.append(("train_triage", gen, num_steps, rank, lr, seed))
        return lora

    def run_behaviour(gen, emb, num_test, num_steps, rank, lr, seed, lora=None):
        calls.append(("run_behaviour", gen, emb, num_test, num_steps, rank, lr, seed, lora))
        return {"num_test": num_test, "num_steps": num_steps,
                **{k: {"label_accuracy": 0.5} for k in ("zero_shot", "few_shot", "lora")}}

    def run_behaviour_facts(gen, lora_gen, emb, index, num_messages, top_k):
        calls.append(("run_behaviour_facts", gen, lora_gen, emb, num_messages, top_k))
        scores = {"format_compliance": 1.0, "label_accuracy": 0.5, "priority_accuracy": 0.5, "fact_accuracy": 0.5}
        return {"num_messages": num_messages, "num_changed": 1, "top_k": top_k,
                "before": {a: {**scores, "n": num_messages} for a in BEHAVIOUR_FACTS_APPROACHES},
                "after": {a: {**scores, "n": 1} for a in BEHAVIOUR_FACTS_APPROACHES}}

    with_updated_index = compare.with_updated_index

    def recording(setup, folder):
        folders.append(folder)
        return with_updated_index(setup, folder)

    with pytest.MonkeyPatch.context() as mp:
        for module, name, fake in ((behaviour_tasks, "train_triage", train_triage),
                                   (behaviour_tasks, "run_behaviour", run_behaviour),
                                   (behaviour_tasks, "run_behaviour_facts", run_behaviour_facts),
                                   (compare, "with_updated_index", recording)):
            mp.setattr(module, name, fake)
        out = compare.run_experiment(ccfg, gen=generator, embedder=embedder, log=lambda s: None, quick=False)
    # once: the behaviour task scores it, behaviour + facts replies with it
    assert calls == [("train_triage", generator, 2, ccfg.rank, ccfg.lr, 0),
                     ("run_behaviour", generator, embedder, 2, 2, ccfg.rank, ccfg.lr, 0, lora),
                     ("run_behaviour_facts", generator, generator, embedder, 2, ccfg.top_k)]
    assert folders and not folders[0].exists()  # the run's saved copies of the index are removed when it ends
    return out


def test_tiny_run_has_every_row_with_its_costs(tiny):
    board = tiny["scoreboard"]
    assert set(board) == set(APPROACHES)
    assert board[Approach.RAG]["mc_acc"] is None and board[Approach.CLOSED_BOOK]["mc_acc"] is not None
    for approach in APPROACHES:
        rag = approach in (Approach.RAG, Approach.READER_RAG, Approach.FINE_TUNED_RAG, Approach.RAFT_RAG, *DIAGNOSTIC)
        # the perfect reader carries the reading adapter's one-off cost
        trained = approach not in (Approach.CLOSED_BOOK, Approach.RAG, Approach.RAG_PERFECT)
        assert (board[approach]["index_bytes"]["mean"] > 0) is rag, approach
        assert (board[approach]["train_s"]["mean"] > 0) is trained, approach
        assert (board[approach]["adapter_bytes"]["mean"] > 0) is trained, approach
        if not rag:
            assert board[approach]["cited"]["mean"] == 0.0, approach  # closed-book answers cite nothing
    # RAG leaves the weights alone
    assert board[Approach.RAG]["general_acc"] == board[Approach.CLOSED_BOOK]["general_acc"]
    # the shipped adapter's one-off cost
    assert board[Approach.READER_RAG]["train_s"]["mean"] == reader_info()["train_s"]
    fresh = tiny["freshness"]
    assert fresh["n_updates"]["mean"] == 1 and set(fresh[After.RAG]) == {"new", "old"}
    assert set(fresh[After.READER_RAG]) == {"new", "old"}
    # the retrained row continues the fine-tuned adapter for num_retrain_steps, and says what that did to the unchanged
    # facts
    assert (
        fresh["num_retrain_steps"]["mean"] == 2 and fresh["kept_acc_before"]["n"] == fresh["kept_acc_after"]["n"] == 1
    )
    assert tiny["behaviour"]["num_steps"] == 2 and tiny["cost_projection"]["rows"][0]["model"] == "SmolLM2-135M"
    assert tiny["answer_precision"] == resolve_precision("auto") and tiny["train_precision"] == resolve_precision(
        "auto")
    # behaviour + facts ran on the behaviour task's LoRA, before and after the update
    facts = tiny["behaviour"]["behaviour_facts"]
    assert facts["num_messages"] == 2 and facts["after"]["behaviour LoRA + RAG"]["n"] == facts["num_changed"] == 1
    n = tiny["scoreboard"][Approach.RAG]["accuracy"]["n"]
    # every rate carries its n
    assert n == tiny["seeds"][0]["n_questions"] and board[Approach.RAG]["general_acc"]["n"] == 4
    assert (
        board[Approach.RAG]["accuracy"]["lo"]
        <= board[Approach.RAG]["accuracy"]["mean"]
        <= board[Approach.RAG]["accuracy"]["hi"]
    )
    # attributed citations are extra
    assert board[Approach.RAG]["cited_by_model"]["mean"] <= board[Approach.RAG]["cited"]["mean"]
    assert set(tiny["differences"]) == set(APPROACHES) - {
        Approach.RAG} and tiny["differences"][Approach.FINE_TUNED]["n"] == n
    # the mode the caller said (quick=False here, whatever $LABKIT_QUICK is), not the environment's
    assert tiny["quick"] is False


def test_the_untrained_rows_are_computed_once_and_every_seed_has_them(generator, embedder, monkeypatch):
    ccfg = compare.default_compare_config(quick=True, num_questions=2, num_untaught=2, num_updates=1,
                                          approaches=(Approach.CLOSED_BOOK, Approach.RAG), rebuild_index=False, seeds=2)
    made = []

    def untrained_rows(setup, ccfg_, log):
        made.append(setup)
        return compare.Untrained({Approach.CLOSED_BOOK: {"accuracy": 0.1}, Approach.RAG: {"accuracy": 0.3}}, {})

    monkeypatch.setattr(compare, "untrained_rows", untrained_rows)
    out = compare.run_experiment(ccfg, gen=generator, embedder=embedder, behaviour=False, log=lambda s: None)
    assert len(made) == 1 and [s["rows"] for s
                               in out["seeds"]] == [{Approach.CLOSED_BOOK: {"accuracy": 0.1},
                                                     Approach.RAG: {"accuracy": 0.3}}] * 2
    # no fine-tune: no freshness
    assert out["scoreboard"][Approach.RAG]["accuracy"]["spread"] == 0.0 and made[0].updated is None


def test_a_seed_is_joined_from_its_pieces_in_scoreboard_order():
    ccfg = compare.default_compare_config(quick=True,
                                          approaches=(Approach.CLOSED_BOOK, Approach.FINE_TUNED,
                                                      Approach.FINE_TUNED_DOCS,
                                                                  Approach.RAFT_RAG))
    setup = make_setup(None, None, None, {}, ccfg)
    new_answers, asked, _ = changed_questions(setup.questions, setup.updates)
    after = [new_answers[it["qa_id"]] for it in asked]  # the untrained RAG's answers after the update: all new
    untrained = compare.Untrained({Approach.CLOSED_BOOK: {"accuracy": 0.1}}, {After.RAG: after})
    tuned = {After.FINE_TUNED_RAG: {"new": 0.5, "old": 0.2}, After.STALE: {"new": 0.0, "old": 0.7},
             After.RETRAINED: {"new": 0.4, "old": 0.3}}
    parts = [{"rows": {Approach.RAFT_RAG: {"accuracy": 0.7}}, "raft_freshness": {"new": 0.6, "old": 0.1}},
             {"rows": {Approach.FINE_TUNED_DOCS: {"accuracy": 0.09}}},
             {"rows": {Approach.FINE_TUNED: {"accuracy": 0.5}}, "train_tokens": 10,
              "freshness": {"n_updates": 8, **tuned,
                            "records": [{"question": it["asked"], "new": "x", "old": "y", After.STALE: "z"}
                                                                  for it in asked]}}]
    seed = compare.join_pieces(setup, ccfg, 3, untrained, parts)
    assert list(seed["rows"]) == list(ccfg.approaches)  # ccfg.approaches' order, not the pieces'
    assert list(seed["freshness"]) == ["n_updates", After.RAG, *tuned, After.RAFT_RAG, "records"]
    # the untrained model's, from its answers
    assert {k: seed["freshness"][After.RAG][k] for k in ("new", "old")} == {"new": 1.0, "old": 0.0}
    assert seed["freshness"][After.RAFT_RAG] == {"new": 0.6, "old": 0.1}
    assert list(seed["freshness"]["records"][0]) == ["question", "new", "old", After.RAG, After.STALE]
    assert seed["train_tokens"] == 10 and seed["seed"] == 3 and seed["n_questions"] == len(setup.questions)
    assert list(parts[2]["freshness"]) == ["n_updates", *tuned, "records"]  # the piece itself is left as it was
    assert list(parts[2]["freshness"]["records"][0]) == ["question", "new", "old", After.STALE]
    alone = compare.join_pieces(setup, ccfg, 0, untrained, parts[:2])
    assert alone["freshness"] is None  # the RAFT figure has nothing to join without the fine-tune's freshness


def test_an_unknown_piece_is_refused():
    ccfg = compare.default_compare_config(quick=True)
    with pytest.raises(ValueError, match="use one of fine-tuned, docs, RAFT"):
        compare.run_piece(make_setup(None, None, None, {}, ccfg), ccfg, 0, "raft")


def test_a_worker_computes_the_untrained_rows_once_for_every_seed(generator, embedder, tmp_path):
    """run_parallel in real worker processes (spawned: they load the model themselves), on rows that need no
    training."""
    ccfg = compare.default_compare_config(quick=True, num_questions=2, num_updates=1, num_probe=2, max_new_tokens=6,
                                          approaches=(Approach.CLOSED_BOOK, Approach.RAG), rebuild_index=False, seeds=2)
    setup = make_setup(generator, embedder, *measure_index(embedder, rebuild=False), ccfg)
    serial = compare.untrained_rows(setup, ccfg, log=lambda s: None)
    runs, behaviour = compare.run_parallel(setup, ccfg, workers=2, behaviour=False, folder=tmp_path, log=lambda s: None)
    assert [r["seed"] for r in runs] == [0, 1] and behaviour is None
    assert runs[0]["rows"][Approach.RAG] is runs[1]["rows"][Approach.RAG]  # one computation, every seed
    for row in (Approach.CLOSED_BOOK, Approach.RAG):
        assert runs[0]["rows"][row]["accuracy"] == serial.rows[row]["accuracy"]


def test_parallel_tasks_go_longest_first_and_behaviour_facts_waits_for_the_behaviour_tasks_lora(embedder, tmp_path):
    ccfg = compare.default_compare_config(quick=True, seeds=2)
    index, info = measure_index(embedder, rebuild=False)
    setup = make_setup(SimpleNamespace(name="gen"), embedder, index, info, ccfg)
    tasks, needs = compare.parallel_tasks(setup, ccfg, True, tmp_path)
    kinds = [t[0] for t in tasks]
    assert kinds == ["behaviour", "RAFT", "RAFT", "behaviour + facts", "fine-tuned", "fine-tuned", "untrained",
                     "untrained reader", "docs", "docs"]
    # behaviour + facts gets the behaviour task's result
    assert needs == {3: 0} and [t[2] for t in tasks if t[0] == "RAFT"] == [0, 1]
    # what every worker loads
    assert (tmp_path / "index" / "index.faiss").is_file() and tasks[0][4].index == tmp_path / "index"
    no_facts = compare.default_compare_config(quick=True, num_fact_messages=0, approaches=(Approach.RAFT_RAG,))
    tasks, needs = compare.parallel_tasks(make_setup(SimpleNamespace(name="gen"), embedder, index, info, no_facts),
                                          no_facts, True, tmp_path)
    # no untrained row, no behaviour + facts
    assert [t[0] for t in tasks] == ["behaviour", "RAFT", "fine-tuned", "docs"] and needs == {}


def test_compare_quick_is_a_parameter_not_an_environment_variable(tmp_path, monkeypatch):
    import os

    from labkit import cli

    seen = {}
    monkeypatch.delenv("LABKIT_QUICK", raising=False)
    monkeypatch.setattr(cli, "run_compare", lambda **kw: seen.update(kw) or 0)
    assert cli.main(["compare", "--quick", "--out", str(tmp_path / "r")]) == 0
    assert seen["quick"] is True and "LABKIT_QUICK" not in os.environ  # --quick reaches run_compare as a value
    # None: $LABKIT_QUICK says
    assert cli.main(["compare", "--out", str(tmp_path / "r")]) == 0 and seen["quick"] is None


def test_rag_without_the_closed_book_row_scores_only_the_base_models_probe(monkeypatch):
    """Notebook 07 asks for RAG without the closed-book row: RAG's probe score is the base model's, so the closed-book
    answers are not computed."""
    ccfg = compare.default_compare_config(quick=True, approaches=(Approach.RAG,))
    setup = SimpleNamespace(gen="base model", probe=["g1", "g2"], updates=[])
    monkeypatch.setattr(untrained, "row_closed_book", lambda *a: pytest.fail("the closed-book answers were computed"))
    monkeypatch.setattr(untrained, "probe_score", lambda gen, probe: {"general_acc": 0.5, "n_probe": len(probe),
                                                                    "probe_records": {"g1": 1, "g2": 0}, "gen": gen})
    monkeypatch.setattr(untrained, "row_rag", lambda setup_, ccfg_, base, model=None: {"accuracy": 0.3, **base})
    rows = compare.untrained_rows(setup, ccfg, log=lambda s: None).rows
    assert list(rows) == [Approach.RAG] and rows[Approach.RAG]["gen"] == "base model"
    assert rows[Approach.RAG]["n_probe"] == 2
