"""labkit.rows: the state a run's seeds share, and what a row counts."""

from labkit.rows import Shared, measure_index, multi_document


def test_pristine_index_is_a_fresh_copy_each_time(embedder):
    index, info = measure_index(embedder, rebuild=False)
    shared = Shared(None, embedder, index, info)
    a, b = shared.pristine_index(), shared.pristine_index()
    assert a is not b and a is not index and len(a) == len(b) == len(index)
    a.delete_document(next(iter(a.documents)))
    assert len(shared.pristine_index()) == len(index)  # editing one copy leaves the next untouched


def test_multi_document_scores_only_the_questions_that_need_two_documents():
    questions = [{"id": "q1", "doc_ids": ["a"]}, {"id": "q2", "doc_ids": ["a", "b"]}, {"id": "q3", "doc_ids": ["b", "c"]}]
    records = [{"id": "q1/p0", "match": True}, {"id": "q2/p0", "match": True}, {"id": "q3/p0", "match": False}, {"id": "q3/p1", "match": False}]
    assert multi_document(records, questions) == {"multi_acc": 0.3333, "n_multi": 3}
    assert multi_document(records[:1], questions) == {"multi_acc": None, "n_multi": 0}  # none asked: n/a, not 0
