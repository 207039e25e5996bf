"""labkit.capstone: a learner's folder and questions checked whole before anything loads; both readers answer them as
`labkit ask --docs` does; notebook 08's checks read the run, on two folders (the kit's foreign corpus and one made of
three of the knowledge base's documents)."""

import shutil

import pytest

from labkit.capstone import capstone_markdown, check_questions, run_capstone
from labkit.config import KB_DIR
from labkit.data import FOREIGN_DIR, foreign_items, load_qa
from labkit.exercises import for_notebook

FOREIGN_DOCS = FOREIGN_DIR / "docs"


def foreign_questions(n=5):
    items = [q for q in foreign_items() if q["answer"] is not None][:n]
    return [{"question": q["question"], "answer": q["answer"], "aliases": q["aliases"], "doc": f"{q['doc_ids'][0]}.md"}
            for q in items]


def test_questions_are_checked_whole_and_every_problem_is_named(tmp_path):
    (tmp_path / "a.md").write_text("# A\nThe kettle costs $89.\n")
    good = {"question": "What does the kettle cost?", "answer": "$89", "doc": "a.md"}
    assert check_questions([good] * 5, tmp_path)[0] == {"id": "yours-1", "asked": "What does the kettle cost?",
                                                        "answer": "$89", "aliases": [], "doc_ids": ["a"]}
    bad = [good, {**good, "question": "  "}, {**good, "answer": ""}, {**good, "doc": "../outside.md"},
           {**good, "doc": "missing.md"}, "not a dict"]
    with pytest.raises(ValueError) as caught:
        check_questions(bad, tmp_path)
    told = str(caught.value)
    for part in ("question 2: its question is empty", "question 3: its answer is empty",
                 "question 4: '../outside.md' is not a file inside", "question 5: 'missing.md' is not a file inside",
                 "question 6 is not a dict"):
        assert part in told
    with pytest.raises(ValueError, match="give 5 to 50 questions"):
        check_questions([good] * 4, tmp_path)
    with pytest.raises(ValueError, match="is not a folder"):
        check_questions([good] * 5, tmp_path / "a.md")


def kb_folder(tmp_path):
    """A folder of three knowledge-base documents, and five of the kit's questions about them (first paraphrases)."""
    tmp_path.mkdir()
    qa = [q for q in load_qa() if len(q["doc_ids"]) == 1]
    docs = list(dict.fromkeys(q["doc_ids"][0] for q in qa))[:3]
    for doc in docs:
        shutil.copy(KB_DIR / f"{doc}.md", tmp_path / f"{doc}.md")
    asked = [q for q in qa if q["doc_ids"][0] in docs][:5]
    return tmp_path, [{"question": q["paraphrases"][0], "answer": q["answer"], "aliases": q.get("aliases", []),
                       "doc": f"{q['doc_ids'][0]}.md"} for q in asked]


@pytest.mark.parametrize("which", ["foreign corpus", "three kit documents"])
def test_the_capstone_checks_read_the_run_on_two_folders(which, generator, embedder, tmp_path, monkeypatch, capsys):
    if which == "foreign corpus":  # its index is the one notebook 08 and the reading adapter's record use (cached)
        folder, questions = FOREIGN_DOCS, foreign_questions()
    else:  # a folder of this test's own: its index goes to a cache of its own
        monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
        folder, questions = kb_folder(tmp_path / "docs")
    # one source and short answers: the same path as `ask --docs`, at a test's cost
    run = run_capstone(folder, questions, generator, embedder, top_k=1, max_new_tokens=12)
    assert run["n"] == 5 and run["example"] == (folder == FOREIGN_DOCS)
    for scored in run["readers"].values():  # every answer right, or one kind of miss, by the kit's own records
        misses = scored["misses"]
        assert scored["right"] + len(misses["retrieval"]) + len(misses["reading"]) == 5
        assert all(not r["retrieved_gold"] for r in scored["records"] if r["id"] in misses["retrieval"])
    assert capstone_markdown(run).count("\n| ") == 2 + 5 + 1  # two readers, five questions, the second header
    ex = for_notebook("08")
    for q in (ex.q1, ex.q2):
        right = q.expected(run)["word"] if q is ex.q1 else q.expected(run)["reading"]
        assert q.check(right, run=run) is True
        out = capsys.readouterr().out
        assert ("retrieval misses" in out) if q is ex.q1 else ("reading adapter against the plain model" in out)
        wrong = next(w for w in ("retrieval", "reading", "equal", "higher", "lower", "no measurable difference")
                     if w != right and (w in ("retrieval", "reading", "equal")) == (q is ex.q1))
        assert q.check(wrong, run=run) is False and capsys.readouterr().out.startswith("Not yet: ")
