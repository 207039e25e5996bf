"""The shipped data is checked, not trusted: schemas, unique ids, answers present in their sources."""

import re
from collections import Counter

import pytest

from labkit.config import KB_DIR
from labkit.data import load_probe, load_qa, load_updates, spread
from labkit.evaluate import normalize_answer

QA_KEYS = {"id", "question", "paraphrases", "answer", "aliases", "doc_ids", "distractors", "kind", "facts"}


def _doc_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in KB_DIR.glob("*.md")}


def _contains(text: str, answer: str) -> bool:
    return f" {normalize_answer(answer)} " in f" {normalize_answer(text)} "


def test_knowledge_base_documents():
    docs = _doc_texts()
    assert len(docs) >= 40
    for doc_id, text in docs.items():
        assert re.fullmatch(r"[a-z0-9-]+", doc_id), doc_id
        assert text.startswith("# "), f"{doc_id} must open with '# Title'"
    kinds = Counter(doc_id.split("-")[0] for doc_id in docs)
    assert {"product", "policy", "faq", "news", "changelog", "playbook"} <= set(kinds)


def test_qa_schema_and_answers_in_sources():
    docs, qa = _doc_texts(), load_qa()
    assert len(qa) >= 150
    assert len({q["id"] for q in qa}) == len(qa)
    for q in qa:
        assert set(q) == QA_KEYS, q["id"]
        assert len(q["paraphrases"]) >= 2 and q["question"] not in q["paraphrases"], q["id"]
        assert q["kind"] in {"single", "numeric", "multi"}
        assert all(d in docs for d in q["doc_ids"]), q["id"]
        assert _contains(" ".join(docs[d] for d in q["doc_ids"]), q["answer"]), f"{q['id']}: answer not in its documents"
        accepted = {normalize_answer(a) for a in [q["answer"], *q["aliases"]]}
        assert len(q["distractors"]) == 3 and not accepted & {normalize_answer(d) for d in q["distractors"]}, q["id"]
        assert q["facts"] and all(_contains(f, q["answer"]) for f in q["facts"]), q["id"]
    assert Counter(q["kind"] for q in qa)["multi"] >= 10


def test_updates_point_at_real_sentences():
    docs, qa = _doc_texts(), {q["id"]: q for q in load_qa()}
    updates = load_updates()
    assert len(updates) >= 20
    assert len({u["id"] for u in updates}) == len(updates)
    for u in updates:
        assert u["old"] in docs[u["doc_id"]], f"{u['id']}: old sentence not in {u['doc_id']}"
        for qid in u["question_ids"]:
            assert _contains(u["old"], qa[qid]["answer"]), f"{u['id']}: old answer of {qid} not in old sentence"
            assert _contains(u["new"], u["new_answers"][qid]), f"{u['id']}: new answer of {qid} not in new sentence"
            assert normalize_answer(u["new_answers"][qid]) != normalize_answer(qa[qid]["answer"])


def test_general_probe_schema():
    probe = load_probe()
    assert len(probe) >= 100
    assert len({p["id"] for p in probe}) == len(probe)
    for p in probe:
        assert len(p["choices"]) == 4 and len(set(p["choices"])) == 4, p["id"]
        assert 0 <= p["answer_index"] < 4
    assert len(Counter(p["answer_index"] for p in probe)) == 4  # the right answer is not always in one place


def test_base_model_knows_the_general_probe(generator):
    """The forgetting yardstick is only useful if the base model scores well on it."""
    from labkit.evaluate import mc_accuracy, mc_items_from_probe

    assert mc_accuracy(generator, mc_items_from_probe(load_probe())) >= 0.70


@pytest.mark.parametrize("n, expected", [(3, [0, 3, 6]), (None, list(range(10))), (20, list(range(10)))])
def test_spread_covers_the_list(n, expected):
    assert spread(list(range(10)), n) == expected
