"""labkit.answer_memo: a prompt answered before is answered from memory, with the settings it was asked with."""

from labkit.answer_memo import RememberingGenerator
from labkit.untrained import Untrained, join_untrained


class Counting:
    """A generator that answers a prompt with its length and counts what it was asked."""

    max_context = 2048

    def __init__(self):
        self.asked = []

    def generate(self, prompts, max_new_tokens=48, chat=True, system=None, **options):
        single = isinstance(prompts, str)
        prompts = [prompts] if single else list(prompts)
        self.asked += prompts
        out = [f"{p}:{len(p)}:{max_new_tokens}" for p in prompts]
        return out[0] if single else out


def test_a_repeated_prompt_is_generated_once_and_answers_keep_their_order():
    gen = Counting()
    memo = RememberingGenerator(gen)
    first = memo.generate(["kettle", "ceo"], max_new_tokens=8)
    again = memo.generate(["ceo", "founded", "ceo", "kettle"], max_new_tokens=8)
    assert first == ["kettle:6:8", "ceo:3:8"] and again == ["ceo:3:8", "founded:7:8", "ceo:3:8", "kettle:6:8"]
    assert gen.asked == ["kettle", "ceo", "founded"]  # nothing generated twice, not even within one call
    assert (memo.generated, memo.remembered) == (3, 3)


def test_other_settings_are_another_prompt_and_the_rest_is_the_generators():
    gen = Counting()
    memo = RememberingGenerator(gen)
    assert memo.generate("kettle", max_new_tokens=8) == "kettle:6:8"
    assert memo.generate("kettle", max_new_tokens=16) == "kettle:6:16"  # a longer answer is not the shorter one
    memo.generate("kettle", max_new_tokens=8, chat=False)
    assert gen.asked == ["kettle"] * 3 and memo.max_context == 2048


def test_untrained_rows_computed_in_parts_join_into_one():
    base = Untrained({"closed-book": {"accuracy": 0.1}, "RAG": {"accuracy": 0.3}}, {"RAG after update": ["$95"]})
    reader = Untrained({"reading adapter + RAG": {"accuracy": 0.5}}, {"reading adapter + RAG after update": None})
    joined = join_untrained([base, reader])
    assert list(joined.rows) == ["closed-book", "RAG", "reading adapter + RAG"]
    assert joined.after_update == {"RAG after update": ["$95"], "reading adapter + RAG after update": None}
