"""Extractive decoding: the reading adapter's answer is a span copied from its sources, or the abstention.

The reading adapter answers "<span> [n]." (`labkit.reader`). A 135M model that finds the right place in a source
still garbles what it copies: "Eccn99" for "EAR99", "clone_threading" for "CLONE_THREAD", "nsswitch-ng" for
"libc-bin". Here greedy decoding may only take a token that keeps the answer so far a piece of the text the prompt
showed, or of the abstention (`rag.ABSTAIN`, handed in); once the span is closed by its citation (" [") the model
writes the rest freely. A span that is right but read from the wrong place stays wrong: this only stops copying errors.
`second_look` weighs an abstention against the best answer the sources hold (SQuAD 2.0's no-answer threshold).

Example:
    >>> vocab = Vocabulary.of(gen.tokenizer)
    >>> rule = SpanRule(vocab, "Export: zlib is classified EAR99.", [2], "The sources do not say.")
    >>> rule.allowed(gen.tokenizer("zlib is classified E", add_special_tokens=False)["input_ids"])
    [...every token that continues "E" as the source does: "AR", "AR99", ...; a citation; the end]
`span_processor` turns one rule per prompt of a batch into the transformers logits processor `Generator.generate`
takes. What it leaves out: the model, the prompt, scoring (a constrained answer is scored like any other).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from labkit.multiple_choice import mc_scores

MAX_TOKEN_CHARS = 32  # longer tokens (runs of spaces or dashes) are not looked for in a source
_CITED = re.compile(r" \[(\d|$)")  # the span has ended: its citation " [n" has begun


@dataclass
class Vocabulary:
    """A tokenizer's tokens as text: `text[i]` is what token i decodes to, `ids_of[s]` the tokens that decode to s."""

    text: list
    ids_of: dict
    longest: int  # characters of the longest token
    citation: list  # tokens that open a citation (" [", " [[", ...): the span ends there

    @classmethod
    def of(cls, tokenizer) -> Vocabulary:
        """Every token decoded once (special tokens are left out: they never continue a span).
        Example: Vocabulary.of(gen.tokenizer).ids_of[" Pixel"] -> [44566]."""
        special = set(tokenizer.all_special_ids)
        text = tokenizer.batch_decode([[i] for i in range(len(tokenizer))], clean_up_tokenization_spaces=False)
        ids_of: dict = {}
        for i, s in enumerate(text):
            if i not in special and s and "\ufffd" not in s:  # a partial UTF-8 byte decodes to U+FFFD
                ids_of.setdefault(s, []).append(i)
        return cls(text, ids_of, max(map(len, ids_of)), [i for s, ids in ids_of.items() if s.startswith(" [")
                                                         for i in ids])


class SpanRule:
    """Which tokens may come next in one answer: those that keep it a span of `source` (or the abstention).

    Example: SpanRule(vocab, "It costs $89.", [2], ABSTAIN).allowed(ids_of("It costs $")) -> ids of "8", "89", "89." ...
    abstain "": no abstention allowed (the best answer the sources hold, which `second_look` weighs against abstaining).
    """

    def __init__(self, vocab: Vocabulary, source: str, eos: list[int], abstain: str):
        self.vocab, self.source, self.eos, self.abstain = vocab, source, list(eos), abstain

    def _continuing(self, at: int, out: set) -> None:
        """Add every token that reads as the source does from position `at`."""
        for k in range(1, min(self.vocab.longest, MAX_TOKEN_CHARS, len(self.source) - at) + 1):
            out.update(self.vocab.ids_of.get(self.source[at:at + k], ()))

    def allowed(self, generated: list[int]) -> list[int] | None:
        """The tokens that may follow the answer so far (token ids after the prompt); None where anything may."""
        text = "".join(self.vocab.text[i] for i in generated if i < len(self.vocab.text))
        if _CITED.search(text):
            return None
        span = text.lstrip()
        out: set = set()
        if self.abstain and self.abstain.startswith(span):  # the abstention, token by token
            for piece, ids in self.vocab.ids_of.items():
                longer = span + piece if span else piece.lstrip()
                if len(longer) > len(span) and self.abstain.startswith(longer):
                    out.update(ids)
        if self.abstain and span == self.abstain:
            out.update(self.eos)
        if not span:  # the first token: the source read from the start of any word, never whitespace alone
            for at in range(len(self.source)):
                if at == 0 or not self.source[at - 1].isalnum() or not self.source[at].isalnum():
                    self._continuing(at, out)
            return sorted(i for i in out if self.vocab.text[i].strip())
        at = self.source.find(span)
        if at != -1:  # a span of the source so far: it goes on as the source does, or ends with its citation
            out.update(self.vocab.citation)
            out.update(self.eos)
        while at != -1:
            self._continuing(at + len(span), out)
            at = self.source.find(span, at + 1)
        return sorted(out) or None  # neither a span nor the abstention (a token decoded apart reads differently): free


_VOCABULARIES: dict = {}  # tokenizer name and size -> Vocabulary: decoding every token once takes about a second


def span_rules(gen, shown: list[str], abstain: str) -> list[SpanRule]:
    """One SpanRule per prompt, over the text that prompt showed (`rag.shown_text`).
    Example: span_rules(reader, ["Brimble Kettle: It costs $89."], ABSTAIN)[0].source -> "Brimble Kettle: It costs $89."
    """
    tok = gen.tokenizer
    key = (tok.name_or_path, len(tok))
    if key not in _VOCABULARIES:
        _VOCABULARIES[key] = Vocabulary.of(tok)
    end = gen.end_of_turn()
    eos = [tok.convert_tokens_to_ids(end) if end else tok.eos_token_id]
    return [SpanRule(_VOCABULARIES[key], text, eos, abstain) for text in shown]


def span_processor(rules: list, prompt_length: int):
    """A transformers LogitsProcessor for one batch: row r may only take what rules[r] allows (None: a free row).

    Example: model.generate(**batch, logits_processor=LogitsProcessorList([span_processor(rules, 57)]))
    prompt_length: the padded prompt's tokens (left padding: every row's answer starts there)."""
    import torch
    from transformers import LogitsProcessor

    class SpanProcessor(LogitsProcessor):
        def __call__(self, input_ids, scores):
            for row, rule in enumerate(rules):
                allowed = rule.allowed(input_ids[row, prompt_length:].tolist()) if rule is not None else None
                if allowed:  # none allowed (a finished row): leave it, generate pads it
                    keep = torch.full_like(scores[row], float("-inf"))
                    keep[allowed] = 0.0
                    scores[row] = scores[row] + keep
            return scores

    return SpanProcessor()


def best_spans(gen, prompts: list[str], shown: list[str], max_new_tokens: int = 32, batch_size: int = 8) -> list[str]:
    """Each prompt's answer decoded with the abstention forbidden: the best span its sources hold, with its citation.

    Example: best_spans(reader, [prompt], [shown]) -> ["EAR99 [2]."]
    What `second_look` weighs an abstention against, and what `labkit.answerable` answers with where the sources hold
    the question's terms. "" (or punctuation) where the model found nothing to copy.
    """
    rules = span_rules(gen, shown, "")

    def processor_for(picked, length):
        return span_processor([rules[i] for i in picked], length)

    return gen.generate(prompts, max_new_tokens=max_new_tokens, batch_size=batch_size, progress=False,
                        processor_for=processor_for)


def second_look(gen, prompts: list[str], shown: list[str], raws: list[str], abstain: str, margin: float,
                max_new_tokens: int = 32, batch_size: int = 8) -> tuple[list[str], list]:
    """The raw answers with each abstention replaced by the best answer copied from the sources (decoded with the
    abstention forbidden) unless the abstention is at least `margin` nats likelier, and each answer's lead.

    Example: second_look(reader, [prompt], [shown], [ABSTAIN], ABSTAIN, 2.0) -> (["EAR99 [2]."], [1.3])
    The lead is the abstention's summed log-probability minus the other answer's, each whole answer scored as multiple
    choice scores a choice (`multiple_choice.mc_scores`); None where greedy decoding did not abstain or the sources gave
    no other answer. SQuAD 2.0's no-answer threshold, for a generator: the margin is chosen on validation questions
    (benchmarks/bench_reader_candidate.py --abstain-margins). Costs a second decoding of the abstaining prompts only.
    """
    rows = [i for i, raw in enumerate(raws) if abstain in raw]
    leads: list = [None] * len(raws)
    if not rows:
        return raws, leads
    answers = best_spans(gen, [prompts[i] for i in rows], [shown[i] for i in rows], max_new_tokens, batch_size)
    scores = mc_scores(gen, [prompts[i] for i in rows], [[raws[i], a] for i, a in zip(rows, answers, strict=True)],
                       cache=False)  # prompts that hold a user's documents: nothing kept
    out = list(raws)
    for i, answer, (abstaining, reading) in zip(rows, answers, scores, strict=True):
        if answer.strip(" .") and abstain not in answer:
            leads[i] = round(abstaining - reading, 3)
            if leads[i] < margin:
                out[i] = answer
    return out, leads
