"""Chunks: split documents into pieces small enough to embed and quote, each with a stable id.

What it holds: `chunk_document` / `chunk_corpus` split by headings, then paragraphs, then
sentences, packed to a token budget with overlap (`chunk_paragraphs`: one section's pieces packed and given their
ids, the step notebook 02's learners write themselves). Each `Chunk` keeps its document id,
position, heading path and a stable id such as "policy-returns#3". `CHUNK_SIZE` / `CHUNK_OVERLAP`: the
kit's one setting (128 / 24), the default of every function here and in `labkit.retrieval`.

What it leaves out: reading files into documents (`labkit.documents`), embedding and search
(`labkit.retrieval`). Nothing here needs a model: token budgets are counted in words unless a
tokenizer is passed.

Example: chunk_document(Document("a", "A", "a.md", "# A\\nOne. Two."))[0].id -> "a#0"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from labkit.documents import Corpus, Document

CHUNK_SIZE = 128  # the kit's chunk budget, in tokens (words by default): every index and notebook uses it unless told
CHUNK_OVERLAP = 24  # tokens repeated between consecutive chunks of a section
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass
class Chunk:
    """A piece of one document, small enough to embed and to quote in a prompt."""

    id: str  # stable id: document id + "#" + position, e.g. "policy-returns#3"
    doc_id: str  # the Document's id
    position: int  # 0, 1, 2, ... within the document
    text: str  # the chunk's own text, without headings
    heading: str = ""  # heading path, e.g. "Returns Policy > Return shipping"
    title: str = ""  # the document's title
    path: str = ""  # the document's path

    def embed_text(self) -> str:
        """The text that is embedded and shown to the model: heading path, then the text.

        Example: Chunk("a#0", "a", 0, "Costs $89.", "Kettle > Price").embed_text() -> "Kettle > Price\\nCosts $89."
        The heading carries the subject ("Brimble Kettle") that a section's sentences leave implicit.
        """
        return f"{self.heading}\n{self.text}" if self.heading else self.text

    def to_dict(self) -> dict:
        """The chunk as a plain dict (JSON-ready). Example: chunk.to_dict()["id"] -> "policy-returns#3"."""
        return asdict(self)


# ---------------------------------------------------------------- chunking


def word_count(text: str) -> int:
    """Number of whitespace-separated words: labkit's default token proxy. Example: word_count("a b  c") -> 3."""
    return len(text.split())


def same_subject(heading: str, title: str) -> bool:
    """Whether a top heading already names the document's title (one holds the other, case and spacing aside).

    Example: same_subject("7. Input and Output", "7. Input and Output — Python 3.11 documentation") -> True
    """
    heading, title = " ".join(heading.lower().split()), " ".join(title.lower().split())
    return heading in title or title in heading


def split_sections(text: str, title: str = "") -> list[tuple[str, str]]:
    """Split Markdown-ish text at headings into (heading path, body) pairs.

    Example: split_sections("# A\\nx\\n## B\\ny") -> [("A", "x"), ("A > B", "y")]
    Text before the first heading gets the document title as its heading path; a path whose top heading is not the
    title starts with the title: split_sections("# Usage\\nx", "Tool") -> [("Tool > Usage", "x")].
    """
    sections: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    current = title

    def flush():
        joined = "\n".join(body).strip()
        if joined:
            sections.append((current, joined))
        body.clear()

    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line.strip())
        if match:
            flush()
            level, name = len(match.group(1)), match.group(2).strip()
            stack = [(lv, n) for lv, n in stack if lv < level] + [(level, name)]
            path = [n for _, n in stack]
            # a chunk says where it is: a path whose top is not the document's title (no H1, or an H1 that is not
            # the title, as on web pages) gets the title in front
            if title and path[0] != title and (stack[0][0] > 1 or not same_subject(path[0], title)):
                path = [title, *path]
            current = " > ".join(path)
        else:
            body.append(line)
    flush()
    return sections


def _units(body: str, chunk_size: int, count: Callable[[str], int]) -> list[str]:
    """Paragraphs; a paragraph over budget becomes sentences; a sentence over budget becomes word windows."""
    units = []
    for para in re.split(r"\n\s*\n", body):
        para = para.strip()
        if not para:
            continue
        if count(para) <= chunk_size:
            units.append(para)
            continue
        for sentence in _SENTENCE_END.split(" ".join(para.split())):
            if count(sentence) <= chunk_size:
                units.append(sentence)
                continue
            words = sentence.split()
            step = max(1, chunk_size)
            # word windows are a last resort (a sentence longer than a chunk): no sentence to keep whole
            units += [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
    return units


def pack_units(units: list[str], chunk_size: int, overlap: int, count: Callable[[str], int]) -> list[str]:
    """Pack text units greedily into chunks of at most chunk_size tokens; each new chunk repeats
    the trailing units of the previous one that fit in `overlap` tokens.

    Example: pack_units(["a b", "c d", "e f"], chunk_size=4, overlap=2, count=word_count)
        -> ["a b\\n\\nc d", "c d\\n\\ne f"]
    """
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for unit in units:
        n = count(unit)
        if current and size + n > chunk_size:
            chunks.append(current)
            carry: list[str] = []
            carried = 0
            for prev in reversed(current):
                c = count(prev)
                if carried + c > overlap or carried + c + n > chunk_size:
                    break
                carry.insert(0, prev)
                carried += c
            current, size = carry, carried
        current.append(unit)
        size += n
    if current:
        chunks.append(current)
    return ["\n\n".join(c) for c in chunks]


def chunk_paragraphs(doc_id: str, paragraphs: list[str], chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP,
                     start: int = 0, count: Callable[[str], int] | None = None) -> list[tuple[str, str]]:
    """One section's paragraphs packed into chunks (`pack_units`), each with its stable id: the document id and its
    position in the document, counted on from `start` (the chunks of the document's earlier sections).

    Example: chunk_paragraphs("faq", ["a b", "c d", "e f"], chunk_size=4, overlap=2, start=3)
        -> [("faq#3", "a b\n\nc d"), ("faq#4", "c d\n\ne f")]
    An id depends only on its own document, so changing one document leaves every other chunk's id as it was.
    """
    texts = pack_units(paragraphs, chunk_size, overlap, count or word_count)
    return [(f"{doc_id}#{start + i}", text) for i, text in enumerate(texts)]


def chunk_document(doc: Document, chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP,
                   count: Callable[[str], int] | None = None, chunker: Callable | None = None) -> list[Chunk]:
    """Split one document into chunks: by headings, then paragraphs, then to the token budget.

    Example: chunk_document(doc)[0].id -> "policy-returns#0"; .heading -> "Returns Policy"
    chunk_size and overlap are in tokens of `count` (words by default). Sections never
    share a chunk, so each chunk has one heading path. `chunker` replaces `chunk_paragraphs` (same arguments but
    `count`: it counts words), as notebook 02 does with the learner's own.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 token (got {chunk_size}).")
    if not 0 <= overlap < chunk_size:
        raise ValueError(f"overlap must be between 0 and chunk_size - 1 (got overlap={overlap}, "
                         f"chunk_size={chunk_size}).")
    count = count or word_count
    sections = split_sections(doc.text, doc.title) if doc.kind in ("md", "html") else [(doc.title, doc.text)]
    chunks = []
    for heading, body in sections:
        units, start = _units(body, chunk_size, count), len(chunks)
        pieces = (chunker(doc.id, units, chunk_size, overlap, start) if chunker is not None
                  else chunk_paragraphs(doc.id, units, chunk_size, overlap, start, count))
        for i, (chunk_id, text) in enumerate(pieces):
            chunks.append(Chunk(chunk_id, doc.id, start + i, text, heading, doc.title, doc.path))
    return chunks


def chunk_corpus(corpus, chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP,
                 count: Callable[[str], int] | None = None, chunker: Callable | None = None) -> list[Chunk]:
    """Chunks of every document of a Corpus (or a list of Documents), in order (`chunker`: see chunk_document).

    Example: len(chunk_corpus(load_folder("data/kb"))) -> about 300
    """
    documents = corpus.documents if isinstance(corpus, Corpus) else corpus
    return [chunk for doc in documents for chunk in chunk_document(doc, chunk_size, overlap, count, chunker)]
