"""Answer memo: a generator that answers a prompt it has already answered from memory, not by generating again.

Why: greedy decoding makes an answer a function of its prompt, and a run asks some prompts twice. The
perfect-retriever rows (`labkit.perfect_retriever`) change a RAG prompt only where retrieval missed every gold
document; for every other question their prompt is the real row's, word for word (on the kit's knowledge base that is
most questions: recall@3 is high). Those are answered once; `make report`'s log says how many were.

Worked example:
    memo = RememberingGenerator(gen)
    memo.generate(["What does the kettle cost?", "Who is the CEO?"])  # generates both
    memo.generate(["Who is the CEO?", "When was it founded?"])        # generates the second only
    memo.generated, memo.remembered                                    # -> 3, 1

It also makes the two rows comparable: a prompt generated in another batch meets other padding, and in bf16 a few
answers differ by a token between batches (before this memo, the shipped run of d6481c9 had RAG with a perfect
retriever *below* plain RAG on the taught questions). The memo gives the answer the prompt got the first time, so the
rows differ only where their prompts do.

What it leaves out: which prompts a row asks (`labkit.rag`), scoring (`labkit.scoreboard`); a memo lives as long as
the object (one run's untrained rows), never on disk.
"""

from __future__ import annotations


class RememberingGenerator:
    """A `labkit.models.Generator` (or anything with its `generate`) whose repeated prompts are answered once.

    Every other attribute (tokenizer, chat_prompt, count_tokens, max_context, ...) is the wrapped generator's.
    Example: RememberingGenerator(gen).generate("Hi") == gen.generate("Hi") -> True
    """

    def __init__(self, gen):
        self.gen = gen
        self.memo: dict = {}  # (prompt, max_new_tokens, chat, system) -> the answer it got
        self.generated = 0  # prompts answered by generating
        self.remembered = 0  # prompts answered from the memo

    def __getattr__(self, name):
        return getattr(self.gen, name)

    def generate(self, prompts, max_new_tokens: int = 48, chat: bool = True, system: str | None = None, **options):
        """`Generator.generate`, generating only the prompts (with these settings) not answered before.

        Example: memo.generate(["a", "a", "b"]) generates "a" and "b" once each, and returns three answers.
        """
        single = isinstance(prompts, str)
        asked = [prompts] if single else list(prompts)
        keys = [(p, max_new_tokens, chat, system) for p in asked]
        new = list(dict.fromkeys(k for k in keys if k not in self.memo))  # first occurrence order, no repeats
        if new:
            answers = self.gen.generate([k[0] for k in new], max_new_tokens=max_new_tokens, chat=chat, system=system,
                                        **options)
            self.memo.update(zip(new, answers, strict=True))
        self.generated += len(new)
        self.remembered += len(keys) - len(new)
        out = [self.memo[k] for k in keys]
        return out[0] if single else out
