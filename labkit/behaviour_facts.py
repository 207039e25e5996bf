"""Behaviour + facts, built: fine-tune the behaviour, retrieve the facts.

The common guidance's example of combining the two: a customer-service model fine-tuned for the
organisation's reply format and service process, with retrieval supplying the latest product
facts. Here that is a support message that asks about a product,

    Hi, what is the price of the Brimble Kettle? Thanks.

whose required reply is the triage format of `labkit.behaviour` with the fact in it:

    Intent: product_question
    Priority: low
    Reply: The Brimble Kettle costs $89. - Tindlewick Support

The messages are made from qa.jsonl's held-out paraphrases of questions about one product
(`fact_messages`: half of them about facts that data/updates.jsonl changes). Three ways to
write the reply, each scored on format compliance, label accuracy (the intent), priority
accuracy and fact accuracy (the accepted answer in the reply), before the facts change and after:
- "few-shot + RAG": no training. The triage rules, the most similar training messages with
  their replies, and the top_k knowledge-base sources for the message (`few_shot_rag_prompt`);
- "behaviour LoRA": the triage LoRA with its one-line prompt and no sources: the facts can
  only come from its weights (the base model's, or what the triage replies taught it);
- "behaviour LoRA + RAG": the same LoRA with the sources before the message (`lora_rag_prompt`).
After the update the index is a copy with the changed documents re-embedded; the LoRA is not
retrained, as a team would not retrain for a price change.

What it leaves out: training (`behaviour.train_triage` trains the LoRA; `behaviour_tasks.behaviour_facts_task` hands
it to `run_behaviour_facts`), judging the reply's wording beyond the fact, sampling (greedy), and the result in words
(`labkit.report`: `behaviour_facts_markdown`, `behaviour_facts_findings`).

Example: run_behaviour_facts(gen, lora_gen, embedder, num_messages=8)["after"]["behaviour LoRA + RAG"]["fact_accuracy"]
    -> 0.75
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from labkit.behaviour import (
    FORMAT_RULES,
    MAX_NEW_TOKENS,
    SHORT_INSTRUCTION,
    ExampleRetriever,
    finetuned_prompt,
    parse_reply,
    render_prompt,
)
from labkit.config import KB_DIR
from labkit.data import load_qa, load_triage, load_updates, spread, updated_questions
from labkit.evaluate import is_match
from labkit.folder_index import index_folder
from labkit.kb_updates import apply_updates
from labkit.rag import Source, sources_block, sources_from_hits
from labkit.retrieval import VectorIndex

BEHAVIOUR_FACTS_APPROACHES = ("few-shot + RAG", "behaviour LoRA", "behaviour LoRA + RAG")
# messages read like the triage data's, not like quiz questions
GREETINGS = ("Hi,", "Hello,", "Good morning,", "Hi team,")
CLOSINGS = ("Thanks.", "Cheers", "Thank you!", "Regards, Sam")


def fact_messages(num: int | None = 24) -> list[dict]:
    """Support messages asking one product fact: half about facts the updates change (as many as there are), the rest
    not.

    Example: fact_messages(2)[0] -> {"id": "q001", "message": "Hi, What is the price of the Brimble Kettle? Thanks.",
    "intent": "product_question", "priority": "low", "answers": ["$89", "89 dollars"], "changes": True, ...}
    Each message uses the question's first held-out paraphrase, never its training wording.
    """
    changed = {qid for u in load_updates() for qid in u["new_answers"]}
    product = [q for q in load_qa() if len(q["doc_ids"]) == 1 and q["doc_ids"][0].startswith("product-") and q["kind"]
               != "multi"]
    pool = [q for q in product if q["id"] in changed], [q for q in product if q["id"] not in changed]
    num = len(product) if num is None else int(num)
    if num < 1:
        raise ValueError(f"num must be at least 1 (or None for all {len(product)} product questions), not {num}.")
    n_changed = min(len(pool[0]), max(1, num // 2))
    picked = spread(pool[0], n_changed) + spread(pool[1], num - n_changed)
    return [{**q, "message": f"{GREETINGS[i % len(GREETINGS)]} {q['paraphrases'][0]} {CLOSINGS[i % len(CLOSINGS)]}",
             "intent": "product_question", "priority": "low", "answers": [q["answer"], *q.get("aliases", [])],
             "changes": q["id"] in changed} for i, q in enumerate(picked)]


def lora_rag_prompt(message: str, sources: list[Source]) -> str:
    """The behaviour LoRA's one-line prompt with the sources between the instruction and the message.

    Example: lora_rag_prompt("Price of the kettle?", [src])
        -> "Triage this ...\\nSources:\\n[1] ...\\nMessage: Price of the kettle?"
    """
    return f"{SHORT_INSTRUCTION} Use the sources for facts.\n{sources_block(sources)}\nMessage: {message}"


def few_shot_rag_prompt(message: str, shots: list[dict], sources: list[Source]) -> list[dict]:
    """The triage rules, the retrieved worked examples as earlier turns, then the sources and the message.

    Example: few_shot_rag_prompt("Price?", retriever.examples_for("Price?"), [src])[-1]["content"]
        -> "Sources:\\n[1] ...\\n\\nMessage: Price?"
    """
    turns = [{"role": "system", "content": FORMAT_RULES + "\nState facts only as the sources give them."}]
    for ex in shots:
        turns += [{"role": "user", "content": f"Message: {ex['message']}"},
                  {"role": "assistant", "content": ex["reply"]}]
    return turns + [{"role": "user", "content": f"{sources_block(sources)}\n\nMessage: {message}"}]


def score_fact_replies(answers: list[str], messages: list[dict], accepted: list[list[str]]) -> dict:
    """Format compliance, label accuracy (the intent), priority accuracy and fact accuracy of replies, with n.

    Example: score_fact_replies(["Intent: product_question\\nPriority: low\\nReply: It costs $89. - Tindlewick
        Support"],
    [msg], [["$89"]]) -> {"format_compliance": 1.0, "label_accuracy": 1.0, "priority_accuracy": 1.0, "fact_accuracy":
    1.0, "n": 1, "records": [...]} The fact is looked for in the reply line (in the whole answer when the format is
    broken).
    """
    if not len(answers) == len(messages) == len(accepted):
        raise ValueError(f"{len(answers)} answers, {len(messages)} messages and {len(accepted)} answer lists: give one "
                         "of each per message.")
    records = []
    for answer, msg, ok in zip(answers, messages, accepted, strict=True):
        parsed = parse_reply(answer)
        records.append({"id": msg["id"], "message": msg["message"], "answer": answer, "expected": ok[0],
                        "compliant": parsed["compliant"],
                        "intent_correct": parsed["intent"] == msg["intent"],
                        "priority_correct": parsed["priority"] == msg["priority"],
                        "fact_correct": is_match(parsed["reply"] or answer, ok)})
    n = len(records)

    def share(key):
        return round(sum(r[key] for r in records) / n, 4) if n else None

    return {"format_compliance": share("compliant"), "label_accuracy": share("intent_correct"),
            "priority_accuracy": share("priority_correct"), "fact_accuracy": share("fact_correct"),
            "n": n, "records": records}


def _updated_copy(index: VectorIndex, embedder) -> VectorIndex:
    """A copy of the index with data/updates.jsonl applied (the original is left as it is)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = VectorIndex.load(index.save(Path(tmp) / "kb"), embedder)
    apply_updates(copy, load_updates())
    return copy


def run_behaviour_facts(gen, lora_gen, embedder, index: VectorIndex | None = None, num_messages: int | None = 24,
                        top_k: int = 3, shots: int = 4) -> dict:
    """Score the three ways of replying (BEHAVIOUR_FACTS_APPROACHES) before and after the facts change.

    Example: run_behaviour_facts(gen, lora_gen, embedder, num_messages=8)["before"]["few-shot +
        RAG"]["format_compliance"] -> 0.88
    `gen` is the base model (few-shot + RAG), `lora_gen` the triage LoRA. Before: every message,
    its original answer, the original index. After: the messages whose fact changed, the new
    answer, an updated copy of the index. Returns {"num_messages", "num_changed", "top_k",
    "before": {approach: scores}, "after": {approach: scores}}, records left out.
    """
    index = index if index is not None else index_folder(KB_DIR, embedder, progress=False)
    messages = fact_messages(num_messages)
    changed = [m for m in messages if m["changes"]]
    new = {q["id"]: [q["answer"], *q.get("aliases", [])] for q in updated_questions(changed, load_updates())}
    texts = [m["message"] for m in messages]
    examples = dict(zip(texts, ExampleRetriever(load_triage("train"), embedder).examples_for_many(texts, shots),
                        strict=True))
    out = {"num_messages": len(messages), "num_changed": len(changed), "top_k": top_k}
    when = {"before": (messages, index, [m["answers"] for m in messages]),
            "after": (changed, _updated_copy(index, embedder), [new[m["id"]] for m in changed])}
    prompts = {}  # (when, approach) -> (model, prompts)
    for moment, (msgs, idx, _) in when.items():
        asked = [m["message"] for m in msgs]
        sources = [sources_from_hits(h) for h in idx.search_many(asked, top_k)]
        prompts[moment, "few-shot + RAG"] = (gen, [few_shot_rag_prompt(t, examples[t], s)
                                                   for t, s in zip(asked, sources, strict=True)])
        prompts[moment, "behaviour LoRA"] = (lora_gen, [finetuned_prompt(t) for t in asked])
        prompts[moment, "behaviour LoRA + RAG"] = (lora_gen, [lora_rag_prompt(t, s)
                                                              for t, s in zip(asked, sources, strict=True)])
    answers = {}
    for approach in BEHAVIOUR_FACTS_APPROACHES:
        model, before = prompts["before", approach]
        _, after = prompts["after", approach]
        # one generate call per approach, before and after together (the reply loop is the cost, not the batch);
        # the LoRA alone reads no sources, so its replies after the update are its replies before
        reuse = approach == "behaviour LoRA"
        replies = model.generate([render_prompt(model, p) for p in before + ([] if reuse else after)],
                                 max_new_tokens=MAX_NEW_TOKENS, chat=False)
        answers["before", approach] = replies[: len(before)]
        if reuse:
            by_message = dict(zip(texts, replies, strict=True))
            answers["after", approach] = [by_message[m["message"]] for m in changed]
        else:
            answers["after", approach] = replies[len(before):]
    for moment, (msgs, _, accepted) in when.items():
        out[moment] = {}
        for approach in BEHAVIOUR_FACTS_APPROACHES:
            scores = score_fact_replies(answers[moment, approach], msgs, accepted)
            out[moment][approach] = {k: v for k, v in scores.items() if k
                                     != "records"} | {"examples": scores["records"][:2]}
    return out
