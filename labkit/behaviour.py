"""The behaviour task: triage a customer message and reply in the organisation's format.

Most of the kit teaches *knowledge* (facts about Tindlewick Workshop). This module holds a
task that teaches *behaviour* instead: read one support message, pick its intent from a
fixed list of eight, set a priority, and answer in exactly three lines,

    Intent: return_request
    Priority: normal
    Reply: You can return it within 45 days of delivery ... - Tindlewick Support

It holds the format rules and a strict parser for them, the scorer (label accuracy,
priority accuracy, format compliance), the three prompt styles that are compared on it:
- zero-shot: the long rules and the intent list (system turn), then the message;
- few-shot: the same plus the k most similar training messages with their required
  replies as earlier chat turns, found by embedding search (`ExampleRetriever`, over a
  `retrieval.VectorIndex`): the RAG-style answer to a task;
- fine-tuned: a one-line instruction and the message only (`finetuned_prompt`), because a
  model trained on `training_pairs` has learnt the format and needs no rules,
`run_behaviour_baselines`, which scores zero-shot and few-shot on the test split, and
`train_triage` (a LoRA fine-tune on `training_examples`) and `run_behaviour`, which adds that
LoRA to the two (the experiment's behaviour row).

What it leaves out: the data loader (`data.load_triage`), the training loop
(`labkit.finetune`), judging the wording of the reply (only its presence and format are
scored; its intent and priority are the labels), and sampling (generation is greedy).
"""

from __future__ import annotations

import re
import time

from labkit.config import get_config
from labkit.corpus import Chunk
from labkit.data import TRIAGE_INTENTS as INTENTS
from labkit.data import load_triage, stratified_subset
from labkit.finetune import Example, chat_example, make_config, train
from labkit.models import GENERATE_BATCH
from labkit.retrieval import VectorIndex

PRIORITIES = ("low", "normal", "urgent")
SIGN_OFF = "- Tindlewick Support"
# the longest required reply is 64 tokens with its end-of-turn token: 72 leaves a margin
MAX_NEW_TOKENS = 72

FORMAT_RULES = f"""You triage messages sent to Tindlewick Workshop customer support.
Answer in exactly three lines and nothing else:
Intent: <one of {", ".join(INTENTS)}>
Priority: <low, normal or urgent>
Reply: <one or two sentences to the customer> {SIGN_OFF}
Intents: order_status = where is my order or delivery; return_request = wants to send something back, cancel or get a \
refund after changing their mind; warranty_claim = a product has become faulty; damaged_delivery = arrived damaged or \
broken; product_question = a question about a product; billing_issue = payments, charges, invoices; account_help = \
login, password, account settings, loyalty points; repair_booking = wants the Mending Bench to repair something.
Priority: urgent for a safety risk (smoke, burning smell, sparks, electric shock, overheating, swollen battery), a \
customer charged twice, or an account someone else is using; low for a general question where nothing has gone wrong; \
normal for everything else."""

SHORT_INSTRUCTION = "Triage this Tindlewick Workshop support message."

_COMPLIANT = re.compile(
    r"Intent: (?P<intent>[a-z_]+)\nPriority: (?P<priority>[a-z]+)\nReply: (?P<reply>[^\n]*?\S) " + re.escape(SIGN_OFF)
)
_LOOSE_INTENT = re.compile(r"intent\s*[:=\-]\s*\**\s*([A-Za-z_ ]+)", re.IGNORECASE)
_LOOSE_PRIORITY = re.compile(r"priority\s*[:=\-]\s*\**\s*([A-Za-z]+)", re.IGNORECASE)
_LOOSE_REPLY = re.compile(r"reply\s*[:=\-]\s*(.+)", re.IGNORECASE)


def _snake(text: str) -> str:
    return "_".join(text.strip().lower().split())


def parse_reply(text: str) -> dict:
    """Read intent, priority and reply from a model's answer; compliant only if the format is exact.

    Example: parse_reply("Intent: billing_issue\\nPriority: urgent\\nReply: Sorry. - Tindlewick Support")
    -> {"intent": "billing_issue", "priority": "urgent", "reply": "Sorry.", "compliant": True}
    Compliant means the whole answer is those three lines, a known intent and priority, a
    non-empty reply and the sign-off. Otherwise the fields are still read leniently (any
    case, any spacing) so that label accuracy and format compliance are scored apart.
    """
    text = str(text or "").replace("<|im_end|>", "").strip()
    match = _COMPLIANT.fullmatch(text)
    if match and match["intent"] in INTENTS and match["priority"] in PRIORITIES:
        return {"intent": match["intent"], "priority": match["priority"], "reply": match["reply"], "compliant": True}
    intent = _LOOSE_INTENT.search(text)
    priority = _LOOSE_PRIORITY.search(text)
    reply = _LOOSE_REPLY.search(text)
    intent_value = None
    if intent:
        words = intent[1].split("\n")[0]
        intent_value = next((i for i in INTENTS if _snake(words).startswith(i)), _snake(words) or None)
    return {
        "intent": intent_value,
        "priority": priority[1].lower() if priority else None,
        "reply": reply[1].strip() if reply else None,
        "compliant": False,
    }


def score_replies(predictions: list[str], examples: list[dict]) -> dict:
    """Label accuracy (intent), priority accuracy and format compliance of answers, with per-example records.

    Example: score_replies([ex["reply"]], [ex]) -> {"label_accuracy": 1.0, "priority_accuracy": 1.0,
    "format_compliance": 1.0, "n": 1, "records": [...]}
    """
    if len(predictions) != len(examples):
        raise ValueError(f"{len(predictions)} predictions for {len(examples)} examples: give one answer per example.")
    records = []
    for pred, ex in zip(predictions, examples, strict=True):
        parsed = parse_reply(pred)
        records.append({
            "id": ex["id"],
            "message": ex["message"],
            "intent": ex["intent"],
            "priority": ex["priority"],
            "predicted_intent": parsed["intent"],
            "predicted_priority": parsed["priority"],
            "intent_correct": parsed["intent"] == ex["intent"],
            "priority_correct": parsed["priority"] == ex["priority"],
            "compliant": parsed["compliant"],
            "answer": pred,
        })
    n = len(records)
    share = lambda key: sum(r[key] for r in records) / n if n else 0.0  # noqa: E731
    return {
        "label_accuracy": share("intent_correct"),
        "priority_accuracy": share("priority_correct"),
        "format_compliance": share("compliant"),
        "n": n,
        "records": records,
    }


def zero_shot_prompt(message: str) -> list[dict]:
    """The rules and the intent list as the system turn, then the message as the user turn.

    Example: zero_shot_prompt("Where is TW-48213?") -> [{"role": "system", "content": FORMAT_RULES},
    {"role": "user", "content": "Message: Where is TW-48213?"}]
    """
    return [{"role": "system", "content": FORMAT_RULES}, {"role": "user", "content": f"Message: {message}"}]


def few_shot_prompt(message: str, examples: list[dict]) -> list[dict]:
    """The rules, then k worked examples as earlier chat turns (message, required reply), then the message.

    Example: few_shot_prompt("Charged twice!", retriever.examples_for("Charged twice!", top_k=4)) -> 10 turns
    Each example is a user turn and an assistant turn, so a small model sees the format
    as its own earlier answers and copies it (putting the examples inside one long user
    turn made SmolLM2-135M echo the rules instead). The examples keep the order given;
    `ExampleRetriever.examples_for` puts the most similar last, nearest to the new message.
    """
    turns = [{"role": "system", "content": FORMAT_RULES}]
    for ex in examples:
        turns += [{"role": "user", "content": f"Message: {ex['message']}"},
                  {"role": "assistant", "content": ex["reply"]}]
    return turns + [{"role": "user", "content": f"Message: {message}"}]


def render_prompt(gen, prompt) -> str:
    """The text the generator reads: a plain string is one user turn; a list of turns is a chat.

    Example: render_prompt(gen, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    -> "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    """
    if isinstance(prompt, str):
        return gen.chat_prompt(prompt)
    system = prompt[0]["content"] if prompt and prompt[0]["role"] == "system" else None
    turns = prompt[1:] if system is not None else list(prompt)
    if not turns or turns[-1]["role"] != "user":
        raise ValueError("A chat prompt must end with a user turn.")
    text, pending_system = "", system
    for turn in turns:
        if turn["role"] == "user":
            text += gen.chat_prompt(turn["content"], system=pending_system)
            pending_system = None
        else:
            text += f"{turn['content']}{gen.end_of_turn()}\n"
    return text


def finetuned_prompt(message: str) -> str:
    """The short prompt a fine-tuned model gets: one instruction line and the message.
    Example: finetuned_prompt("Hi") -> "Triage this ...\\nMessage: Hi"."""
    return f"{SHORT_INSTRUCTION}\nMessage: {message}"


def training_examples(gen, examples: list[dict]) -> list[Example]:
    """Chat training examples for fine-tuning: the short prompt, the required three-line reply.

    Example: training_examples(gen, load_triage("train"))[0].target
        -> "Intent: order_status\\nPriority: normal\\nReply: ...<|im_end|>"
    """
    return [chat_example(gen, finetuned_prompt(ex["message"]), ex["reply"], "behaviour", str(i)) for i, ex
            in enumerate(examples)]


class ExampleRetriever:
    """Finds the training examples whose messages are closest to a new message.

    Messages are embedded once with normalised vectors and searched by cosine similarity in
    a flat `retrieval.VectorIndex` (the kit's one FAISS home), one "chunk" per message.
    Example: ExampleRetriever(load_triage("train"), embedder).examples_for("Charged twice for TW-1", top_k=4)
    """

    def __init__(self, train_examples: list[dict], embedder, batch_size: int = 64):
        import numpy as np

        self.examples = list(train_examples)
        if not self.examples:
            raise ValueError("ExampleRetriever needs at least one training example.")
        self.embedder = embedder
        vectors = embedder.encode([ex["message"] for ex in self.examples], batch_size=batch_size,
                                  normalize_embeddings=True, convert_to_numpy=True)
        self.index = VectorIndex(embedder, "flat")
        chunks = [Chunk(str(i), str(i), 0, ex["message"]) for i, ex in enumerate(self.examples)]
        self.index.add_vectors(chunks, np.asarray(vectors, dtype="float32"))

    def examples_for_many(self, messages: list[str], top_k: int = 4) -> list[list[dict]]:
        """The top_k nearest training examples for each message, LEAST similar first (the order a few-shot prompt
        wants).

        Example: examples_for_many(["Hi", "Refund?"], 2) -> [[ex, ex], [ex, ex]]
        """
        if not messages:
            return []
        top_k = max(1, min(int(top_k), len(self.examples)))
        queries = self.embedder.encode(list(messages), normalize_embeddings=True, convert_to_numpy=True)
        hits = self.index.search_vectors(queries, top_k)
        return [[self.examples[int(h.chunk.id)] for h in reversed(row)] for row in hits]

    def examples_for(self, message: str, top_k: int = 4) -> list[dict]:
        """The top_k nearest training examples for one message, least similar first.
        Example: examples_for("Where is my kettle?", 1)[0]["intent"] -> "order_status"."""
        return self.examples_for_many([message], top_k)[0]


def score_generator(gen, prompts: list, examples: list[dict], batch_size: int = GENERATE_BATCH,
                    max_new_tokens: int = MAX_NEW_TOKENS) -> dict:
    """Greedy answers to ready-made prompts (strings or chat turns), scored against the examples, with timing.

    Example: score_generator(gen, [finetuned_prompt(e["message"]) for e in test], test)["format_compliance"] -> 0.95
    Adds seconds, seconds_per_message and prompt_tokens (mean, chat format included).
    """
    texts = [render_prompt(gen, p) for p in prompts]
    prompt_tokens = [gen.count_tokens(t) for t in texts]
    start = time.perf_counter()
    answers = gen.generate(texts, max_new_tokens=max_new_tokens, batch_size=batch_size, chat=False) if texts else []
    seconds = time.perf_counter() - start
    result = score_replies(answers, examples)
    result["seconds"] = seconds
    result["seconds_per_message"] = seconds / max(1, len(texts))
    result["prompt_tokens"] = sum(prompt_tokens) / max(1, len(prompt_tokens))
    return result


def run_behaviour_baselines(
    gen, embedder, num_test: int | None = None, top_k: int = 4, batch_size: int = GENERATE_BATCH,
    max_new_tokens: int = MAX_NEW_TOKENS
) -> dict:
    """Score zero-shot and few-shot (top_k retrieved examples) prompting on the test split.

    Example: run_behaviour_baselines(gen, embedder)["few_shot"]["format_compliance"] -> 0.9
    num_test=None uses the whole test split, or a stratified 24 in quick mode. Returns
    {"num_test", "top_k", "zero_shot": {...}, "few_shot": {...}}, each with the scores of
    `score_replies` (records included) and the timing of `score_generator`.
    """
    kit = get_config()
    test = load_triage("test")
    if num_test is None:
        num_test = kit.pick(24, None)
    test = stratified_subset(test, num_test)
    messages = [ex["message"] for ex in test]
    t0 = time.perf_counter()
    retriever = ExampleRetriever(load_triage("train"), embedder)
    shots = retriever.examples_for_many(messages, top_k)
    retrieval_s = time.perf_counter() - t0
    zero = score_generator(gen, [zero_shot_prompt(m) for m in messages], test, batch_size, max_new_tokens)
    few = score_generator(gen, [few_shot_prompt(m, s) for m, s in zip(messages, shots, strict=True)], test, batch_size,
                          max_new_tokens)
    few["retrieval_s"] = retrieval_s
    few["shot_intent_match"] = sum(s[-1]["intent"] == ex["intent"] for s, ex
                                   in zip(shots, test, strict=True)) / max(1, len(test))
    return {"num_test": len(test), "top_k": top_k, "zero_shot": zero, "few_shot": few}


def train_triage(gen, num_steps: int, rank: int, lr: float, seed: int = 0):
    """The triage LoRA: `training_examples` of the training split, num_steps steps (its TrainResult; `.gen` answers).

    Example: train_triage(gen, 24, 16, 2e-3).gen.generate([finetuned_prompt("Where is my order?")])[0]
        -> "Intent: order_status ..."
    """
    train_config = make_config(rank=rank, lr=lr, num_steps=num_steps, seed=seed, max_len=160)
    return train(gen, training_examples(gen, load_triage("train")), train_config, progress=True)


def run_behaviour(gen, embedder, num_test: int | None, num_steps: int, rank: int, lr: float, seed: int = 0, then=None,
                  lora=None, max_new_tokens: int = MAX_NEW_TOKENS) -> dict:
    """The behaviour experiment: zero-shot, retrieved few-shot and LoRA on the triage test split.

    Example: run_behaviour(gen, embedder, 8, 24, 16, 2e-3)["lora"]["format_compliance"] -> 0.95
    Returns {"num_test", "top_k", "num_steps", "zero_shot", "few_shot", "lora"}, each approach
    with label, format and priority accuracy, seconds per message and prompt tokens. `lora` is
    the triage LoRA (`train_triage`'s result) if it is trained already (compare trains it once
    for this and behaviour + facts); otherwise it is trained here. `then(lora_gen)`, if given, is called
    with the trained LoRA and its dict is returned under "behaviour_facts" (notebook 07 runs
    `labkit.behaviour_facts.run_behaviour_facts` with it, so the LoRA is trained once). `max_new_tokens` caps every
    reply (the default fits the whole triage format; a test that checks only the plumbing asks for less).
    """
    out = run_behaviour_baselines(gen, embedder, num_test=num_test, max_new_tokens=max_new_tokens)
    result = lora if lora is not None else train_triage(gen, num_steps, rank, lr, seed)
    test = stratified_subset(load_triage("test"), num_test)
    lora_scores = score_generator(result.gen, [finetuned_prompt(ex["message"]) for ex in test], test,
                                  max_new_tokens=max_new_tokens)
    lora_scores["train_s"] = round(result.train_s, 2)
    out["lora"] = lora_scores
    keep = ("label_accuracy", "format_compliance", "priority_accuracy", "seconds_per_message", "prompt_tokens",
            "train_s")
    return {"num_test": out["num_test"], "top_k": out["top_k"], "num_steps": num_steps,
            **{name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out[name].items() if k in keep}
               for name in ("zero_shot", "few_shot", "lora")},
            **({"behaviour_facts": then(result.gen)} if then is not None else {})}
