"""The behaviour task: triage a customer message and reply in the organisation's format.

Most of the kit teaches *knowledge* (facts about Tindlewick Workshop). This module holds a
task that teaches *behaviour* instead: read one support message, pick its intent from a
fixed list of eight, set a priority, and answer in exactly three lines,

    Intent: return_request
    Priority: normal
    Reply: You can return it within 45 days of delivery ... - Tindlewick Support

It holds the data loader (data/triage.jsonl, a fixed train/test split), the format rules
and a strict parser for them, the scorer (label accuracy, priority accuracy, format
compliance), the three prompt styles that are compared on it:
- zero-shot: the long rules and the intent list (system turn), then the message;
- few-shot: the same plus the k most similar training messages with their required
  replies as earlier chat turns, found by embedding search (`ExampleRetriever`): the
  RAG-style answer to a task;
- fine-tuned: a one-line instruction and the message only (`finetuned_prompt`), because a
  model trained on `training_pairs` has learnt the format and needs no rules,
and `run_behaviour_baselines`, which scores zero-shot and few-shot on the test split.

What it leaves out: the training itself (`labkit.finetune` consumes `training_pairs`),
judging the wording of the reply (only its presence and format are scored; its intent and
priority are the labels), and sampling (generation is greedy).
"""

from __future__ import annotations

import re
import time

from labkit.config import DATA_DIR, get_config
from labkit.data import load_jsonl

TRIAGE_PATH = DATA_DIR / "triage.jsonl"
INTENTS = (
    "order_status",
    "return_request",
    "warranty_claim",
    "damaged_delivery",
    "product_question",
    "billing_issue",
    "account_help",
    "repair_booking",
)
PRIORITIES = ("low", "normal", "urgent")
SIGN_OFF = "- Tindlewick Support"
# the longest required reply is 64 tokens with its end-of-turn token: 72 leaves a margin
MAX_NEW_TOKENS = 72

FORMAT_RULES = f"""You triage messages sent to Tindlewick Workshop customer support.
Answer in exactly three lines and nothing else:
Intent: <one of {", ".join(INTENTS)}>
Priority: <low, normal or urgent>
Reply: <one or two sentences to the customer> {SIGN_OFF}
Intents: order_status = where is my order or delivery; return_request = wants to send something back, cancel or get a refund after changing their mind; warranty_claim = a product has become faulty; damaged_delivery = arrived damaged or broken; product_question = a question about a product; billing_issue = payments, charges, invoices; account_help = login, password, account settings, loyalty points; repair_booking = wants the Mending Bench to repair something.
Priority: urgent for a safety risk (smoke, burning smell, sparks, electric shock, overheating, swollen battery), a customer charged twice, or an account someone else is using; low for a general question where nothing has gone wrong; normal for everything else."""

SHORT_INSTRUCTION = "Triage this Tindlewick Workshop support message."

_COMPLIANT = re.compile(
    r"Intent: (?P<intent>[a-z_]+)\nPriority: (?P<priority>[a-z]+)\nReply: (?P<reply>[^\n]*?\S) " + re.escape(SIGN_OFF)
)
_LOOSE_INTENT = re.compile(r"intent\s*[:=\-]\s*\**\s*([A-Za-z_ ]+)", re.IGNORECASE)
_LOOSE_PRIORITY = re.compile(r"priority\s*[:=\-]\s*\**\s*([A-Za-z]+)", re.IGNORECASE)
_LOOSE_REPLY = re.compile(r"reply\s*[:=\-]\s*(.+)", re.IGNORECASE)


def load_triage(split: str | None = None) -> list[dict]:
    """The labelled support messages (data/triage.jsonl), all or one split.

    Example: load_triage("test")[0].keys() -> {"id", "message", "intent", "priority", "reply", "split"}
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', not {split!r}.")
    rows = load_jsonl(TRIAGE_PATH)
    return [r for r in rows if split is None or r["split"] == split]


def stratified_subset(examples: list[dict], n: int | None) -> list[dict]:
    """n examples taken in turn from each intent (file order), so every intent is covered.

    Example: stratified_subset(load_triage("test"), 24) -> 3 messages of each of the 8 intents
    """
    if n is None or n >= len(examples):
        return list(examples)
    by_intent: dict[str, list[dict]] = {}
    for ex in examples:
        by_intent.setdefault(ex["intent"], []).append(ex)
    queues = [by_intent[i] for i in INTENTS if i in by_intent] + [v for k, v in by_intent.items() if k not in INTENTS]
    picked, depth = [], 0
    while len(picked) < n:
        for queue in queues:
            if depth < len(queue) and len(picked) < n:
                picked.append(queue[depth])
        depth += 1
    return picked


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

    Example: few_shot_prompt("Charged twice!", retriever.search("Charged twice!", k=4)) -> 10 turns
    Each example is a user turn and an assistant turn, so a small model sees the format
    as its own earlier answers and copies it (putting the examples inside one long user
    turn made SmolLM2-135M echo the rules instead). The examples keep the order given;
    `ExampleRetriever.search` puts the most similar last, nearest to the new message.
    """
    turns = [{"role": "system", "content": FORMAT_RULES}]
    for ex in examples:
        turns += [{"role": "user", "content": f"Message: {ex['message']}"}, {"role": "assistant", "content": ex["reply"]}]
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
    """The short prompt a fine-tuned model gets: one instruction line and the message. Example: finetuned_prompt("Hi") -> "Triage this ...\\nMessage: Hi"."""
    return f"{SHORT_INSTRUCTION}\nMessage: {message}"


def training_pairs(examples: list[dict]) -> list[tuple[str, str]]:
    """(user prompt, target reply) pairs for fine-tuning; the prompt is the short form.

    Example: training_pairs(load_triage("train"))[0] -> ("Triage this ...\\nMessage: Hi, I ordered ...", "Intent: order_status\\nPriority: normal\\nReply: ...")
    """
    return [(finetuned_prompt(ex["message"]), ex["reply"]) for ex in examples]


class ExampleRetriever:
    """Finds the training examples whose messages are closest to a new message.

    Messages are embedded once with normalised vectors and searched by inner product
    (cosine similarity) in a FAISS flat index, or with NumPy if FAISS is missing.
    Example: ExampleRetriever(load_triage("train"), embedder).search("Charged twice for TW-1", k=4)
    """

    def __init__(self, train_examples: list[dict], embedder, batch_size: int = 64):
        import numpy as np

        self.examples = list(train_examples)
        if not self.examples:
            raise ValueError("ExampleRetriever needs at least one training example.")
        self.embedder = embedder
        vectors = embedder.encode([ex["message"] for ex in self.examples], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
        self.vectors = np.ascontiguousarray(vectors, dtype="float32")
        try:
            import faiss

            self.index = faiss.IndexFlatIP(self.vectors.shape[1])
            self.index.add(self.vectors)
        except ImportError:  # pragma: no cover - faiss-cpu is a dependency; NumPy gives the same answer
            self.index = None

    def search_many(self, messages: list[str], k: int = 4) -> list[list[dict]]:
        """The k nearest training examples for each message, least similar first. Example: search_many(["Hi", "Refund?"], 2) -> [[ex, ex], [ex, ex]]."""
        import numpy as np

        if not messages:
            return []
        k = max(1, min(int(k), len(self.examples)))
        queries = np.ascontiguousarray(self.embedder.encode(list(messages), normalize_embeddings=True, convert_to_numpy=True), dtype="float32")
        if self.index is not None:
            _, ids = self.index.search(queries, k)
        else:  # pragma: no cover
            ids = np.argsort(-(queries @ self.vectors.T), axis=1)[:, :k]
        return [[self.examples[int(i)] for i in row[::-1]] for row in ids]

    def search(self, message: str, k: int = 4) -> list[dict]:
        """The k nearest training examples for one message, least similar first. Example: search("Where is my kettle?", 1)[0]["intent"] -> "order_status"."""
        return self.search_many([message], k)[0]


def score_generator(gen, prompts: list, examples: list[dict], batch_size: int = 8, max_new_tokens: int = MAX_NEW_TOKENS) -> dict:
    """Greedy answers to ready-made prompts (strings or chat turns), scored against the examples, with timing.

    Example: score_generator(gen, [finetuned_prompt(e["message"]) for e in test], test)["format_compliance"] -> 0.95
    Adds seconds, seconds_per_message and prompt_tokens (mean, chat format included).
    """
    texts = [render_prompt(gen, p) for p in prompts]
    prompt_tokens = [len(gen.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    start = time.perf_counter()
    answers = gen.generate(texts, max_new_tokens=max_new_tokens, batch_size=batch_size, chat=False) if texts else []
    seconds = time.perf_counter() - start
    result = score_replies(answers, examples)
    result["seconds"] = seconds
    result["seconds_per_message"] = seconds / max(1, len(texts))
    result["prompt_tokens"] = sum(prompt_tokens) / max(1, len(prompt_tokens))
    return result


def run_behaviour_baselines(
    gen, embedder, n_test: int | None = None, k: int = 4, batch_size: int = 8, max_new_tokens: int = MAX_NEW_TOKENS
) -> dict:
    """Score zero-shot and few-shot (k retrieved examples) prompting on the test split.

    Example: run_behaviour_baselines(gen, embedder)["few_shot"]["format_compliance"] -> 0.9
    n_test=None uses the whole test split, or a stratified 24 in quick mode. Returns
    {"n_test", "k", "zero_shot": {...}, "few_shot": {...}}, each with the scores of
    `score_replies` (records included) and the timing of `score_generator`.
    """
    cfg = get_config()
    test = load_triage("test")
    if n_test is None:
        n_test = cfg.pick(24, None)
    test = stratified_subset(test, n_test)
    messages = [ex["message"] for ex in test]
    t0 = time.perf_counter()
    retriever = ExampleRetriever(load_triage("train"), embedder)
    shots = retriever.search_many(messages, k)
    retrieval_seconds = time.perf_counter() - t0
    zero = score_generator(gen, [zero_shot_prompt(m) for m in messages], test, batch_size, max_new_tokens)
    few = score_generator(gen, [few_shot_prompt(m, s) for m, s in zip(messages, shots, strict=True)], test, batch_size, max_new_tokens)
    few["retrieval_seconds"] = retrieval_seconds
    few["shot_intent_match"] = sum(s[-1]["intent"] == ex["intent"] for s, ex in zip(shots, test, strict=True)) / max(1, len(test))
    return {"n_test": len(test), "k": k, "zero_shot": zero, "few_shot": few}
