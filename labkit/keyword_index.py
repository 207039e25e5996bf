"""Keyword search: a BM25 index over chunks (the `bm25s` library), and reciprocal rank fusion of two rankings.

What it holds:
- `keywords`: a text's search terms: lower case, English stop words out, an identifier kept whole beside its parts
  ("--isolated-context" -> "isolated-context", "isolated", "context"), so a question naming an exact flag, function or
  file finds the chunk that names it: what dense embeddings blur.
- `KeywordIndex`: BM25 scores of chunks (by the integer ids of `labkit.retrieval.VectorIndex`), built whole from their
  texts, searched, saved to / loaded from a folder (numpy arrays and JSON: no pickle); `idf`, how much each term
  weighs (what `labkit.answerable` weighs a question's terms by).
- `fuse`: reciprocal rank fusion (Cormack et al. 2009): each list gives an item 1 / (RRF_K + rank); sums decide.

What it leaves out: the dense index and choosing among dense, BM25 and hybrid search (`labkit.retrieval`), and
updating in place: a changed chunk set is indexed again whole (milliseconds for the kit's 323 chunks).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al.'s 60; 10 measured the same here, see the record)
_IDENTIFIER = re.compile(r"[a-z0-9_][a-z0-9_.\-/@]*[a-z0-9_]|[a-z0-9_]")
_PART = re.compile(r"[a-z0-9]+")
_FILES = ("params.index.json", "vocab.index.json", "data.csc.index.npy", "indices.csc.index.npy",
          "indptr.csc.index.npy")


def _stopwords() -> frozenset:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def keywords(text: str, stopwords: frozenset | None = None) -> list[str]:
    """The search terms of a text, in order: identifiers whole and in parts, stop words and one-letter parts out.

    Example: keywords("Pass --isolated-context to tab-new") -> ["pass", "isolated-context", "isolated", "context",
    "tab-new", "tab", "new"]
    """
    stopwords = _stopwords() if stopwords is None else stopwords
    terms = []
    for word in _IDENTIFIER.findall(text.lower()):
        parts = _PART.findall(word)
        if len(parts) > 1:
            terms.append(word)
        terms += [p for p in parts if len(p) > 1 and p not in stopwords]
    return terms


def fuse(rankings: list[list], k: int = RRF_K) -> list[tuple]:
    """Reciprocal rank fusion of ranked id lists: (id, score) best first, ties kept in first-seen order.

    Example: fuse([["a#7", "a#3"], ["a#3", "b#9"]]) -> [("a#3", 0.0325), ("a#7", 0.0164), ("b#9", 0.0161)]
    """
    scores: dict = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


class KeywordIndex:
    """BM25 over chunk texts, each under its integer chunk id."""

    def __init__(self, ids: list[int], texts: list[str]):
        """Index texts under ids. Example: KeywordIndex([0, 1], ["a kettle", "a lamp"]).search(["kettle"], 1)."""
        import bm25s

        if len(ids) != len(texts):
            raise ValueError(f"{len(ids)} ids but {len(texts)} texts: they must pair up one to one.")
        self.ids = [int(i) for i in ids]
        self.bm25 = None
        if texts:
            stopwords = _stopwords()
            self.bm25 = bm25s.BM25()
            self.bm25.index([keywords(t, stopwords) for t in texts], show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, questions: list[str], fetch: int) -> list[list[tuple[int, float]]]:
        """The `fetch` best (chunk id, BM25 score) of each question; chunks sharing no term with it are left out.

        Example: KeywordIndex([0, 1], ["a kettle", "a lamp"]).search(["kettle price"], 5) -> [[(0, 0.46)]]
        """
        results = []
        stopwords = _stopwords()
        for question in questions:
            terms = [t for t in keywords(question, stopwords) if t in self.bm25.vocab_dict] if self.bm25 else []
            if not terms:
                results.append([])
                continue
            scores = np.asarray(self.bm25.get_scores(terms), dtype="float64")
            n = min(fetch, len(scores))
            best = np.argpartition(-scores, n - 1)[:n]
            best = best[np.lexsort((best, -scores[best]))]  # score, then position: the same order every run
            results.append([(self.ids[j], float(scores[j])) for j in best.tolist() if scores[j] > 0])
        return results

    def idf(self, terms: list[str]) -> dict:
        """Each term's inverse document frequency over the indexed chunks, as BM25 (Lucene) weighs it: a term in few
        chunks weighs much, one in most weighs little, one in none the most.

        Example: KeywordIndex([0, 1], ["a kettle", "a lamp"]).idf(["kettle", "teapot"]) -> {"kettle": 0.69, "teapot":
            1.79}
        """
        n = len(self.ids)
        vocab = self.bm25.vocab_dict if self.bm25 is not None else {}
        indptr = self.bm25.scores["indptr"] if self.bm25 is not None else None
        out = {}
        for term in terms:
            # BM25's score matrix has a column per term, a nonzero per chunk holding it: its length is the term's count
            t = vocab.get(term)
            df = int(indptr[t + 1] - indptr[t]) if t is not None else 0
            out[term] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return out

    # ------------------------------------------------------------ saving
    def save(self, directory) -> str:
        """Write the index into a folder; returns the sha256 that ties its files together.

        Example: KeywordIndex([0], ["a kettle"]).save("/tmp/kw") -> "5d1f..."
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        if self.bm25 is not None:
            self.bm25.save(str(directory))
        return files_sha256(directory)

    @classmethod
    def load(cls, directory, sha256: str, ids: list[int]) -> KeywordIndex:
        """Read a saved index of these chunk ids, refusing files that are not the ones saved (ValueError: rebuild).

        Example: KeywordIndex.load("/tmp/kw", sha, [0]).search(["kettle"], 3)
        """
        import bm25s

        directory = Path(directory)
        if not (directory / "ids.json").is_file() or files_sha256(directory) != sha256:
            raise ValueError(f"{directory}: the keyword index is missing or is not the one saved with these chunks; "
                             "rebuild the index.")
        self = cls.__new__(cls)
        self.ids = [int(i) for i in json.loads((directory / "ids.json").read_text(encoding="utf-8"))]
        if self.ids != list(ids):
            raise ValueError(f"{directory}: the keyword index does not cover its chunk store; rebuild the index.")
        self.bm25 = bm25s.BM25.load(str(directory), mmap=False, allow_pickle=False) if self.ids else None
        if self.bm25 is not None and int(self.bm25.scores["num_docs"]) != len(self.ids):
            raise ValueError(f"{directory}: the keyword index scores {self.bm25.scores['num_docs']} chunks for "
                             f"{len(self.ids)} ids; rebuild the index.")
        return self


def files_sha256(directory) -> str:
    """One sha256 over a saved keyword index's files (those present, by name). Example: files_sha256("/tmp/kw")."""
    digest = hashlib.sha256()
    for name in ("ids.json", *_FILES):
        path = Path(directory) / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
