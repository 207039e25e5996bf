"""Answerable: how much of a question its shown sources name, and what that decides about an abstention.

Why: the reading adapter (135M) abstains about as readily where the answer is shown as where it is not; its own
confidence (`extractive.second_look`'s lead) does not tell the two apart on the validation questions. A plainer signal
does: the sources that answer a question name what it asks about. `term_share` is the share of a question's search
terms (`keyword_index.keywords`) that the shown sources hold, each term weighed by its IDF over the index's chunks, so
the rare terms that name the subject ("od", "--isolated-context", "Brimble") count most and words most chunks have
count little.

`AnswerableRule` turns term share into two decisions about an extractive answer (`RAG(answerable=...)`):
- an abstention where the sources cover at least `answer_from` of the question is overruled: the best span the
  sources hold answers instead (`extractive.best_spans`), and stays an abstention where they hold none;
- an answer where they cover less than `abstain_below` becomes the abstention: the sources do not name what is asked
  (on an index of `min_chunks` or more: over a handful of chunks a term's rarity means little).
The thresholds `labkit ask` uses (`ask.ASK_ANSWERABLE`) were chosen on the validation questions only
(benchmarks/bench_reader_candidate.py --term-share), never on the evaluation corpora.

Worked example (terms and weights made up to keep it short):
    >>> term_share("Which od option skips bytes?", "od: -j, --skip-bytes=BYTES skip BYTES input bytes first",
    ...          {"od": 3.0, "option": 0.5, "skips": 1.5, "bytes": 1.0})
    0.6667
"od" and "bytes" are in the source (4.0 of 6.0); "option" and "skips" are not ("skip" is, but terms are matched
whole); "which" is a question word, not looked for. What it leaves out: retrieval (`labkit.retrieval`), decoding
(`labkit.extractive`), the prompt (`labkit.rag`).
"""

from __future__ import annotations

from dataclasses import dataclass

# words that shape a question but name nothing in it: never looked for in the sources (BM25's stop words already
# drop "the", "is", "of", ...; these it keeps, and a corpus that never says "which" would count them missing)
QUESTION_WORDS = frozenset("what which who whom whose when where why how do does did can could should would use used "
                           "using".split())


@dataclass(frozen=True)
class AnswerableRule:
    """When the share of the question the sources name (`term_share`) overrules the reader on abstaining."""

    answer_from: float = 0.5  # an abstention is overruled (the best span answers) at or above this term share
    abstain_below: float = 0.3  # an answer becomes the abstention below this term share ...
    # ... on an index of at least this many chunks: over a few, rarity says little (over one chunk, every word the
    # question shares with it weighs least, every paraphrased word most); the smallest index measured held 22
    min_chunks: int = 20

    def in_words(self) -> str:
        """The rule as the reader table states it. Example: AnswerableRule().in_words() -> "Its abstaining follows ..."
        """
        return ("Its abstaining follows the term share (`labkit.answerable`: how much of the question the sources "
                f"name, each term weighed by its rarity): an abstention over sources naming at least "
                f"{self.answer_from:g} of the question becomes the best span they hold, an answer from sources naming "
                f"less than {self.abstain_below:g} becomes the abstention (on an index of {self.min_chunks} chunks or "
                "more).")

    def __post_init__(self):
        if not 0.0 <= self.abstain_below <= self.answer_from:
            raise ValueError(f"AnswerableRule: need 0 <= abstain_below ({self.abstain_below}) <= answer_from "
                             f"({self.answer_from}); an answer cannot be both overruled and forced to abstain.")


def question_terms(question: str) -> list[str]:
    """A question's distinct search terms, in order, its question words left out (`QUESTION_WORDS`).
    Example: question_terms("Which od option should I use?") -> ["od", "option"]."""
    from labkit.keyword_index import keywords  # here, not at the top: `labkit ask` imports this module and starts fast

    return [t for t in dict.fromkeys(keywords(question)) if t not in QUESTION_WORDS]


def term_share(question: str, shown: str, idf: dict) -> float | None:
    """The IDF-weighted share of the question's terms that the shown text holds; None for a question with no term.

    Example: term_share("Which od option skips bytes?", "od: skip BYTES", {"od": 3, "option": 0.5, "skips": 1.5,
        "bytes": 1}) -> 0.6667
    idf: term -> weight (`KeywordIndex.idf`); a term missing from it weighs 1.
    """
    terms = question_terms(question)
    total = sum(idf.get(t, 1.0) for t in terms)
    if not terms or total <= 0:
        return None
    from labkit.keyword_index import keywords

    held = set(keywords(shown))
    return round(sum(idf.get(t, 1.0) for t in terms if t in held) / total, 4)


def term_shares(index, questions: list[str], shown: list[str]) -> list[float | None]:
    """`term_share` of each question by the text its prompt showed, weighed over `index`'s chunks
    (a `labkit.retrieval.VectorIndex`). Example: term_shares(index, ["Price of the kettle?"], [shown]) -> [0.83]"""
    idf = index.keywords.idf(sorted({t for q in questions for t in question_terms(q)}))
    return [term_share(q, s, idf) for q, s in zip(questions, shown, strict=True)]


def apply_rule(rule: AnswerableRule, gen, prompts: list[str], shown: list[str], raws: list[str],
               shares: list[float | None], abstain: str, chunks: int, max_new_tokens: int = 32,
               batch_size: int = 8) -> list[str]:
    """The raw answers after the rule: abstentions overruled where the sources cover the question, answers withdrawn
    where they do not (on an index of at least `rule.min_chunks` chunks; `chunks`: how many the index holds).
    Example: apply_rule(AnswerableRule(), reader, prompts, shown, raws, [0.9], ABSTAIN, 323) -> ["EAR99 [2]."]"""
    from labkit.extractive import best_spans

    out = list(raws)
    for i, c in enumerate(shares):
        if c is not None and c < rule.abstain_below and chunks >= rule.min_chunks:
            out[i] = abstain
    rows = [i for i, c in enumerate(shares) if c is not None and c >= rule.answer_from and abstain in raws[i]]
    if rows:
        spans = best_spans(gen, [prompts[i] for i in rows], [shown[i] for i in rows], max_new_tokens, batch_size)
        for i, span in zip(rows, spans, strict=True):
            if span.strip(" .") and abstain not in span:
                out[i] = span
    return out
