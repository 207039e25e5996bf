"""Tests for labkit.behaviour_facts: the fact messages, the prompts, the scorer, and a tiny run (real models)."""

import pytest

from labkit import behaviour_facts as H
from labkit.behaviour import parse_reply
from labkit.data import load_updates
from labkit.rag import Source


def test_fact_messages_are_product_questions_in_held_out_wording_half_about_changed_facts():
    messages = H.fact_messages(8)
    assert len(messages) == 8 and sum(m["changes"] for m in messages) == 4
    for m in messages:
        assert m["doc_ids"][0].startswith("product-") and len(m["doc_ids"]) == 1
        assert m["paraphrases"][0] in m["message"] and m["question"] not in m["message"]  # never the training wording
        assert (m["intent"], m["priority"]) == ("product_question", "low") and m["answers"][0] == m["answer"]
    everything = H.fact_messages(None)
    assert len(everything) > 40 and len({m["id"] for m in everything}) == len(everything)
    with pytest.raises(ValueError, match="at least 1"):
        H.fact_messages(0)


def test_the_prompts_carry_the_sources_and_the_message():
    src = Source(1, "product-brimble-kettle#0", "product-brimble-kettle", "kb/product-brimble-kettle.md",
                 "Brimble Kettle", "Price", 0.9, "The Brimble Kettle costs $89.")
    lora = H.lora_rag_prompt("How much is the kettle?", [src])
    assert lora.index("Sources:\n[1]") < lora.index("Message: How much is the kettle?") and "$89" in lora
    shot = {"message": "Where is TW-1?",
            "reply": "Intent: order_status\nPriority: normal\nReply: On its way. - Tindlewick Support"}
    turns = H.few_shot_rag_prompt("How much is the kettle?", [shot], [src])
    assert [t["role"] for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[-1]["content"].startswith("Sources:\n[1]") and turns[-1]["content"].endswith("Message: How much is "
                                                                                              "the kettle?")


def test_score_fact_replies_scores_format_labels_and_the_fact_apart():
    msg = {"id": "q001", "message": "Price?", "intent": "product_question", "priority": "low"}
    good = "Intent: product_question\nPriority: low\nReply: The Brimble Kettle costs $89. - Tindlewick Support"
    stale = good.replace("$89", "$95")
    loose = "intent: product question\nReply: It is $89"
    scores = H.score_fact_replies([good, stale, loose], [msg] * 3, [["$89"]] * 3)
    assert [r["compliant"] for r in scores["records"]] == [True, True, False]
    # the fact is read from a broken format too
    assert [r["fact_correct"] for r in scores["records"]] == [True, False, True]
    assert (
        scores["fact_accuracy"] == 0.6667 and scores["label_accuracy"] == 1.0 and scores["priority_accuracy"] == 0.6667
    )
    with pytest.raises(ValueError, match="one of each"):
        H.score_fact_replies([good], [msg] * 2, [["$89"]] * 2)


def test_a_tiny_run_scores_every_approach_before_and_after_the_update(generator, embedder, monkeypatch):
    # replies cut at 24 tokens: the base model (standing in for the triage LoRA) rambles to the 72-token cap, and the
    # scoring of what it wrote, not its length, is tested here
    monkeypatch.setattr(H, "MAX_NEW_TOKENS", 24)
    out = H.run_behaviour_facts(generator, generator, embedder, num_messages=2)
    assert out["num_messages"] == 2 and out["num_changed"] == 1
    for when, n in (("before", 2), ("after", 1)):
        assert set(out[when]) == set(H.BEHAVIOUR_FACTS_APPROACHES)
        for scores in out[when].values():
            assert scores["n"] == n and 0.0 <= scores["fact_accuracy"] <= 1.0
            assert all(parse_reply(e["answer"])["compliant"] == e["compliant"] for e in scores["examples"])
    # after the update the expected answer is the changed fact's new value
    changed = next(m for m in H.fact_messages(2) if m["changes"])
    new = {qid: a for u in load_updates() for qid, a in u["new_answers"].items()}
    assert out["after"]["behaviour LoRA + RAG"]["examples"][0]["expected"] == new[changed["id"]] != changed["answer"]
