"""Tests for labkit.behaviour: the triage data, the format parser, the scorer, the prompts,
the example retriever (real embedder) and a tiny baseline run (real generator)."""


import pytest

from labkit import behaviour as B
from labkit.data import load_triage


@pytest.fixture(scope="module")
def rows():
    return load_triage()


# ---------------------------------------------------------------- the format


def test_every_reply_is_compliant_and_matches_its_labels(rows):
    for r in rows:
        parsed = B.parse_reply(r["reply"])
        assert parsed["compliant"], r["id"]
        assert (parsed["intent"], parsed["priority"]) == (r["intent"], r["priority"]), r["id"]


# ---------------------------------------------------------------- parsing and scoring

GOOD = "Intent: billing_issue\nPriority: urgent\nReply: Sorry about the double charge. - Tindlewick Support"


@pytest.mark.parametrize(
    "text, compliant, intent, priority",
    [
        (GOOD, True, "billing_issue", "urgent"),
        ("  " + GOOD + "<|im_end|>\n", True, "billing_issue", "urgent"),
        (GOOD.replace(" - Tindlewick Support", ""), False, "billing_issue", "urgent"),
        (GOOD + "\nAnything else?", False, "billing_issue", "urgent"),
        (GOOD.replace("Intent:", "intent:"), False, "billing_issue", "urgent"),
        (GOOD.replace("billing_issue", "Billing Issue"), False, "billing_issue", "urgent"),
        (GOOD.replace("billing_issue", "refund"), False, "refund", "urgent"),
        (GOOD.replace("urgent", "high"), False, "billing_issue", "high"),
        (GOOD.replace("Reply: Sorry about the double charge.", "Reply:"), False, "billing_issue", "urgent"),
        ("Sorry to hear that! I can help with your order.", False, None, None),
        ("", False, None, None),
    ],
)
def test_parse_reply(text, compliant, intent, priority):
    parsed = B.parse_reply(text)
    assert parsed["compliant"] is compliant
    assert (parsed["intent"], parsed["priority"]) == (intent, priority)


def test_parse_reply_reads_the_reply_text():
    assert B.parse_reply(GOOD)["reply"] == "Sorry about the double charge."


def _example(i, intent, priority):
    return {"id": f"x{i}", "message": f"message {i}", "intent": intent, "priority": priority}


def test_score_replies_arithmetic():
    examples = [_example(0, "billing_issue", "urgent"), _example(1, "order_status", "normal"),
                _example(2, "account_help", "low"), _example(3, "repair_booking", "normal")]
    predictions = [
        GOOD,  # all right
        GOOD.replace("urgent", "normal"),  # compliant, wrong intent, right priority
        "intent: account_help\npriority: low\nreply: yes",  # right labels, not compliant
        "I can help with that!",  # nothing
    ]
    scores = B.score_replies(predictions, examples)
    assert scores["n"] == 4
    assert scores["label_accuracy"] == pytest.approx(2 / 4)
    assert scores["priority_accuracy"] == pytest.approx(3 / 4)
    assert scores["format_compliance"] == pytest.approx(2 / 4)
    assert [r["intent_correct"] for r in scores["records"]] == [True, False, True, False]
    with pytest.raises(ValueError, match="one answer per example"):
        B.score_replies(predictions[:2], examples)


# ---------------------------------------------------------------- prompts


def test_prompts(rows):
    message = "Where is my kettle? Order TW-12345."
    zero = B.zero_shot_prompt(message)
    assert [t["role"] for t in zero] == ["system", "user"] and zero[-1]["content"].endswith(message)
    assert all(i in zero[0]["content"] for i in B.INTENTS) and B.SIGN_OFF in zero[0]["content"]
    few = B.few_shot_prompt(message, rows[:3])
    assert [t["role"] for t in few] == ["system"] + ["user", "assistant"] * 3 + ["user"]
    assert [t["content"] for t in few[2:-1:2]] == [r["reply"] for r in rows[:3]] and few[-1] == zero[-1]
    short = B.finetuned_prompt(message)
    assert short.endswith(message) and "order_status" not in short and len(short) < len(message) + 80



def test_training_examples_are_short_prompt_and_required_reply(generator, rows):
    examples = B.training_examples(generator, rows[:5])
    assert [e.prompt for e in examples] == [generator.chat_prompt(B.finetuned_prompt(r["message"])) for r in rows[:5]]
    assert [e.target for e in examples] == [r["reply"] + generator.end_of_turn() for r in rows[:5]]


def test_render_prompt(generator, rows):
    text = B.render_prompt(generator, B.few_shot_prompt("Hello?", rows[:2]))
    assert text.startswith("<|im_start|>system\n"
                           + B.FORMAT_RULES) and text.endswith("Message: Hello?<|im_end|>\n<|im_start|>assistant\n")
    assert text.count("<|im_start|>user") == 3 and text.count(
        "<|im_start|>assistant") == 3 and rows[1]["reply"] + "<|im_end|>" in text
    assert B.render_prompt(generator, "Hi") == generator.chat_prompt("Hi")
    with pytest.raises(ValueError, match="user turn"):
        B.render_prompt(generator, [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])


def test_gold_replies_fit_the_generation_budget(generator, rows):
    tok = generator.tokenizer
    ids = tok([r["reply"] + generator.end_of_turn() for r in rows], add_special_tokens=False)["input_ids"]
    longest = max(map(len, ids))
    assert longest <= B.MAX_NEW_TOKENS


# ---------------------------------------------------------------- retrieval and a tiny run


@pytest.fixture(scope="module")
def retriever(embedder):
    return B.ExampleRetriever(load_triage("train"), embedder)


@pytest.mark.parametrize(
    "message, intent",
    [
        ("My bank shows you took the payment two times for the same order.", "billing_issue"),
        ("The teapot was smashed to pieces when I opened the box from the courier.", "damaged_delivery"),
        ("I forgot my password and the reset email never comes.", "account_help"),
        ("How many litres of water does the kettle hold?", "product_question"),
    ],
)
def test_retriever_finds_same_intent_neighbours(retriever, message, intent):
    hits = retriever.examples_for(message, top_k=4)
    assert len(hits) == 4
    assert hits[-1]["intent"] == intent  # the nearest comes last
    assert sum(h["intent"] == intent for h in hits) >= 3


def test_baselines_return_the_right_shapes(generator, embedder):
    result = B.run_behaviour_baselines(generator, embedder, num_test=2, top_k=1, max_new_tokens=4)
    assert result["num_test"] == 2 and result["top_k"] == 1
    for name in ("zero_shot", "few_shot"):
        scores = result[name]
        assert scores["n"] == 2 and len(scores["records"]) == 2
        for key in ("label_accuracy", "priority_accuracy", "format_compliance"):
            assert 0.0 <= scores[key] <= 1.0
        assert scores["seconds"] > 0 and scores["prompt_tokens"] > 0
    assert result["few_shot"]["prompt_tokens"] > result["zero_shot"]["prompt_tokens"]


def test_retriever_orders_least_similar_first_by_cosine(retriever, embedder):
    import numpy as np

    message = "Where is my order TW-55555? It has not arrived."
    hits = retriever.examples_for(message, top_k=5)
    q = embedder.encode([message], normalize_embeddings=True)[0]
    sims = [float(np.dot(q, embedder.encode([h["message"]], normalize_embeddings=True)[0])) for h in hits]
    assert sims == sorted(sims)  # ascending: the most similar last, nearest to the new message


def test_run_behaviour_trains_and_scores_three_approaches(generator, embedder):
    # replies cut at 16 tokens: what is tested is the plumbing and the prompts, not the replies (07 scores those)
    result = B.run_behaviour(generator, embedder, num_test=2, num_steps=1, rank=4, lr=2e-3, max_new_tokens=16)
    assert (result["num_test"], result["top_k"], result["num_steps"]) == (2, 4, 1)
    assert set(result) >= {"zero_shot", "few_shot", "lora"} and result["lora"]["train_s"] > 0
    assert result["lora"]["prompt_tokens"] < result["zero_shot"]["prompt_tokens"] < result["few_shot"]["prompt_tokens"]
