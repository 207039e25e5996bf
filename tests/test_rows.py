"""labkit.rows: the run's Setup (read once, frozen), and the row functions, each taking what it needs and returning its record."""

import dataclasses

import pytest

from labkit.compare_config import default_compare_config
from labkit.data import load_probe, spread, taught_questions
from labkit.rows import make_setup, row_closed_book, row_rag


def test_a_setup_reads_the_runs_questions_and_probe_once_and_cannot_be_edited():
    ccfg = default_compare_config(quick=True, num_questions=4, num_updates=1, num_probe=6)
    setup = make_setup(None, None, None, {}, ccfg)
    assert (setup.questions, setup.updates) == taught_questions(4, 1, False)
    assert [it.question for it in setup.probe] == [r["question"] for r in spread(load_probe(), 6)]
    assert setup.updated is None and setup.update_info is None  # freshness.with_updated_index adds them
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.questions = []  # every row reads the same questions: nothing may swap them mid-run


def test_the_untrained_rows_score_the_held_out_wordings_and_cost_only_what_they_use(tiny_run):
    setup, ccfg = tiny_run
    closed = row_closed_book(setup, ccfg)
    rag = row_rag(setup, ccfg, closed)
    for row in (closed, rag):  # one held-out paraphrase per taught question, never its training wording
        assert [r["question"] for r in row["records"]] == [q["paraphrases"][0] for q in setup.questions] and row["n"] == len(setup.questions)
        assert row["train_s"] == 0.0 and row["adapter_bytes"] == 0
    assert closed["index_bytes"] == 0 and closed["index_build_s"] == 0.0 and closed["n_probe"] == 4 and closed["mc_acc"] is not None
    assert rag["index_bytes"] == setup.index_info["index_bytes"] > 0 and rag["mc_acc"] is None  # MC measures what a model stores
    assert rag["general_acc"] == closed["general_acc"]  # RAG leaves the weights as they are: the base model's probe score
    assert rag["prompt_tokens"] > closed["prompt_tokens"]  # the sources are in the prompt
