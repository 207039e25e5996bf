"""Extractive decoding: only tokens that keep the answer a span of the shown sources (or the abstention) survive."""

import torch

from labkit.extractive import SpanRule, Vocabulary, span_processor, span_rules
from labkit.rag import ABSTAIN, Source, shown_text

# a toy vocabulary: id -> text; id 0 is the end of the turn (a special token, never part of a span)
TOKENS = ["<end>", "E", "AR", "99", "AR99", " E", "X", " [", "1", "].", " ", "The", " sources", " do", " not", " say",
          ".", "zlib", " is", " classified", "EAR"]
EOS = [0]


def toy() -> Vocabulary:
    ids_of: dict = {}
    for i, s in enumerate(TOKENS[1:], 1):
        ids_of.setdefault(s, []).append(i)
    return Vocabulary(TOKENS, ids_of, max(map(len, ids_of)), ids_of[" ["])


def ids(*texts) -> list[int]:
    return [TOKENS.index(t) for t in texts]


SOURCE = "Export: zlib is classified EAR99."


def test_the_first_token_starts_a_word_of_the_source_or_the_abstention():
    allowed = {TOKENS[i] for i in SpanRule(toy(), SOURCE, EOS, ABSTAIN).allowed([])}
    assert {"E", "EAR", " E", "zlib", " is", " classified", "The"} <= allowed
    assert "AR" not in allowed  # inside the word "EAR99": not a word's start
    assert "X" not in allowed and " " not in allowed and "<end>" not in allowed  # not in the source; whitespace alone


def test_a_span_continues_only_as_the_source_does_then_closes_with_its_citation():
    rule = SpanRule(toy(), SOURCE, EOS, ABSTAIN)
    allowed = {TOKENS[i] for i in rule.allowed(ids("E"))}
    assert {"AR", "AR99"} <= allowed and "99" not in allowed and "X" not in allowed  # "E99" is nowhere in the source
    assert " [" in allowed and "<end>" in allowed  # the span may end here
    assert rule.allowed(ids("EAR", "99", " [")) is None  # the citation has begun: free
    assert rule.allowed(ids("EAR", "99", " [", "1")) is None


def test_the_abstention_is_allowed_token_by_token():
    rule = SpanRule(toy(), SOURCE, EOS, ABSTAIN)
    assert " sources" in {TOKENS[i] for i in rule.allowed(ids("The"))}  # "The" is not in the source, but abstains
    assert {TOKENS[i] for i in rule.allowed(ids("The", " sources", " do", " not", " say"))} == {"."}
    assert rule.allowed(ids("The", " sources", " do", " not", " say", ".")) == EOS
    assert "".join(TOKENS[i] for i in ids("The", " sources", " do", " not", " say", ".")) == ABSTAIN


def test_the_processor_masks_each_row_by_its_own_rule_and_leaves_a_free_row_alone():
    rule = SpanRule(toy(), SOURCE, EOS, ABSTAIN)
    prompt = [7, 7]  # two prompt tokens, any
    input_ids = torch.tensor([[*prompt, TOKENS.index("E")], [*prompt, TOKENS.index("E")]])
    scores = torch.zeros(2, len(TOKENS))
    scores[:, TOKENS.index("X")] = 5.0  # the model's favourite: not in the source
    out = span_processor([rule, None], prompt_length=2)(input_ids, scores.clone())
    assert out[0].argmax().item() != TOKENS.index("X") and out[0, TOKENS.index("X")] == float("-inf")
    assert torch.equal(out[1], scores[1])


def test_real_answers_are_spans_of_the_sources(generator):
    """On the real tokenizer: after "classified EA" only what the source reads next, a citation or the end."""
    source = Source(1, "c", "d", "p", "Export", "Export", 0.9, "zlib is not subject to export controls. It is "
                    "classified EAR99 by the U.S. government.")
    rule = span_rules(generator, [shown_text([source])], ABSTAIN)[0]
    assert rule.source == "Export: " + source.text
    assert all(rule.vocab.text[i].strip() for i in rule.allowed([]))
    asked = generator.tokenizer("classified EA", add_special_tokens=False)["input_ids"]
    after = [rule.vocab.text[i] for i in rule.allowed(asked) if i not in rule.eos]
    spans = [s for s in after if not s.startswith(" [")]
    assert spans and all("R99 by the U.S. government.".startswith(s) for s in spans)
    assert rule.eos[0] in rule.allowed(asked)


def test_without_the_abstention_only_the_source_is_allowed():
    rule = SpanRule(toy(), SOURCE, EOS, "")
    assert "The" not in {TOKENS[i] for i in rule.allowed([])} and EOS[0] not in rule.allowed([])
    assert {TOKENS[i] for i in rule.allowed(ids("E"))} >= {"AR", "AR99"}


def test_the_second_look_replaces_an_abstention_by_a_span_unless_the_abstention_leads_by_the_margin(generator):
    """second_look on an abstention: the answer decoded with the abstention forbidden is a span of the source, its
    lead (abstention minus answer, summed log-probabilities) is recorded, and the margin decides which is kept."""
    import math

    from labkit.extractive import second_look
    from labkit.rag import build_prompt

    source = Source(1, "c", "d", "p", "Export", "Export", 0.9, "zlib is not subject to export controls. It is "
                    "classified EAR99 by the U.S. government.")
    prompt, shown = build_prompt("How is zlib classified for export?", [source]), shown_text([source])
    kept, leads = second_look(generator, [prompt, prompt], [shown, shown], [ABSTAIN, "EAR99 [1]."], ABSTAIN,
                              -math.inf)
    assert kept == [ABSTAIN, "EAR99 [1]."] and isinstance(leads[0], float) and leads[1] is None
    replaced, again = second_look(generator, [prompt], [shown], [ABSTAIN], ABSTAIN, math.inf)
    assert again == leads[:1] and replaced[0] != ABSTAIN
    span = replaced[0].split(" [")[0].rstrip(".")
    assert span and span in shown
