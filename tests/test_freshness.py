"""labkit.freshness: the questions a fact change touches, and the updated index built once per process."""

from labkit import freshness
from labkit.compare_config import default_compare_config
from labkit.data import load_updates, taught_questions
from labkit.rows import Shared, measure_index


def test_the_changed_facts_questions_are_the_held_out_wordings_with_their_new_values():
    ccfg = default_compare_config(quick=True)
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    new_answers, asked, texts = freshness.changed_questions(questions, updates)
    assert set(new_answers) == {qid for u in updates for qid in u["new_answers"]}
    assert asked and {it["qa_id"] for it in asked} <= set(new_answers) and texts == [it["asked"] for it in asked]
    by_id = {q["id"]: q for q in questions}
    assert all(it["asked"] != by_id[it["qa_id"]]["question"] for it in asked)  # paraphrases, never the training wording


def test_the_updated_index_is_built_once_per_process_and_the_original_is_left_alone(embedder):
    index, info = measure_index(embedder, rebuild=False)
    shared = Shared(None, embedder, index, info)
    ccfg = default_compare_config(quick=True)
    questions, _ = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    update = load_updates()[:1]
    *_, first, timing = freshness.updated_index(shared, questions, update, ccfg)
    *_, again, _ = freshness.updated_index(shared, questions, update, ccfg)
    assert again is first and timing["documents"] == 1  # the second reader gets the same copy, not a second update
    doc = update[0]["doc_id"]
    new_text = " ".join(c.text for c in first.chunks.values() if c.doc_id == doc)
    old_text = " ".join(c.text for c in index.chunks.values() if c.doc_id == doc)
    assert update[0]["new"] in new_text and update[0]["new"] not in old_text
