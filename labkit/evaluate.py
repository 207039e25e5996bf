"""Evaluation: answer metrics, and scoring a question set's open answers.

Every approach (closed-book, RAG, fine-tuned, fine-tuned + RAG) is scored by the same functions:
- `is_match`: SQuAD-style normalisation; an answer counts if it contains the canonical
  answer or an alias as whole words ("costs $89" matches "$89", "$899" does not).
- `token_f1`: SQuAD token overlap F1, the best over the accepted answers.
- `evaluate_answers`: runs any `answer_fn(question) -> str` over held-out paraphrases and
  returns per-question records and a summary (accuracy with its 95% Wilson interval).
- `share_new`: after a fact changes, the share of answers holding the new and the old value.
- `METRIC_LABELS`: the scoreboard's metric keys and the words a reader sees for them;
  `RATE_N`: which count each rate is out of.
- `miss_split`: a RAG evaluation's answers as right, retrieval misses (no gold source among
  the top_k) and reading misses (a gold source there, the answer wrong).
Retrieval metrics (recall@k, MRR, and `evaluate_retrieval` of an index) live here too. What it leaves out: the
multiple-choice scorer (`labkit.multiple_choice`), intervals (`labkit.stats`) and generation itself (`labkit.models`).
"""

from __future__ import annotations

import re
import string
import time
from collections import Counter
from dataclasses import dataclass, field

from labkit.models import GENERATE_BATCH
from labkit.stats import wilson_interval

METRIC_LABELS = {  # scoreboard key -> what a reader sees
    "accuracy": "accuracy (match), taught questions",
    "untaught_acc": "accuracy (match), untaught questions",
    "f1": "token F1",
    "multi_acc": "multi-document questions",
    "mc_acc": "multiple choice",
    "cited": "answers citing a source (model or attributed)",
    "cited_by_model": "citation written by the model",
    "cited_gold": "citing a gold document (model or attributed)",
    "cited_gold_by_model": "model-written gold citation",
    "general_acc": "general probe (forgetting)",
    "latency_p50_s": "latency p50 (s)",
    "prompt_tokens": "prompt tokens",
    "index_build_s": "index build (s)",
    "train_s": "training (s)",
    "index_bytes": "index size",
    "adapter_bytes": "adapter size",
}
MISS_LABELS = {  # where a RAG row's wrong answers come from (RAG rows only; see miss_split)
    "retrieval_miss": "wrong: no gold source retrieved",
    "reading_miss": "wrong although a gold source was retrieved",
}
RATE_N = {  # rate metric -> the row key holding how many items it is a share of
    "accuracy": "n", "untaught_acc": "n_untaught", "f1": "n", "multi_acc": "n_multi", "cited": "n",
    "cited_by_model": "n", "cited_gold": "n", "cited_gold_by_model": "n",
    "mc_acc": "n_mc", "general_acc": "n_probe", "retrieval_miss": "n", "reading_miss": "n",
}


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, squeeze spaces (SQuAD). Example: "The $89 Kettle!" -> "89 kettle"."""
    text = "".join(ch for ch in str(text).lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def answer_variants(item: dict) -> list[str]:
    """The accepted answers of a question record.
    Example: {"answer": "$89", "aliases": ["89 dollars"]} -> ["$89", "89 dollars"]."""
    return [item["answer"], *item.get("aliases", [])]


def is_match(prediction: str, answers) -> bool:
    """True if the prediction contains an accepted answer as whole words.
    Example: ("It costs $89.", ["$89"]) -> True."""
    answers = [answers] if isinstance(answers, str) else answers
    pred = f" {normalize_answer(prediction)} "
    return any(norm and f" {norm} " in pred for norm in map(normalize_answer, answers))


def shows_answer(text: str, answers) -> bool:
    """Whether a passage shows an accepted answer: as `is_match` scores an answer, or verbatim (case and spacing aside).
    Dropping punctuation glues an identifier to its neighbours ("--isolated-context=user-b" becomes one word), so a
    passage that shows "--isolated-context" word for word would otherwise count as not showing it.

    Example: shows_answer("Start it with --isolated-context=user-b.", ["--isolated-context"]) -> True
        (is_match -> False)
    """
    answers = [answers] if isinstance(answers, str) else answers
    spaced = " ".join(str(text).lower().split())
    return is_match(text, answers) or any(a.strip() and " ".join(a.lower().split()) in spaced for a in answers)


def is_right(prediction: str, answers, rivals=()) -> bool:
    """is_match, and for a comparison question ("Which is heavier, the A or the B?", its other option in the record's
    `rivals`) the accepted option named before any rival: restating both options is not an answer.

    Example: is_right("The Drumlin Toaster is heavier than the Brimble Kettle.", ["Drumlin Toaster"], ["Brimble
        Kettle"]) -> True;
    is_right("Is it the Brimble Kettle or the Drumlin Toaster?", ["Drumlin Toaster"], ["Brimble Kettle"]) -> False
    A right answer worded "the rival is lighter than the answer" is scored wrong: rarer than a restated question.
    """
    if not is_match(prediction, answers):
        return False
    pred = f" {normalize_answer(prediction)} "

    def first(names) -> int:
        spots = [pred.find(f" {n} ") for n in map(normalize_answer, [names] if isinstance(names, str) else names) if n
                 and f" {n} " in pred]
        return min(spots, default=len(pred))

    return first(answers) < first(rivals)


def token_f1(prediction: str, answers) -> float:
    """Best SQuAD token F1 over the accepted answers. Example: ("blue and red", ["red"]) -> 0.5."""
    answers = [answers] if isinstance(answers, str) else answers
    pred = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


# ---------------------------------------------------------------- open answers


def heldout_questions(questions: list[dict], per_question: int = 1) -> list[dict]:
    """The held-out paraphrases as question records to answer. Example: one qa record, per_question=2 -> 2 records."""
    out = []
    for q in questions:
        for i, text in enumerate(q["paraphrases"][:per_question]):
            out.append({**q, "id": f"{q['id']}/{i}", "qa_id": q["id"], "asked": text})
    return out


def score_answers(items: list[dict], answers: list[str], accepted_fn=None,
                  extra: list[dict] | None = None) -> list[dict]:
    """One record per answer: match and F1 against the accepted answers, plus any extra fields.

    Example: score_answers(heldout_questions(qa[:1]), ["It costs $89."])[0]["match"] -> True
    `items` come from `heldout_questions`; `accepted_fn(item)` may supply other accepted
    answers (the freshness experiment uses the updated values).
    """
    records = []
    for i, (item, answer) in enumerate(zip(items, answers, strict=True)):
        accepted = accepted_fn(item) if accepted_fn else answer_variants(item)
        record = {"id": item["id"], "question": item["asked"], "answer": answer, "expected": accepted[0],
                  "match": is_right(answer, accepted, item.get("rivals", ())),
                  "f1": round(token_f1(answer, accepted), 4)}
        if extra:
            record.update(extra[i])
        records.append(record)
    return records


def miss_split(records: list[dict]) -> dict:
    """Where RAG answers go wrong: the share right, wrong with no gold source retrieved (a retrieval miss), and wrong
    although a gold source was among the sources (a reading miss); the three add up to 1.

    Example: miss_split([{"match": True, "retrieved_gold": True}, {"match": False, "retrieved_gold": True}])
    -> {"right": 0.5, "retrieval_miss": 0.0, "reading_miss": 0.5, "n": 2}
    A right answer counts as right whether or not its source was retrieved.
    """
    if any("retrieved_gold" not in r for r in records):
        raise ValueError("miss_split needs RAG records (rag.evaluate_rag gives them a 'retrieved_gold' field); "
                         "closed-book answers have no sources.")
    n = len(records)
    wrong = [r for r in records if not r["match"]]
    share = (lambda k: round(k / n, 4)) if n else (lambda k: 0.0)
    return {"right": share(n - len(wrong)), "retrieval_miss": share(sum(not r["retrieved_gold"] for r in wrong)),
            "reading_miss": share(sum(bool(r["retrieved_gold"]) for r in wrong)), "n": n}


@dataclass
class EvalResult:
    """Per-question records and a summary (accuracy = normalised match, f1 = token F1, latency)."""

    records: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def summarize(records: list[dict]) -> dict:
    """Mean match (with its 95% Wilson interval), F1 and median latency of answer records.

    Example: [{"match": True, "f1": 1.0, "seconds": 0.4}]
        -> {"n": 1, "accuracy": 1.0, "accuracy_95": (0.2065, 1.0), ...}
    """
    n = max(1, len(records))
    seconds = sorted(r.get("seconds", 0.0) for r in records) or [0.0]
    accuracy = sum(r["match"] for r in records) / n
    return {
        "n": len(records),
        "accuracy": round(accuracy, 4),
        "accuracy_95": wilson_interval(accuracy, len(records)) if records else (0.0, 1.0),
        "f1": round(sum(r["f1"] for r in records) / n, 4),
        "latency_p50_s": round(seconds[len(seconds) // 2], 4),
    }


def evaluate_answers(answer_fn, questions: list[dict], per_question: int = 1, answers_key=None) -> EvalResult:
    """Ask every held-out paraphrase, score each answer, and summarise.

    Example: evaluate_answers(lambda q: gen.generate(q), qa[:10]).summary -> {"n": 10, "accuracy": 0.0, ...}
    `answer_fn(question)` returns a string, or a dict with an "answer" key (RAG results
    carry sources too, which are kept in the record). `answers_key(record)` may supply
    other accepted answers (the freshness experiment uses the updated values).
    """
    items = heldout_questions(questions, per_question)
    answers, extra = [], []
    for item in items:
        start = time.perf_counter()
        result = answer_fn(item["asked"])
        seconds = time.perf_counter() - start
        answers.append(result["answer"] if isinstance(result, dict) else str(result))
        extra.append({"seconds": seconds,
                      **({k: v for k, v in result.items() if k != "answer"} if isinstance(result, dict) else {})})
    records = score_answers(items, answers, answers_key, extra)
    return EvalResult(records, summarize(records))


def evaluate_batched(gen, questions: list[dict], per_question: int = 1, max_new_tokens: int = 32,
                     batch_size: int = GENERATE_BATCH, clean=None) -> EvalResult:
    """Closed-book answers generated in batches (faster than one at a time), scored as evaluate_answers does.

    Example: evaluate_batched(gen, qa[:8]).summary["accuracy"] -> 0.0
    `clean`, if given, rewrites each answer before scoring (rag.clean_answer strips chat debris).
    """
    items = heldout_questions(questions, per_question)
    start = time.perf_counter()
    answers = gen.generate([it["asked"] for it in items], max_new_tokens=max_new_tokens, batch_size=batch_size)
    if clean is not None:
        answers = [clean(a) for a in answers]
    per = (time.perf_counter() - start) / max(1, len(items))
    records = score_answers(items, answers, extra=[{"seconds": per}] * len(items))
    return EvalResult(records, summarize(records))


def share_new(answers: list[str], items: list[dict], new_answers: dict) -> dict:
    """Share of answers holding the new value, and the old one, after facts changed; and which question gave the new
    one.

    Example: share_new(["It is $95."], [{"qa_id": "q001", "answer": "$89"}], {"q001": "$95"})
    -> {"new": 1.0, "old": 0.0, "by_question": {"q001": 1}}
    `by_question` is what the paired bootstrap of two approaches' freshness resamples.
    """
    n = max(1, len(items))
    gave_new = [int(is_match(a, [new_answers[it["qa_id"]]])) for a, it in zip(answers, items, strict=True)]
    old = sum(is_match(a, [it["answer"]]) for a, it in zip(answers, items, strict=True)) / n
    by_question: dict[str, list[int]] = {}
    for it, gave in zip(items, gave_new, strict=True):
        by_question.setdefault(it["qa_id"], []).append(gave)
    return {"new": round(sum(gave_new) / n, 4), "old": round(old, 4),
            "by_question": {q: round(sum(v) / len(v), 4) for q, v in by_question.items()}}


# ---------------------------------------------------------------- retrieval


def share_in_sources(answers, values: list[str]) -> float:
    """Share of RAG answers with a source that states its expected value (normalised as answers are).

    Example: share_in_sources(rag.answer_many(questions), ["$95", "7 years"]) -> 1.0 once the updates are in the index
    Tells "retrieval brought the new fact" apart from "the model used it" (the answer's own share).
    """
    hits = [any(is_match(source.text, [value]) for source in answer.sources) for answer, value
            in zip(answers, values, strict=True)]
    return sum(hits) / max(1, len(hits))


def recall_at_k(retrieved_doc_ids: list[str], gold_doc_ids, k: int) -> float:
    """Share of gold documents found in the first k retrieved. Example: (["a", "b", "c"], ["b"], 2) -> 1.0."""
    gold = set(gold_doc_ids)
    seen = []
    for d in retrieved_doc_ids:
        if d not in seen:
            seen.append(d)
    return len(gold & set(seen[:k])) / max(1, len(gold))


def reciprocal_rank(retrieved_doc_ids: list[str], gold_doc_ids) -> float:
    """1 / rank of the first gold document, 0 if none. Example: (["a", "b"], ["b"]) -> 0.5."""
    gold = set(gold_doc_ids)
    seen = []
    for d in retrieved_doc_ids:
        if d not in seen:
            seen.append(d)
    for rank, d in enumerate(seen, 1):
        if d in gold:
            return 1.0 / rank
    return 0.0


def evaluate_retrieval(index, questions: list[dict], per_question: int = 1, ks=(1, 3, 5), fetch: int = 20,
                       top_k: int = 3) -> dict:
    """Document-level recall@k and MRR of an index on held-out paraphrases, and how often a gold document is a source.

    Example: evaluate_retrieval(index, load_qa())["summary"]
        -> {"n": 195, "recall@1": 0.8, "recall@3": 0.96, ..., "mrr": 0.9, "gold_in_sources": 0.95}
    `index` is a retrieval.VectorIndex (anything with its search_many; its retriever decides). Each question retrieves
    `fetch` chunks; their document ids, duplicates dropped, are ranked against the question's gold `doc_ids` (as
    recall_at_k does). "gold_in_sources": a gold document among the first `top_k` chunks, the sources RAG shows. A
    question without paraphrases (a foreign corpus's, `data.foreign_items`) is asked as it is; one without a gold
    document (unanswerable) is left out.
    """
    items = heldout_questions([q for q in questions if "paraphrases" in q], per_question) + [
        {**q, "asked": q.get("asked", q["question"])} for q in questions if "paraphrases" not in q]
    items = [it for it in items if it.get("doc_ids")]
    start = time.perf_counter()
    hits = index.search_many([it["asked"] for it in items], max(fetch, top_k))
    seconds = (time.perf_counter() - start) / max(1, len(items))
    records = []
    for it, row in zip(items, hits, strict=True):
        docs = list(dict.fromkeys(h.chunk.doc_id for h in row))
        rec = {"id": it["id"], "question": it["asked"], "gold": it["doc_ids"], "retrieved": docs[: max(ks)]}
        rec.update({f"recall@{k}": recall_at_k(docs, it["doc_ids"], k) for k in ks})
        rec["rr"] = reciprocal_rank(docs, it["doc_ids"])
        rec["gold_in_sources"] = any(h.chunk.doc_id in it["doc_ids"] for h in row[:top_k])
        records.append(rec)
    n = max(1, len(records))
    summary = {"n": len(records), **{f"recall@{k}": round(sum(r[f"recall@{k}"] for r in records) / n, 4) for k in ks}}
    summary["mrr"] = round(sum(r["rr"] for r in records) / n, 4)
    summary["gold_in_sources"] = round(sum(r["gold_in_sources"] for r in records) / n, 4)
    summary["seconds_per_question"] = round(seconds, 4)
    return {"summary": summary, "records": records}
