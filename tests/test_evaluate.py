"""labkit.evaluate: matching and F1 of open answers, comparison questions, scored records, shares, retrieval metrics of
an index."""

import pytest

from labkit import evaluate as ev
from labkit.config import KB_DIR
from labkit.data import load_qa
from labkit.folder_index import index_folder
from labkit.stats import wilson_interval


@pytest.mark.parametrize(
    "text, expected",
    [("The $89 Kettle!", "89 kettle"), ("  a  B  c ", "b c"), ("Hollin-Tarn", "hollintarn")],
)
def test_normalize_answer(text, expected):
    assert ev.normalize_answer(text) == expected


@pytest.mark.parametrize(
    "prediction, answers, expected",
    [
        ("It costs $89.", ["$89"], True),
        ("It costs $899.", ["$89"], False),
        ("thirty days", ["30 days", "thirty days"], True),
        ("", ["x"], False),
        ("The answer is Paris [1].", "paris", True),
    ],
)
def test_is_match(prediction, answers, expected):
    assert ev.is_match(prediction, answers) is expected


def test_token_f1():
    assert ev.token_f1("blue and red", ["red"]) == pytest.approx(0.5)
    assert ev.token_f1("red", ["red", "blue"]) == 1.0
    assert ev.token_f1("green", ["red"]) == 0.0


@pytest.mark.parametrize("answer, right", [
    ("The Drumlin Toaster is heavier.", True),
    ("The Drumlin Toaster is heavier than the Brimble Kettle.", True),
    # the question restated: both named, rival first
    ("Which is heavier, the Brimble Kettle or the Drumlin Toaster?", False),
    ("The Brimble Kettle is heavier than the Drumlin Toaster.", False),
    ("The Brimble Kettle.", False),
])
def test_a_comparison_answer_must_pick_an_option(answer, right):
    assert ev.is_right(answer, ["Drumlin Toaster"], ["Brimble Kettle"]) is right
    # plain matching would pass every restatement
    assert ev.is_match(answer, ["Drumlin Toaster"]) is ("Drumlin" in answer)


def test_scored_answers_use_the_record_rivals():
    q = {"id": "q1/0", "asked": "Which is heavier?", "answer": "Drumlin Toaster", "aliases": [],
         "rivals": ["Brimble Kettle"]}
    restated, picked = ev.score_answers([q, q], ["The Brimble Kettle or the Drumlin Toaster.", "The Drumlin Toaster."])
    assert (restated["match"], picked["match"]) == (False, True)


def test_retrieval_metrics():
    assert ev.recall_at_k(["a", "a", "b", "c"], ["b"], 2) == 1.0  # duplicates of a document count once
    assert ev.recall_at_k(["a", "c"], ["b", "c"], 2) == 0.5
    assert ev.reciprocal_rank(["a", "b"], ["b"]) == 0.5
    assert ev.reciprocal_rank(["a"], ["z"]) == 0.0


def test_share_new_counts_new_and_old_values():
    items = [{"qa_id": "q1", "answer": "$89"}, {"qa_id": "q1", "answer": "$89"}, {"qa_id": "q1", "answer": "$89"},
             {"qa_id": "q1", "answer": "$89"}]
    answers = ["It costs $95.", "It costs $89.", "It was $89, now $95.", "No idea."]
    shares = ev.share_new(answers, items, {"q1": "$95"})
    assert (shares["new"], shares["old"]) == (0.5, 0.5) and shares["by_question"] == {"q1": 0.5}


def test_evaluate_answers_records_and_summary():
    qa = [{"id": "q1", "question": "Q", "paraphrases": ["Price of X?"], "answer": "$89", "aliases": []}]
    result = ev.evaluate_answers(lambda q: {"answer": "It is $89 [1].", "sources": [1]}, qa)
    assert result.summary["accuracy"] == 1.0 and result.summary["n"] == 1
    assert result.records[0]["sources"] == [1] and result.records[0]["question"] == "Price of X?"


def test_share_in_sources_looks_for_the_value_itself():
    from types import SimpleNamespace as NS

    def answer(*texts):
        return NS(sources=[NS(text=t) for t in texts])
    answers = [answer("The Brimble Kettle costs $95."), answer("The lamp has a warranty of 5 years.", "Opening times.")]
    # the last word ("years") alone would have counted both
    assert ev.share_in_sources(answers, ["$95", "7 years"]) == 0.5
    assert ev.share_in_sources([], []) == 0.0


def test_miss_split_separates_retrieval_from_reading_and_adds_up():
    records = [{"match": True, "retrieved_gold": True}, {"match": True, "retrieved_gold": False},
               {"match": False, "retrieved_gold": True}, {"match": False, "retrieved_gold": True},
               {"match": False, "retrieved_gold": False}]
    split = ev.miss_split(records)
    assert split == {"right": 0.4, "retrieval_miss": 0.2, "reading_miss": 0.4, "n": 5}
    assert split["right"] + split["retrieval_miss"] + split["reading_miss"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="RAG records"):
        ev.miss_split([{"match": False}])  # closed-book records have no sources


def test_summarize_gives_every_accuracy_its_n_and_interval():
    records = [{"match": m, "f1": float(m), "seconds": 0.1} for m in [True] * 3 + [False] * 7]
    summary = ev.summarize(records)
    assert summary["n"] == 10 and summary["accuracy"] == 0.3
    assert summary["accuracy_95"] == wilson_interval(0.3,
                                                     10) and summary["accuracy_95"][0] < 0.3 < summary["accuracy_95"][1]
    assert ev.summarize([])["accuracy_95"] == (0.0, 1.0)  # no answers: nothing is known


def test_kb_retrieval_recall(embedder):
    index = index_folder(KB_DIR, embedder, progress=False)
    result = ev.evaluate_retrieval(index, load_qa()[::4])
    assert result["summary"]["recall@3"] >= 0.85 and 0.7 <= result["summary"]["mrr"] <= 1.0


def test_a_passage_shows_an_identifier_word_for_word_even_where_punctuation_glues_it_to_its_neighbours():
    passage = "Start a second browser with --isolated-context=user-b so cookies stay apart."
    assert not ev.is_match(passage, ["--isolated-context"])  # normalised, "isolatedcontextuserb" is one word
    assert ev.shows_answer(passage, ["--isolated-context"])
    assert ev.shows_answer("It costs $89.", "$89") and ev.shows_answer("It costs  89  dollars", ["89 DOLLARS"])
    assert not ev.shows_answer(passage, ["--remove-header", ""])  # nothing shown, and an empty answer shows nothing
