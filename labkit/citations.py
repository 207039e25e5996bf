"""Citations checked and shown: whether the sources an answer cites hold its words, a quote, the terminal view.

What it holds:
- `citation_check`: whether the source an answer cites holds the answer's words (a right
  answer citing the wrong file is flagged, not starred as its source), on `content_words`.
- `supporting_quote`: for an answer with no content of its own, the sentence of the cited
  source closest to the question (`rag.quote_for`, which `labkit ask` answers with).
- `format_answer`: an answer with its sources as terminal text, a citation that fails the
  check marked beside its source.

What it leaves out: the prompt, the answer and which sources it cites (`labkit.rag`), and
scoring answers against the gold (`labkit.evaluate`): this module judges words, not meaning.

Example:
    >>> content_words("A return label costs $41 [2].", "How much is a return label?")
    ['cost', '41']
"""

from __future__ import annotations

from labkit.evaluate import normalize_answer
from labkit.rag import _CITATION, _FILLER, RAGAnswer, is_abstention, quote_for


def supporting_quote(result: RAGAnswer) -> dict | None:
    """The sentence of the cited (else the top) source sharing the most words with the question (`rag.quote_for`).

    Example: supporting_quote(rag.answer("Price of the kettle?"))
        -> {"source": 1, "sentence": "The Brimble Kettle costs $89."}
    `labkit ask` answers with it when the model wrote nothing usable (answer_kind "quote").
    """
    return quote_for(result.question, result.sources, result.cited)


# words that carry no fact of their own: an answer's support is judged on the rest
_STOP = _FILLER | {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did", "can",
                   "could",
                   "will", "would", "should", "has", "have", "had", "with", "from", "you", "your", "we", "our", "they",
                   "their",
                   "its", "there", "been", "about", "into", "than", "then", "so", "also", "not", "yes", "i", "if", "at",
                   "per"}
SUPPORT_SHARE = 2 / 3  # of an answer's content words (when it has no number) the cited sources must hold


def _fold(word: str) -> str:
    """A word with a plural "s" dropped, so "costs" meets "cost" and "days" meets "day"."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def content_words(text: str, question: str = "") -> list[str]:
    """The words of an answer that state something: normalised as answers are scored (evaluate.normalize_answer),
    citation brackets, stop words and the question's own words removed, plurals folded.

    Example: content_words("A return label costs $41 [2].", "How much is a return label?") -> ["cost", "41"]
    """
    asked = {_fold(w) for w in normalize_answer(question).split()}
    words = (_fold(w) for w in normalize_answer(_CITATION.sub(" ", text)).split())
    return list(dict.fromkeys(w for w in words if w not in _STOP and w not in asked))


def citation_check(result: RAGAnswer) -> dict:
    """Whether the sources an answer cites contain the answer's words: {"checked", "cited", "missing"}.

    "checked" is True when they do, False when they do not (a right answer citing the wrong
    file), None when there is nothing to check (no citation, or no content words: an abstention,
    an answer that only echoes the question). The answer's words are `content_words` (the
    question's own words left out: the sources need not repeat the question). They are
    contained when every number among them is in the cited sources (a number is the fact:
    "$41" is worded "41 dollars" as often as not, so the words around it do not count), or, in
    an answer without numbers, when at least SUPPORT_SHARE (two thirds) of them are. A cited
    source is its title, heading path and text (what the prompt showed); several cited sources
    are read together. Worked example, for "How much is a return label?":
    "A return label costs 41 dollars [2]." has the words ["cost", "41", "dollar"]; if [2] is
    "The office is open 9 to 5 on weekdays." -> {"checked": False, "cited": [2], "missing": ["cost", "41", "dollar"]};
    if [2] is "A return label costs $41." -> {"checked": True, "cited": [2], "missing": ["dollar"]}.
    Words, not meaning: a paraphrase ("Ada founded it" from "founded by Ada") passes, a
    contradiction that reuses the source's words passes too.
    """
    cited = [s for s in result.sources if s.number in result.cited]
    words = content_words(result.answer, result.question)
    if not cited or not words or is_abstention(result.answer):
        return {"checked": None, "cited": [s.number for s in cited], "missing": []}
    held = {_fold(w) for s in cited for w in normalize_answer(f"{s.title} {s.heading} {s.text}").split()}
    missing = [w for w in words if w not in held]
    numbers = [w for w in words if any(ch.isdigit() for ch in w)]
    if numbers:
        checked = all(n in held for n in numbers)
    else:
        checked = (len(words) - len(missing)) / len(words) >= SUPPORT_SHARE
    return {"checked": checked, "cited": [s.number for s in cited], "missing": missing}


def format_answer(result: RAGAnswer, quote: dict | None = None) -> str:
    """A RAG answer as text for a terminal.
    Example: "The kettle costs $89 [1].\\n\\nSources:\\n[1] 0.71 product-brimble-kettle#2 ..."."""
    lines = [result.answer]
    if result.answer_kind == "quote":
        lines.append(f"(a quote from source [{result.cited[0]}], not the model's words: it wrote nothing usable, "
                     f"{result.model_answer!r})")
    elif quote:
        lines.append(f"(the answer has no content of its own; quote from source [{quote['source']}]: "
                     f"\"{quote['sentence']}\")")
    lines += ["", "Sources:"]
    check = citation_check(result)
    cited = "".join(f"[{n}]" for n in check["cited"])
    for s in result.sources:
        mark = "*" if s.number in result.cited else " "
        warn = ""
        if check["checked"] is False and s.number in result.cited:  # the star alone would vouch for it
            verb = "does" if len(check["cited"]) == 1 else "do"
            warn = (f"  <- cited {cited}, but {cited} {verb} not contain the answer's words "
                    f"({', '.join(check['missing'][:5])})")
        lines.append(f"{mark}[{s.number}] {s.score:.2f}  {s.chunk_id}  ({s.path}){warn}")
    if result.question_cut:
        lines.append("\nyour question was very long: only its end was kept, so that the sources fit the prompt")
    lines.append(f"\nretrieve {result.retrieve_s * 1000:.0f} ms, generate {result.generate_s:.2f} s, "
                 f"{result.prompt_tokens} prompt tokens"
                 + ("; citation added by labkit (best word overlap)" if result.cited_by == "overlap" else ""))
    return "\n".join(lines)
