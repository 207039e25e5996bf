"""The perfect retriever: the sources a RAG prompt gets, with a gold chunk always among them (the reading ceiling).

A RAG row's wrong answers come from two places: retrieval (no source holds the answer) and reading
(one does, and the answer is still wrong). `PerfectRetriever` takes retrieval's share away: it
wraps an index and searches it as usual, and where a gold document has no chunk among the top_k
sources, that document's best chunk (one showing the answer, if any does) replaces the last
non-gold source, so the prompt keeps as many sources, and as many distractors as retrieval left.
A row reading through it scores the *reading ceiling*; recall@k is the *retrieval ceiling*. For a
RAG row, the gap to 1.0 splits into retrieval's share (perfect-retriever accuracy minus the row's)
and reading's (1.0 minus the perfect-retriever accuracy): `gap_split`.

Worked example:
    retrieved for "What is the price of the Brimble Kettle?": [toaster, lamp, returns policy]
    perfect:                                                    [toaster, lamp, kettle chunk "... costs $89 ..."]

What it leaves out: answering (`labkit.rag.RAG` takes it where it takes an index) and scoring
(`labkit.scoreboard`).
"""

from __future__ import annotations

from labkit.evaluate import answer_variants, is_match
from labkit.retrieval import Hit


class PerfectRetriever:
    """An index whose search results always hold a gold chunk of the question asked (known from its qa record).

    Example: PerfectRetriever(index, qa).search("What is the price of the Brimble Kettle?")[-1].chunk.doc_id
        -> "product-brimble-kettle"
    """

    def __init__(self, index, questions: list[dict], depth: int = 24):
        self.index = index  # the real index (a labkit.retrieval.VectorIndex)
        # how far down the real ranking a gold chunk is looked for before any chunk of its document is taken
        self.depth = depth
        self.records = {}  # every wording of a question (the training one and its paraphrases) -> its qa record
        for q in questions:
            for text in [q["question"], *q.get("paraphrases", [])]:
                self.records[text.strip()] = q

    def search(self, question: str, top_k: int = 3) -> list[Hit]:
        """The top_k sources for one question, a gold chunk guaranteed.
        Example: len(perfect.search("Price?", 3)) -> 3."""
        return self.search_many([question], top_k)[0]

    def search_many(self, questions: list[str], top_k: int = 3) -> list[list[Hit]]:
        """search() for many questions; a question with no qa record is refused (its gold documents are not known).

        Example: perfect.search_many(["What is the price of the Brimble Kettle?"], 3)[0][-1].chunk.doc_id
            -> "product-brimble-kettle"
        """
        unknown = [q for q in questions if q.strip() not in self.records]
        if unknown:
            raise ValueError("the perfect retriever knows the gold documents of the kit's questions only, not of "
                             f"{unknown[0]!r}")
        found = self.index.search_many(questions, max(top_k, self.depth))
        return [self._with_gold(self.records[q.strip()], hits, top_k) for q, hits in zip(questions, found, strict=True)]

    def _with_gold(self, q: dict, hits: list[Hit], top_k: int) -> list[Hit]:
        chosen = list(hits[:top_k])
        accepted = answer_variants(q)
        for doc_id in q["doc_ids"][:top_k]:
            if any(h.chunk.doc_id == doc_id for h in chosen):
                continue
            gold = self._gold_chunk(doc_id, hits, accepted)
            if gold is None:  # a document the index does not hold: nothing to put in
                continue
            others = [i for i, h in enumerate(chosen) if h.chunk.doc_id not in q["doc_ids"]]
            chosen[others[-1] if others else len(chosen) - 1] = gold
        return chosen

    def _gold_chunk(self, doc_id: str, hits: list[Hit], accepted: list[str]) -> Hit | None:
        ranked = [h for h in hits if h.chunk.doc_id == doc_id]
        showing = [h for h in ranked if is_match(h.chunk.text, accepted)]
        if showing:  # the best-ranked chunk of the document that shows the answer
            return showing[0]
        chunks = [self.index.chunks[i] for i in self.index.doc_chunks.get(doc_id, [])]
        unranked = next((c for c in chunks if is_match(c.text, accepted)), None)
        if unranked is not None:  # ranked below `depth`: taken all the same
            return Hit(unranked, 0.0, 0)
        if ranked or chunks:  # no chunk shows it word for word (a comparison, a yes/no): the document's best chunk
            return ranked[0] if ranked else Hit(chunks[0], 0.0, 0)
        return None


def gap_split(accuracy: float, perfect_accuracy: float) -> dict:
    """How much of a RAG row's gap to 1.0 is retrieval's and how much is reading's.

    Example: gap_split(0.25, 0.40) -> {"gap": 0.75, "retrieval": 0.15, "reading": 0.6}
    Retrieval's share can come out negative when a perfect source confuses the reader more than a
    retrieved one did; it is reported as measured.
    """
    return {"gap": round(1 - accuracy, 4), "retrieval": round(perfect_accuracy - accuracy, 4),
            "reading": round(1 - perfect_accuracy, 4)}
