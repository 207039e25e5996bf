"""labkit.scoreboard: how a row is scored (on stand-in models: the arithmetic, not the model), and the arithmetic over
seeds."""

from types import SimpleNamespace

from labkit import scoreboard
from labkit.data import load_qa
from labkit.keys import After, Approach

# ---------------------------------------------------------------- one row


def test_multi_document_scores_only_the_questions_that_need_two_documents():
    questions = [{"id": "q1", "doc_ids": ["a"]}, {"id": "q2", "doc_ids": ["a", "b"]},
                 {"id": "q3", "doc_ids": ["b", "c"]}]
    records = [{"id": "q1/p0", "match": True}, {"id": "q2/p0", "match": True}, {"id": "q3/p0", "match": False},
               {"id": "q3/p1", "match": False}]
    assert scoreboard.multi_document(records, questions) == {"multi_acc": 0.3333, "n_multi": 3}
    # none asked: n/a, not 0
    assert scoreboard.multi_document(records[:1], questions) == {"multi_acc": None, "n_multi": 0}


class StandInRAG:
    """Answers each held-out wording as told: (answer, cited source numbers, who cited, whether a gold source is among
    them)."""

    def __init__(self, questions, script):
        self.questions, self.script = questions, script

    def answer_many(self, texts, batch_size=None):
        out = []
        for text, (answer, cited, cited_by, gold_retrieved, tokens) in zip(texts, self.script, strict=True):
            q = next(q for q in self.questions if q["paraphrases"][0] == text)
            sources = [SimpleNamespace(doc_id=q["doc_ids"][0] if gold_retrieved else "elsewhere"),
                       SimpleNamespace(doc_id="elsewhere")]
            out.append(SimpleNamespace(answer=answer, sources=sources, cited=cited, cited_by=cited_by, retrieve_s=0.1,
                                       generate_s=0.2, prompt_tokens=tokens))
        return out


def test_a_rag_row_counts_right_answers_citations_and_where_the_wrong_ones_come_from():
    questions = [q for q in load_qa() if len(q["doc_ids"]) == 1][:3]
    rag = StandInRAG(questions, [
        (f"{questions[0]['answer']} [1].", [1], "model", True, 300),  # right, cites its gold source in its own words
        # right, a citation labkit attributed, not to the gold source
        (f"{questions[1]['answer']} [2].", [2], "labkit", True, 100),
        ("I cannot tell.", [], "", False, 200),  # wrong, and no gold source was retrieved: a retrieval miss
    ])
    row = scoreboard.score_rag(rag, questions, general_acc=0.6, n_probe=40)
    assert (row["accuracy"], row["n"], row["mc_acc"], row["general_acc"], row["n_probe"]) == (0.6667, 3, None, 0.6, 40)
    assert (row["cited"], row["cited_by_model"], row["cited_gold"], row["cited_gold_by_model"]) == (0.6667, 0.3333,
                                                                                                    0.3333, 0.3333)
    assert (row["retrieval_miss"], row["reading_miss"]) == (0.3333, 0.0)
    assert row["prompt_tokens"] == 200 and row["n_multi"] == 0 and len(row["records"]) == 3


def test_a_closed_book_row_has_no_citations_and_counts_each_of_its_items(monkeypatch):
    questions = [q for q in load_qa() if len(q["doc_ids"]) == 2][:2] + load_qa()[:2]
    records = [{"id": f"{q['id']}/0", "question": q["paraphrases"][0], "match": i == 0, "f1": 0.3, "seconds": 0.5}
               for i, q in enumerate(questions)]
    monkeypatch.setattr(scoreboard, "evaluate_closed_book", lambda gen, qs, max_new_tokens: SimpleNamespace(
        records=records, summary={"accuracy": 0.25, "f1": 0.3, "latency_p50_s": 0.5}))
    def mc_accuracy(gen, items, return_records=False):  # the questions' MC (4 items), then the probe (8: 6 right)
        if not return_records:
            return 0.5
        return 0.75, [{"id": f"p{i}", "correct": i < 6} for i in range(len(items))]

    monkeypatch.setattr(scoreboard, "mc_accuracy", mc_accuracy)
    gen = SimpleNamespace(chat_prompt=lambda text: text, count_tokens=len)
    row = scoreboard.score_closed_book(gen, questions, probe_items=[object()] * 8, max_new_tokens=8)
    figures = (row["accuracy"], row["mc_acc"], row["general_acc"], row["n"], row["n_mc"], row["n_probe"])
    assert figures == (0.25, 0.5, 0.75, 4, 4, 8)
    assert row["probe_records"] == {f"p{i}": int(i < 6) for i in range(8)}  # which probe items: the paired bootstrap's
    assert (row["multi_acc"], row["n_multi"]) == (0.5, 2)  # the first two need two documents; one of them is right
    assert {row[k] for k in ("cited", "cited_by_model", "cited_gold", "cited_gold_by_model")} == {0.0}
    assert "retrieval_miss" not in row  # no sources, so no miss split: n/a on the scoreboard


def test_a_rows_costs_count_the_index_only_where_it_reads_one():
    info = {"index_build_s": 4.1, "index_bytes": 1480000, "chunks": 323}
    assert scoreboard.row_costs(info, rag=False, train_s=41.2, adapter_bytes=9) == {
        "index_build_s": 0.0, "index_bytes": 0, "train_s": 41.2, "adapter_bytes": 9}
    assert scoreboard.row_costs(info, rag=True) == {"index_build_s": 4.1, "index_bytes": 1480000, "train_s": 0.0,
                                                    "adapter_bytes": 0}


# ---------------------------------------------------------------- over seeds


def test_aggregate_means_spread_and_intervals():
    runs = [{"rows": {Approach.RAG: {"accuracy": 0.6, "mc_acc": None, "n": 40, "train_s": 1.0}}, "freshness": None},
            {"rows": {Approach.RAG: {"accuracy": 0.8, "mc_acc": None, "n": 40, "train_s": 3.0}}, "freshness": None}]
    out = scoreboard.aggregate(runs)
    board = out["scoreboard"]
    assert board[Approach.RAG]["accuracy"] == {"mean": 0.7, "spread": 0.1414, "n": 40, "lo": 0.5457, "hi": 0.8193}
    assert board[Approach.RAG]["train_s"] == {"mean": 2.0, "spread": 1.4142}  # not a rate: no interval
    assert board[Approach.RAG]["mc_acc"] is None  # n/a stays n/a
    assert out["freshness"] is None and list(board) == [Approach.RAG]


def test_aggregate_keeps_the_freshness_figures_with_their_n_and_the_scoreboard_order():
    def fresh(new, kept_after):
        return {"n_updates": 8, "n_questions": 10, "update_s": 2.0, "retrain_s": 30.0, "num_retrain_steps": 48,
                "n_kept": 50, "kept_acc_before": 0.8, "kept_acc_after": kept_after, After.RAG: {"new": new, "old": 0.1},
                After.STALE: {"new": 0.0, "old": 0.7}, "records": []}

    runs = [{"rows": {Approach.FINE_TUNED: {"accuracy": 0.5}, Approach.CLOSED_BOOK: {"accuracy": 0.1}},
             "freshness": fresh(0.8, 0.7)},
            {"rows": {Approach.FINE_TUNED: {"accuracy": 0.5}, Approach.CLOSED_BOOK: {"accuracy": 0.1}},
             "freshness": fresh(1.0, 0.6)}]
    out = scoreboard.aggregate(runs)
    # keys.APPROACHES' order, not the runs'
    assert list(out["scoreboard"]) == [Approach.CLOSED_BOOK, Approach.FINE_TUNED]
    fr = out["freshness"]
    assert fr[After.RAG]["new"]["mean"] == 0.9 and fr[After.RAG]["new"]["n"] == 10  # n: the answers about changed facts
    assert fr[After.STALE]["old"] == {"mean": 0.7, "spread": 0.0, "n": 10, "lo": 0.3968, "hi": 0.8922}
    assert fr["kept_acc_after"]["mean"] == 0.65 and fr["kept_acc_after"]["n"] == 50  # the unchanged facts, their own n
    assert fr["num_retrain_steps"] == {"mean": 48, "spread": 0.0} and "records" not in fr


def test_differences_pair_questions_and_average_seeds():
    def run(rag, ft):
        return {"rows": {Approach.RAG: {"records": [{"id": f"q{i}/0", "match": m} for i, m in enumerate(rag)]},
                         Approach.FINE_TUNED: {"records": [{"id": f"q{i}/0", "match": m} for i, m in enumerate(ft)]}}}

    d = scoreboard.differences([run([0] * 20, [1] * 20), run([0] * 20, [1] * 10 + [0] * 10)])
    assert list(d) == [Approach.FINE_TUNED]  # nothing to pair RAG with but itself
    tuned = d[Approach.FINE_TUNED]
    assert (tuned["n"], tuned["diff"], tuned["measurable"]) == (20, 0.75, True)


def test_the_per_question_table_averages_each_item_over_seeds_in_every_column():
    def run(taught, untaught, probe, fresh):
        records = [{"id": "q1/0", "match": taught, "column": "taught"},
                   {"id": "q9/0", "match": untaught, "column": "untaught"}]
        return {"rows": {"RAG": {"records": records, "probe_records": {"p1": probe}}},
                "freshness": {"RAG after update": {"new": 0.5, "old": 0.0, "by_question": {"q1": fresh}}}}

    table = scoreboard.per_question_table([run(1, 0, 1, 1), run(0, 0, 1, 0)])
    # a record counts in its column only
    assert table["taught"]["RAG"] == {"q1": 0.5} and table["untaught"]["RAG"] == {"q9": 0.0}
    assert table["probe"]["RAG"] == {"p1": 1.0} and table["after_update"]["RAG after update"] == {"q1": 0.5}
    d = scoreboard.differences([run(1, 1, 1, 1)], against="RAG", column="untaught")
    assert d == {}  # no other row: nothing to pair
