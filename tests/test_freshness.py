"""labkit.freshness: the questions a fact change touches, the updated copy of the index, and score_freshness() on a tiny
run."""

from types import SimpleNamespace

from labkit import freshness
from labkit.compare_config import default_compare_config
from labkit.data import taught_questions
from labkit.keys import After


def test_the_changed_facts_questions_are_the_held_out_wordings_with_their_new_values():
    ccfg = default_compare_config(quick=True)
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    new_answers, asked, texts = freshness.changed_questions(questions, updates)
    assert set(new_answers) == {qid for u in updates for qid in u["new_answers"]}
    assert asked and {it["qa_id"] for it in asked} <= set(new_answers) and texts == [it["asked"] for it in asked]
    by_id = {q["id"]: q for q in questions}
    assert all(it["asked"] != by_id[it["qa_id"]]["question"] for it in asked)  # paraphrases, never the training wording


def test_the_updated_copy_has_the_new_sentence_and_the_original_index_is_left_alone(tiny_run):
    setup, _ = tiny_run
    [update] = setup.updates
    assert setup.updated is not setup.index and setup.update_info["documents"] == 1
    new_text = " ".join(c.text for c in setup.updated.chunks.values() if c.doc_id == update["doc_id"])
    old_text = " ".join(c.text for c in setup.index.chunks.values() if c.doc_id == update["doc_id"])
    assert update["new"] in new_text and update["new"] not in old_text and update["old"] in old_text


def test_freshness_asks_the_fine_tune_stale_with_sources_and_retrained_and_joins_the_untrained_models(tiny_run,
                                                                                                      monkeypatch):
    setup, ccfg = tiny_run
    new_answers, asked, texts = freshness.changed_questions(setup.questions, setup.updates)
    trained = []

    # records what the retraining is given; the model stays as it was
    def train_lora(gen, examples, ccfg_, seed, num_steps):
        trained.append((gen, [e.source for e in examples], seed, num_steps))
        return SimpleNamespace(gen=gen, train_s=1.234)

    monkeypatch.setattr(freshness, "train_lora", train_lora)
    fresh = freshness.score_freshness(setup, ccfg, setup.gen, seed=3)  # the base model stands in for the fine-tune
    [(gen, sources, seed, num_steps)] = trained
    changed = sorted(new_answers)
    assert (gen, seed, num_steps) == (setup.gen, 3, ccfg.num_retrain_steps)  # the fine-tune's adapter, trained further
    # as many unchanged facts replayed
    assert set(changed) <= set(sources) and len(set(sources) - set(changed)) == len(changed)
    assert (fresh["n_updates"], fresh["n_questions"], fresh["num_retrain_steps"], fresh["retrain_s"]) == (1, len(asked),
                                                                                                          1, 1.23)
    assert fresh["update_s"] == setup.update_info["seconds"] and fresh["n_kept"] == len(setup.questions) - len(changed)
    for key in (After.FINE_TUNED_RAG, After.STALE, After.RETRAINED):
        assert set(fresh[key]) == {"new", "old", "by_question"} and 0 <= fresh[key]["new"] + fresh[key]["old"] <= 1
        # one figure per changed fact: the paired bootstrap's items
        assert sorted(fresh[key]["by_question"]) == sorted(new_answers)
    # nothing was trained
    assert fresh[After.RETRAINED] == fresh[After.STALE] and fresh["kept_acc_after"] == fresh["kept_acc_before"]
    assert [r["question"] for r
            in fresh["records"]] == texts and fresh["records"][0]["new"] == new_answers[asked[0]["qa_id"]]
    after = freshness.untrained_after_update(setup, ccfg, reader=None)
    # the run has the reader's row; it does not fit
    assert after[After.READER_RAG] is None and len(after[After.RAG]) == len(texts)
    joined = freshness.join_freshness(setup, fresh, {"new": 1.0, "old": 0.0}, after)
    figures = [k for k, v in joined.items() if isinstance(v, dict) and "new" in v]
    # results.json's order
    assert figures == [After.RAG, After.FINE_TUNED_RAG, After.STALE, After.RETRAINED, After.RAFT_RAG]
    assert joined[After.RAG] == freshness.share_new(after[After.RAG], asked, new_answers)
    # the part is left as it was
    assert [r[After.RAG] for r in joined["records"]] == after[After.RAG] and After.RAG not in fresh["records"][0]
