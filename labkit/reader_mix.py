"""The reading adapter's training mix beyond the knowledge base: documents of other styles, and their questions.

The shipped adapter read only the knowledge base's short, clean Markdown; a learner's folder is reference pages, release
notes, FAQs. `data/reader_mix/` holds three other styles, copied from Debian 12 packages (sources and licences in its
README.md), never any of the evaluation corpora (`data/foreign/`):
- `coreutils-man/`: 30 coreutils manual pages rendered as text (reference documentation: option lists);
- `debian-changelogs/`: the last six entries of 14 packages' Debian changelogs (dated release notes, near-identical
  entries: the right one must be told from its neighbours by version);
- `faqs/`: sections of three packages' FAQs (question-and-answer pages), their questions written by hand from the
  text (`WRITTEN_STYLES`), answers verbatim.
The first two styles' questions are made by rule from the text, so each answer is verbatim in its document:
`option_questions` ("Which sort option should I use to ignore leading blanks?" -> "--ignore-leading-blanks") and
`changelog_questions` ("Who signed the sed 4.8-1 upload?" -> "Clint Adams"); `make_questions` writes a style's
questions.jsonl, `mix_items` reads any style's, and `mix_split` holds out every third document of a style (none of
its questions trained on, no chunk of it shown).

What it leaves out: building training examples and training (`labkit.reader`), indexing (`labkit.folder_index`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from labkit.config import DATA_DIR
from labkit.evaluate import normalize_answer

MIX_DIR = DATA_DIR / "reader_mix"
MIX_STYLES = ("coreutils-man", "debian-changelogs", "faqs")
# styles whose questions were written by hand from the text (answers verbatim), not made by a rule
WRITTEN_STYLES = ("faqs",)
PER_DOCUMENT = 4  # questions made from one document at most: no page or package dominates the mix
HELD_OUT_EVERY = 3  # every third document of a style (sorted by id) is held out

# an option line, then a description of one line (followed by a blank line or the next option)
_OPTION = re.compile(r"^ {7}(?:(-\w), )?(--[a-z][\w-]*)(?:\[?=[\w\[\]=]+)?\n {14}([a-z][^\n]*)\n(?=\s*\n| {7}-)", re.M)
_NOT_A_VERB = {"with", "when", "like", "likewise", "line", "for", "if", "the", "a", "an", "in", "on", "only", "default",
               "implies", "synonym", "equivalent"}  # a description read as "to <it>" must start with a verb
_ENTRY = re.compile(r"^(\S+) \(([^)]+)\)[^\n]*\n(.*?)^ -- (.+?) <[^>]*>  \w{3}, (\d{1,2} \w{3} \d{4})", re.M | re.S)


def _spread(items: list, limit: int) -> list:
    """At most `limit` items taken evenly from the whole list (the first, the last and between)."""
    if len(items) <= limit:
        return items
    return [items[round(i * (len(items) - 1) / (limit - 1))] for i in range(limit)]


def option_questions(text: str, command: str, limit: int = PER_DOCUMENT) -> list[dict]:
    """Questions on a rendered manual page's long options, answered by the option (its short form an alias).

    Example: option_questions(sort_page, "sort")[0]
        -> {"question": "Which sort option should I use to ignore leading blanks?", "answer": "--ignore-leading-blanks",
            "aliases": ["-b"]}
    Only options whose description starts with a lower-case word and has three words or more (a verb phrase).
    """
    found = [(short, long, " ".join(desc.split()).rstrip(".")) for short, long, desc in _OPTION.findall(text)
             if long not in ("--help", "--version")]
    found = [f for f in found if len(f[2].split()) >= 3 and f[2].split()[0] not in _NOT_A_VERB
             and not re.search(r"\b(above|below|same as|equivalent)\b", f[2])]
    return [{"question": f"Which {command} option should I use to {desc}?", "answer": long,
             "aliases": [short] if short else []} for short, long, desc in _spread(found, limit)]


def changelog_questions(text: str, package: str, limit: int = PER_DOCUMENT) -> list[dict]:
    """Questions on a Debian changelog's entries: who signed an upload, on which date, which bug it closes.

    Example: changelog_questions(sed_changelog, "sed")[0] -> {"question": "On which date was sed 4.9-1 uploaded?",
        "answer": "05 Jan 2023", "aliases": []}
    Question kinds take turns down the entries (date, bug, signer); a bug is asked only of an entry that closes
    exactly one (else its date, or its signer).
    """
    out = []
    for i, (_, version, body, name, date) in enumerate(_ENTRY.findall(text)):
        bugs = sorted(set(re.findall(r"#\d{4,7}", body)))
        kinds = [("On which date was {p} {v} uploaded?", date),
                 ("Which bug does the {p} {v} upload close?", bugs[0] if len(bugs) == 1 else None),
                 ("Who signed the {p} {v} upload?", name)]
        question, answer = kinds[i % 3] if kinds[i % 3][1] else kinds[(i // 3) % 2 * 2]
        out.append({"question": question.format(p=package, v=version), "answer": answer, "aliases": []})
    return _spread(out, limit)


def make_questions(style_dir: Path) -> list[dict]:
    """Every question of one style's documents, as questions.jsonl holds them (ids `<style>:<n>`).

    Example: make_questions(MIX_DIR / "coreutils-man")[0]["doc_ids"] -> ["cat"]
    """
    style_dir = Path(style_dir)
    if style_dir.name in WRITTEN_STYLES:
        raise ValueError(f"{style_dir.name}'s questions were written by hand (questions.jsonl): no rule makes them.")
    make = option_questions if style_dir.name == "coreutils-man" else changelog_questions
    out = []
    for path in sorted((style_dir / "docs").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for q in make(text, path.stem):
            if all(normalize_answer(a) in normalize_answer(text) for a in [q["answer"], *q["aliases"]]):
                out.append({"id": f"{style_dir.name}:{len(out) + 1}", **q, "doc_ids": [path.stem]})
    return out


def write_questions(style_dir: Path) -> Path:
    """Write make_questions' result to the style's questions.jsonl. Example: write_questions(MIX_DIR / "sed")."""
    path = Path(style_dir) / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in make_questions(style_dir)), encoding="utf-8")
    return path


def mix_items(style_dir: Path) -> list[dict]:
    """A style's committed questions. Example: mix_items(MIX_DIR / "debian-changelogs")[0]["answer"] -> "Chet Ramey"."""
    path = Path(style_dir) / "questions.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def mix_split(doc_ids, every: int = HELD_OUT_EVERY) -> tuple[list[str], list[str]]:
    """(trained, held out): every `every`-th document id, sorted, from the second on, is held out.

    Example: mix_split(["a", "b", "c", "d"]) -> (["a", "c", "d"], ["b"])
    """
    ids = sorted(set(doc_ids))
    held = ids[1::every]
    return [d for d in ids if d not in held], held
