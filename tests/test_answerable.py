"""Answerable: the share of a question its sources name (IDF-weighted), and the rule it gives abstaining."""

import pytest

from labkit.answerable import AnswerableRule, apply_rule, question_terms, term_share, term_shares
from labkit.keyword_index import KeywordIndex
from labkit.rag import ABSTAIN, RAG, Source, build_prompt, shown_text
from labkit.retrieval import VectorIndex

WEIGHTS = {"od": 3.0, "option": 0.5, "skips": 1.5, "bytes": 1.0}


def test_term_share_weighs_each_term_by_its_idf_and_matches_terms_whole():
    text = "od: -j, --skip-bytes=BYTES skip BYTES input bytes first"
    assert question_terms("Which od option skips bytes?") == list(WEIGHTS)
    assert term_share("Which od option skips bytes?", text, WEIGHTS) == pytest.approx(4.0 / 6.0, abs=1e-4)
    assert term_share("Which od option skips bytes?", "", WEIGHTS) == 0.0
    assert term_share("Which od option skips bytes?", "od option skips bytes", WEIGHTS) == 1.0
    assert term_share("What is it, and how?", "anything", WEIGHTS) is None  # no term to look for
    # the rare term decides: without "od" the same other words cover much less
    assert term_share("Which od option skips bytes?", "option skips", WEIGHTS) < 0.5


def test_idf_weighs_a_rare_term_more_and_an_unknown_one_most(tmp_path):
    index = KeywordIndex([0, 1, 2], ["a kettle costs money", "a lamp costs money", "a kettle lamp"])
    idf = index.idf(["costs", "kettle", "money", "teapot"])
    assert idf["teapot"] > idf["money"] > 0 and idf["costs"] == idf["money"] == idf["kettle"]
    rare = KeywordIndex([0, 1, 2], ["kettle", "lamp", "lamp"]).idf(["kettle", "lamp"])
    assert rare["kettle"] > rare["lamp"]
    sha = index.save(tmp_path / "kw")
    assert KeywordIndex.load(tmp_path / "kw", sha, [0, 1, 2]).idf(["costs", "teapot"]) == {
        k: idf[k] for k in ("costs", "teapot")}


def test_a_rule_that_would_overrule_and_withdraw_at_once_is_refused():
    with pytest.raises(ValueError, match="abstain_below"):
        AnswerableRule(answer_from=0.3, abstain_below=0.5)


def test_an_answer_the_sources_do_not_name_is_withdrawn_and_one_they_name_is_kept():
    # no abstention to overrule, so no decoding: the generator is never asked
    raws = ["EAR99 [1].", "$89 [2].", "blue [1]."]
    out = apply_rule(AnswerableRule(0.5, 0.3), None, ["p1", "p2", "p3"], ["s1", "s2", "s3"], raws, [0.1, 0.3, None],
                     ABSTAIN, chunks=300)
    assert out == [ABSTAIN, "$89 [2].", "blue [1]."]
    # over a handful of chunks rarity means little: nothing is withdrawn there
    assert apply_rule(AnswerableRule(0.5, 0.3, min_chunks=20), None, ["p1"], ["s1"], raws[:1], [0.1], ABSTAIN,
                      chunks=19) == raws[:1]


def test_an_abstention_over_sources_that_name_the_question_is_answered_from_them(generator):
    source = Source(1, "c", "d", "p", "Export", "Export", 0.9, "zlib is not subject to export controls. It is "
                    "classified EAR99 by the U.S. government.")
    prompt, shown = build_prompt("How is zlib classified for export?", [source]), shown_text([source])
    out = apply_rule(AnswerableRule(0.5, 0.3), generator, [prompt, prompt], [shown, shown], [ABSTAIN, ABSTAIN],
                     [0.9, 0.4], ABSTAIN, chunks=1)  # overruling needs no index size
    assert out[1] == ABSTAIN  # between the thresholds the reader's abstention stands
    span = out[0].split(" [")[0].rstrip(".")
    assert out[0] != ABSTAIN and span and span in shown


def test_rag_records_term_share_and_withdraws_what_its_index_cannot_answer(generator, embedder):
    from labkit.corpus import Chunk

    index = VectorIndex(embedder)
    index.add_chunks([Chunk("kettle#0", "kettle", 0, "The Brimble Kettle can hold 1.7 litres and costs $89.",
                            "Brimble Kettle"),
                      Chunk("lamp#0", "lamp", 0, "The Orrin Desk Lamp has a 5-year warranty.", "Orrin Desk Lamp")],
                     progress=False)
    questions = ["What does the Brimble Kettle hold?", "Who designed the Quaxley teapot's spout?"]
    rule = AnswerableRule(0.5, 0.3, min_chunks=2)
    answers = RAG(index, generator, top_k=1, max_new_tokens=16, answerable=rule).answer_many(questions)
    covered = term_shares(index, questions, [shown_text(a.sources) for a in answers])
    assert [a.term_share for a in answers] == covered
    assert covered[0] >= rule.answer_from and covered[1] < rule.abstain_below
    assert answers[1].answer == ABSTAIN and answers[1].cited == []
