"""The one check of a learner's question before any model sees it: empty, bytes, text that is not UTF-8.

`check_question` returns the question ready to use or raises a ValueError whose message says what to do; every place
that takes a typed question (retrieval, RAG, `labkit ask`, the widgets) calls it. What it leaves out: the models the
question goes to (`labkit.models`) and what makes a question answerable (`labkit.rag`).

Example:
    >>> check_question(b"caf\\xe9 hours?")
    'café hours?'
"""

from __future__ import annotations

EMPTY_QUESTION = "The question is empty: type a question (a few words) and try again."


def check_question(question, message: str = EMPTY_QUESTION) -> str:
    """The question, ready to use, or a ValueError with a message that says what to do.

    Example: check_question("Who is the CEO?") -> "Who is the CEO?"; check_question("  ") -> ValueError
    Bytes that are not UTF-8 (a Latin-1 "é" typed in a terminal reaches Python as a lone
    surrogate) are read as Windows-1252/Latin-1 instead of crashing the tokenizer later.
    """
    if isinstance(question, bytes):
        question = _decode_bytes(question)
    if not isinstance(question, str) or not question.strip():
        raise ValueError(message)
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in question):
        question = _decode_bytes(question.encode("utf-8", "surrogateescape"))
    return question


def _decode_bytes(data: bytes) -> str:
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # never reached: latin-1 decodes every byte
