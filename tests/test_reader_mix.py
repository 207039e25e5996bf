"""labkit.reader_mix: the training mix's documents, the questions made from them by rule, and the held-out third."""

import hashlib
from collections import Counter

import pytest

from labkit.data import FOREIGN_CORPORA
from labkit.evaluate import normalize_answer
from labkit.reader_mix import (
    MIX_DIR,
    MIX_STYLES,
    PER_DOCUMENT,
    WRITTEN_STYLES,
    changelog_questions,
    make_questions,
    mix_items,
    mix_split,
    option_questions,
)

PAGE = """SORT(1)

OPTIONS
       -b, --ignore-leading-blanks
              ignore leading blanks

       --help display this help and exit

       -f, --ignore-case
              fold lower case to upper case characters

       -d, --dictionary-order
              with -l, consider only blanks and alphanumeric
              characters and more on a second line
"""

CHANGELOG = """sed (4.9-1) unstable; urgency=medium

  * New upstream version.

 -- Clint Adams <clint@debian.org>  Thu, 05 Jan 2023 14:55:25 -0500

sed (4.8-1.1) unstable; urgency=medium

  * d/copyright: Complete and convert to format 1.0. closes: #1019288.

 -- Bastian Germann <bage@debian.org>  Wed, 21 Dec 2022 13:44:30 +0100

sed (4.8-1) unstable; urgency=medium

  * New upstream version.

 -- Clint Adams <clint@debian.org>  Tue, 31 Aug 2021 08:55:13 -0400
"""


def test_option_questions_ask_for_the_long_option_of_a_one_line_verb_description():
    assert option_questions(PAGE, "sort") == [
        {"question": "Which sort option should I use to ignore leading blanks?", "answer": "--ignore-leading-blanks",
         "aliases": ["-b"]},
        {"question": "Which sort option should I use to fold lower case to upper case characters?",
         "answer": "--ignore-case", "aliases": ["-f"]}]  # not --help, nor a description cut at its line's end


def test_changelog_questions_take_turns_date_bug_signer_and_ask_a_bug_only_where_one_is_closed():
    assert [(q["question"], q["answer"]) for q in changelog_questions(CHANGELOG, "sed")] == [
        ("On which date was sed 4.9-1 uploaded?", "05 Jan 2023"),
        ("Which bug does the sed 4.8-1.1 upload close?", "#1019288"),
        ("Who signed the sed 4.8-1 upload?", "Clint Adams")]
    assert len(changelog_questions(CHANGELOG, "sed", limit=2)) == 2


@pytest.mark.parametrize("style", MIX_STYLES)
def test_each_style_ships_the_questions_its_rule_makes_and_none_of_an_evaluation_corpus(style):
    folder = MIX_DIR / style
    questions = mix_items(folder)
    if style in WRITTEN_STYLES:  # written by hand from the text: numbered in order, at most PER_DOCUMENT a document
        assert [q["id"] for q in questions] == [f"{style}:{i}" for i in range(1, len(questions) + 1)]
        assert max(Counter(q["doc_ids"][0] for q in questions).values()) <= PER_DOCUMENT
        with pytest.raises(ValueError, match="written by hand"):
            make_questions(folder)
    else:
        assert questions == make_questions(folder), "questions.jsonl is made by write_questions: re-make it"
    docs = {p.stem: p.read_text() for p in (folder / "docs").glob("*.txt")}
    assert len(questions) >= 40 and {q["doc_ids"][0] for q in questions} == set(docs)  # every document asked about
    for q in questions:
        assert all(normalize_answer(a) in normalize_answer(docs[q["doc_ids"][0]]) for a in [q["answer"], *q["aliases"]])
    trained, held = mix_split(docs)
    assert len(held) == len(docs) // 3 + (len(docs) % 3 == 2) and not set(trained) & set(held)
    evaluation = {hashlib.sha256(p.read_bytes()).hexdigest() for corpus in FOREIGN_CORPORA
                  for p in (corpus / "docs").rglob("*") if p.is_file()}
    assert not evaluation & {hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "docs").iterdir()}
    assert any(p.suffix == ".copyright" for p in folder.rglob("*")) and any(p.name.startswith("GPL") for p
                                                                            in folder.rglob("*"))
