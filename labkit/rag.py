"""Retrieval-augmented generation: numbered sources in the prompt, a short answer that cites them.

What it holds:
- `build_prompt`: the question and the top-k chunks as numbered sources ([1], [2], ...).
- `RAG(index, gen).answer(question)` -> `RAGAnswer` (answer, sources with scores and
  document ids, retrieve/generate seconds, prompt tokens); `answer_many` batches the
  generation; `RAG.answer_fn` is the `answer_fn(question) -> dict` that
  `labkit.evaluate.evaluate_answers` scores. `closed_book(gen)` is the same without sources.
  `RAG(..., extractive=True)` lets the reading adapter only copy its answer from `shown_text` (`labkit.extractive`).
- `evaluate_rag` / `evaluate_closed_book`: normalised match and token F1 on held-out
  paraphrases, batched.

What it leaves out: retrieval itself (`labkit.retrieval`), whether a cited source holds the
answer's words and an answer as terminal text (`labkit.citations`), the `labkit ask` command
(`labkit.ask`), multi-turn chat, query rewriting, re-ranking, and sampling (decoding is
greedy, so answers repeat).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field

from labkit.answerable import apply_rule, term_shares
from labkit.config import get_config
from labkit.evaluate import (
    EvalResult,
    evaluate_batched,
    heldout_questions,
    is_match,
    score_answers,
    summarize,
)
from labkit.extractive import second_look, span_processor, span_rules
from labkit.models import GENERATE_BATCH
from labkit.question_check import check_question

# The 135M model follows a short instruction placed *after* the sources far better than a
# system prompt or an instruction before long context (measured in notebook 03's study).
INSTRUCTION = "Answer the question in one short sentence using the sources above. Cite the source number like [1]."
MAX_SOURCE_WORDS = 120  # a source longer than this is cut in the prompt: long context drowns a 135M model


@dataclass
class Source:
    """One retrieved chunk as shown to the model."""

    number: int  # 1-based: how the answer cites it, "[1]"
    chunk_id: str  # e.g. "policy-returns#3"
    doc_id: str  # e.g. "policy-returns"
    path: str  # the document's file
    title: str  # the document's title
    heading: str  # heading path of the chunk
    score: float  # cosine similarity to the question
    text: str  # the chunk's text


@dataclass
class RAGAnswer:
    """A RAG answer with everything needed to check it."""

    question: str
    answer: str
    sources: list[Source] = field(default_factory=list)
    cited: list[int] = field(default_factory=list)  # source numbers the answer cites
    cited_by: str = "model"  # "model" if the model wrote the citation, "overlap" if labkit added it, "quote" (below)
    retrieve_s: float = 0.0
    generate_s: float = 0.0
    prompt_tokens: int = 0
    prompt: str = ""
    question_cut: bool = False  # True when a very long question was shortened so that the sources fit the prompt
    answer_kind: str = "answer"  # "quote": the model wrote nothing usable, so the answer is a source's sentence
    model_answer: str = ""  # what the model wrote, kept when a quote replaced it ("" otherwise)
    # where greedy decoding abstained and the second look ran (`RAG.abstain_margin`): how many nats likelier the
    # abstention was than the best answer the sources hold; None otherwise
    abstain_lead: float | None = None
    # the share of the question's terms the shown sources name, IDF-weighted (`labkit.answerable`); None unless the
    # RAG system has an answerable rule
    term_share: float | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict (evaluate_answers reads its "answer").
        Example: result.to_dict()["sources"][0]["chunk_id"]."""
        out = asdict(self)
        for key in ("retrieve_s", "generate_s"):
            out[key] = round(out[key], 4)
        for s in out["sources"]:
            s["score"] = round(s["score"], 4)
        return out


def sources_from_hits(hits) -> list[Source]:
    """Numbered Sources from retrieval Hits. Example: sources_from_hits(index.search(q, 3))[0].number -> 1."""
    return [
        Source(i, h.chunk.id, h.chunk.doc_id, h.chunk.path, h.chunk.title, h.chunk.heading, float(h.score),
               h.chunk.text)
        for i, h in enumerate(hits, 1)
    ]


def shown_words(text: str, max_words: int = MAX_SOURCE_WORDS) -> str:
    """What a prompt shows of a chunk's text: its first max_words words, single-spaced.
    Example: shown_words("It  costs\n$89.", 2) -> "It costs"."""
    return " ".join(text.split()[:max_words])


def format_source(source: Source, max_words: int = MAX_SOURCE_WORDS) -> str:
    """One source as a prompt line. Example: "[1] Returns Policy > Return shipping: A return label costs $6.50, ..."."""
    more = " ..." if len(source.text.split()) > max_words else ""
    return f"[{source.number}] {source.heading or source.title}: {shown_words(source.text, max_words)}{more}"


def shown_text(sources: list[Source], max_words: int = MAX_SOURCE_WORDS) -> str:
    """What a prompt shows of its sources, heading and words (as format_source cuts them), one per line: the text an
    extractive answer is copied from. Example: shown_text([kettle]) -> "Brimble Kettle: It costs $89."."""
    return "\n".join(f"{s.heading or s.title}: {shown_words(s.text, max_words)}" for s in sources)


def fit_prompt(gen, question: str, sources: list[Source], limit: int, instruction: str = INSTRUCTION,
               max_words: int = MAX_SOURCE_WORDS) -> tuple[str, list[Source], bool]:
    """The prompt within `limit` tokens: a too-long question is cut (its end kept), never the sources; sources are
    dropped from the last only when they alone do not fit. Returns (prompt, the sources shown, question cut?).

    Example: fit_prompt(gen, "word " * 10000 + "Price?", [src], 1504)
        -> ("Sources:\n[1] ...Question: ... word Price?\n...", [src], True)
    The generator cuts a prompt over its limit from the left, which would remove the sources
    and leave citations pointing at text the model never saw.
    """
    prompt = build_prompt(question, sources, instruction, max_words)
    if gen.count_tokens(gen.chat_prompt(prompt)) <= limit:
        return prompt, sources, False
    sources = list(sources)
    while True:
        room = limit - gen.count_tokens(gen.chat_prompt(build_prompt("", sources, instruction, max_words))) - 4
        if room >= 32 or not sources:
            break
        sources.pop()  # the least similar source goes first
    ids = gen.tokenizer(question.strip(), add_special_tokens=False)["input_ids"]
    cut = "... " + gen.tokenizer.decode(ids[-max(1, room):]).strip() if len(ids) > room else question
    return build_prompt(cut, sources, instruction, max_words), sources, cut != question


def sources_block(sources: list[Source], max_words: int = MAX_SOURCE_WORDS) -> str:
    """The numbered sources as every prompt shows them.
    Example: sources_block([src]) -> "Sources:\\n[1] Brimble Kettle: It costs $89."."""
    return "\n".join(["Sources:", *(format_source(s, max_words) for s in sources)])


def build_prompt(question: str, sources: list[Source], instruction: str = INSTRUCTION,
                 max_words: int = MAX_SOURCE_WORDS) -> str:
    """The user message: numbered sources, then the question, then the instruction.

    Example: build_prompt("Price?", [src])
        -> "Sources:\\n[1] Brimble Kettle: It costs $89.\\n\\nQuestion: Price?\\nAnswer the question ..."
    """
    return "\n".join([sources_block(sources, max_words), "", f"Question: {question.strip()}", instruction])


# what a reader should answer when no source holds the answer (the reading adapter does)
ABSTAIN = "The sources do not say."
_FILLER = {"the", "a", "an", "is", "are", "was", "answer", "answers", "source", "sources", "question", "according",
           "to",
           "in", "of", "it", "this", "that", "as", "by", "be", "and", "or", "for", "on", "at", "stated", "says",
           "mentioned"}


def is_abstention(answer: str) -> bool:
    """True if the answer says the sources do not hold the answer. Example: "The sources do not say [1]." -> True."""
    text = answer.lower()
    return "sources do not say" in text or "sources don't say" in text or "do not contain" in text


def is_empty_answer(answer: str, question: str) -> bool:
    """True if an answer carries no content: only citation markers, filler, or words of the question.

    Example: is_empty_answer("The answer is: [1]", "Who founded it?") -> True;
    is_empty_answer("Ada Brimble [2].", "Who founded it?") -> False. An abstention is not empty.
    """
    if is_abstention(answer):
        return False
    asked = set(re.findall(r"\w+", question.lower()))
    words = set(re.findall(r"\w+", re.sub(r"\[\d+\]", " ", answer.lower())))
    return not (words - asked - _FILLER)



_CITATION = re.compile(r"\[(\d{1,2})\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
QUOTE_WORDS = 40  # a quote longer than this is cut to the window of it that shares the most words with the question


def quote_for(question: str, sources: list[Source], cited: list[int] | None = None,
              max_words: int = MAX_SOURCE_WORDS) -> dict | None:
    """The sentence of the cited (else the top) source sharing the most words with the question: {"source", "sentence"}.

    Example: quote_for("Price of the kettle?", [kettle_source]) -> {"source": 1, "sentence": "The kettle costs $89."}
    Only the words the prompt showed (max_words) are quoted. A sentence over QUOTE_WORDS words (a table, a list
    without full stops) is cut to its QUOTE_WORDS-word window richest in the question's words. None without sources.
    """
    if not sources:
        return None
    number = cited[0] if cited else sources[0].number
    source = next((s for s in sources if s.number == number), sources[0])
    asked = {w for w in re.findall(r"\w+", question.lower()) if len(w) > 2}

    def shared(words) -> int:
        return len(asked & {w.lower().strip(".,;:()'\"") for w in words})

    sentences = [x.strip() for x in _SENTENCE.split(" ".join(source.text.split()[:max_words])) if x.strip()]
    best = max(sentences, key=lambda x: shared(x.split()), default="")
    words = best.split()
    if len(words) > QUOTE_WORDS:
        scores = [shared(words[i:i + QUOTE_WORDS]) for i in range(len(words) - QUOTE_WORDS + 1)]
        tied = [i for i, score in enumerate(scores) if score == max(scores)]
        start = tied[len(tied) // 2]  # the middle of the tied windows: the question's words centred, with their context
        best = " ".join(words[start:start + QUOTE_WORDS])
    return {"source": source.number, "sentence": best} if best else None


def cited_numbers(answer: str, n_sources: int) -> list[int]:
    """Source numbers cited in an answer, in order, valid ones only. Example: ("It is $89 [1][3].", 2) -> [1]."""
    return list(dict.fromkeys(int(m) for m in _CITATION.findall(answer) if 1 <= int(m) <= n_sources))


def best_source(answer: str, sources: list[Source]) -> int | None:
    """The source sharing the most words with an answer (1-based), or None.
    Example: ("It costs $89", [kettle, lamp]) -> 1."""
    words = {w for w in re.findall(r"\w+", answer.lower()) if len(w) > 2 or w.isdigit()}
    best, best_overlap = None, 0
    for s in sources:
        overlap = len(words & set(re.findall(r"\w+", s.text.lower())))
        if overlap > best_overlap:
            best, best_overlap = s.number, overlap
    return best


def clean_answer(text: str) -> str:
    """Trim a generated answer to its first paragraph.
    Example: "It costs $89 [1].\\n\\nQuestion: ..." -> "It costs $89 [1]."."""
    text = text.strip()
    text = re.split(r"\n\s*\n|\n(?:Question|Sources):", text)[0].strip()
    return text


class RAG:
    """Retrieve top_k chunks, put them in the prompt as numbered sources, generate a cited answer.

    Example: RAG(index, gen).answer("What is the price of the Brimble Kettle?").answer
        -> "The Brimble Kettle costs $89 [1]."
    """

    def __init__(self, index, gen, top_k: int = 3, max_new_tokens: int = 48, instruction: str = INSTRUCTION,
                 max_words: int = MAX_SOURCE_WORDS, add_citation: bool = True, quote_empty: bool = False,
                 extractive: bool = False, abstain_margin: float | None = None, answerable=None):
        self.index = index  # a labkit.retrieval.VectorIndex
        self.gen = gen  # a labkit.models.Generator
        self.top_k = top_k  # sources per prompt
        self.max_new_tokens = max_new_tokens  # answer length cap (greedy decoding)
        self.instruction = instruction  # the instruction after the question
        self.max_words = max_words  # words kept per source in the prompt
        self.add_citation = add_citation  # cite the best-overlapping source when the model forgot to
        # an answer with no content of its own (a bare ".", a citation, the question echoed) becomes the supporting
        # quote, marked answer_kind "quote": what `labkit ask` does; off where the model's own reading is measured
        self.quote_empty = quote_empty
        # the answer copied from the shown sources token by token, or the abstention (`labkit.extractive`): for a
        # reader trained to answer "<span> [n]." (the reading adapter), never for one that answers in sentences
        self.extractive = extractive
        # extractive only: where greedy decoding abstained, the best answer the sources hold replaces the abstention
        # unless abstaining is at least this many nats likelier (`extractive.second_look`); None: greedy decides
        self.abstain_margin = abstain_margin
        # an `answerable.AnswerableRule`: an abstention overruled where the sources name the question, an answer
        # withdrawn where they do not; None: the reader decides
        self.answerable = answerable

    def _finish(self, question, raw, sources, prompt, retrieve_s, generate_s, question_cut=False,
                abstain_lead=None, term_share=None) -> RAGAnswer:
        answer = clean_answer(raw)
        cited = cited_numbers(answer, len(sources))
        cited_by = "model"
        tokens = self.gen.count_tokens(self.gen.chat_prompt(prompt))
        if self.quote_empty and is_empty_answer(answer, question) and (quote := quote_for(question, sources, cited,
                                                                                           self.max_words)):
            return RAGAnswer(question, f"\"{quote['sentence']}\" [{quote['source']}]", sources, [quote["source"]],
                             "quote", retrieve_s, generate_s, tokens, prompt, question_cut, "quote", answer,
                             abstain_lead, term_share)
        if not cited and self.add_citation and sources and not is_abstention(answer):  # an abstention cites nothing
            best = best_source(answer, sources)
            if best is not None:
                answer, cited, cited_by = f"{answer} [{best}]", [best], "overlap"
        return RAGAnswer(question, answer, sources, cited, cited_by, retrieve_s, generate_s, tokens, prompt,
                         question_cut, abstain_lead=abstain_lead, term_share=term_share)

    def answer(self, question: str) -> RAGAnswer:
        """Answer one question with cited sources.
        Example: rag.answer("Who is the CEO?").sources[0].doc_id -> "company-leadership"."""
        return self.answer_many([question], batch_size=1)[0]

    def answer_many(self, questions: list[str], batch_size: int = GENERATE_BATCH) -> list[RAGAnswer]:
        """Answer many questions; retrieval in one batch, generation in batches of batch_size.

        Example: [a.answer for a in rag.answer_many(["Price of the kettle?", "Who is the CEO?"])]
        """
        questions = [check_question(q) for q in questions]
        start = time.perf_counter()
        all_hits = self.index.search_many(questions, self.top_k)
        retrieve_s = (time.perf_counter() - start) / max(1, len(questions))
        kit = get_config()
        limit = min(kit.max_prompt_tokens, self.gen.max_context - min(self.max_new_tokens, kit.max_new_tokens_limit))
        fitted = [fit_prompt(self.gen, q, sources_from_hits(h), limit, self.instruction, self.max_words) for q, h
                  in zip(questions, all_hits, strict=True)]
        start = time.perf_counter()
        processor_for = None
        shown = [shown_text(s, self.max_words) for _, s, _ in fitted]
        if self.extractive:
            rules = span_rules(self.gen, shown, ABSTAIN)
            processor_for = lambda rows, prompt_length: span_processor([rules[i] for i in rows], prompt_length)  # noqa: E731
        raws = self.gen.generate([p for p, _, _ in fitted], max_new_tokens=self.max_new_tokens, batch_size=batch_size,
                                 **({"processor_for": processor_for} if processor_for else {}))
        leads = [None] * len(raws)
        if self.extractive and self.abstain_margin is not None:
            raws, leads = second_look(self.gen, [p for p, _, _ in fitted], shown, raws, ABSTAIN,
                                      self.abstain_margin, self.max_new_tokens, batch_size)
        shares = [None] * len(raws)
        if self.answerable is not None:
            shares = term_shares(self.index, questions, shown)
            raws = apply_rule(self.answerable, self.gen, [p for p, _, _ in fitted], shown, raws, shares, ABSTAIN,
                              len(self.index), self.max_new_tokens, batch_size)
        generate_s = (time.perf_counter() - start) / max(1, len(questions))
        return [self._finish(q, r, s, p, retrieve_s, generate_s, cut, lead, c) for q, r, (p, s, cut), lead, c
                in zip(questions, raws, fitted, leads, shares, strict=True)]

    def answer_fn(self, question: str) -> dict:
        """The answer as a dict, the shape evaluate_answers scores. Example: evaluate_answers(rag.answer_fn, qa[:5])."""
        return self.answer(question).to_dict()


def closed_book(gen, max_new_tokens: int = 48):
    """An answer_fn that asks the model with no sources.
    Example: closed_book(gen)("Price of the kettle?") -> "The price is $50."."""

    def answer_fn(question: str) -> str:
        return clean_answer(gen.generate(question, max_new_tokens=max_new_tokens))

    return answer_fn


# ---------------------------------------------------------------- measuring


def evaluate_rag(rag: RAG, questions: list[dict], per_question: int = 1, batch_size: int = GENERATE_BATCH,
                 answers_key=None) -> EvalResult:
    """RAG's normalised match and token F1 on held-out paraphrases, generation batched.

    Example: evaluate_rag(RAG(index, gen), load_qa()).summary -> {"n": 195, "accuracy": 0.6, "f1": ..., ...}
    Each record also has the cited sources, whether the gold document was retrieved, and the seconds.
    """
    items = heldout_questions(questions, per_question)
    results = rag.answer_many([it["asked"] for it in items], batch_size)
    extra = [
        {"sources": [s.doc_id for s in r.sources], "gold": list(it["doc_ids"]), "cited": r.cited,
         "cited_by": r.cited_by, "retrieved_gold": any(s.doc_id in it["doc_ids"] for s in r.sources),
         "seconds": r.retrieve_s + r.generate_s, "prompt_tokens": r.prompt_tokens}
        for it, r in zip(items, results, strict=True)
    ]
    records = score_answers(items, [r.answer for r in results], answers_key, extra)
    return EvalResult(records, summarize(records))


def reading_misses(records: list[dict], index, limit: int = 5) -> list[dict]:
    """Reading misses (a gold source retrieved, the answer wrong), each with the sentence of a gold document that held
    the answer.

    Example: reading_misses(evaluate_rag(rag, qa).records, index)[0]
    -> {"question": "...", "answer": "the answer is: [1]", "expected": "$89", "chunk_id": "product-brimble-kettle#1",
        "sentence": "The Brimble Kettle costs $89."}
    The sentence is the first one in the gold documents' chunks that contains the expected
    answer; "" when the answer is worded differently there.
    """
    out = []
    for r in records:
        if r["match"] or not r.get("retrieved_gold"):
            continue
        found = next(((c.id, sentence) for c in index.chunks.values() if c.doc_id in r["gold"]
                      for sentence in _SENTENCE.split(c.text) if is_match(sentence, [r["expected"]])), ("", ""))
        out.append({"question": r["question"], "answer": r["answer"], "expected": r["expected"], "chunk_id": found[0],
                    "sentence": found[1]})
        if len(out) >= limit:
            break
    return out


def evaluate_closed_book(gen, questions: list[dict], per_question: int = 1, max_new_tokens: int = 48,
                         batch_size: int = GENERATE_BATCH) -> EvalResult:
    """The same questions with no sources (the baseline RAG is compared with).
    Example: evaluate_closed_book(gen, qa).summary["accuracy"] -> 0.0."""
    return evaluate_batched(gen, questions, per_question, max_new_tokens, batch_size, clean=clean_answer)
