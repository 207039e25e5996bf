"""labkit.data: the shipped data is checked, not trusted (schemas, unique ids, answers present in their sources), and
its loaders and subsets."""

import re
from collections import Counter

import pytest

from labkit.config import DATA_DIR, KB_DIR
from labkit.data import (
    FOREIGN_CORPORA,
    FOREIGN_DIR,
    TRIAGE_INTENTS,
    foreign_items,
    load_general_text,
    load_probe,
    load_qa,
    load_run_times,
    load_shipped,
    load_sweep,
    load_triage,
    load_updates,
    needs_two_documents,
    reader_info,
    split_documents,
    split_questions,
    spread,
    stratified_subset,
    taught_questions,
    unseen_documents,
    untaught_questions,
    updated_questions,
)
from labkit.evaluate import normalize_answer

TRIAGE_KEYS = {"id", "message", "intent", "priority", "reply", "split"}
QA_KEYS = {"id", "question", "paraphrases", "answer", "aliases", "doc_ids", "distractors", "kind", "facts"}


def _doc_texts() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in KB_DIR.glob("*.md")}


def _contains(text: str, answer: str) -> bool:
    return f" {normalize_answer(answer)} " in f" {normalize_answer(text)} "


def test_knowledge_base_documents():
    docs = _doc_texts()
    assert len(docs) >= 40
    for doc_id, text in docs.items():
        assert re.fullmatch(r"[a-z0-9-]+", doc_id), doc_id
        assert text.startswith("# "), f"{doc_id} must open with '# Title'"
    kinds = Counter(doc_id.split("-")[0] for doc_id in docs)
    assert {"product", "policy", "faq", "news", "changelog", "playbook"} <= set(kinds)


def test_qa_schema_and_answers_in_sources():
    docs, qa = _doc_texts(), load_qa()
    assert len(qa) >= 150
    assert len({q["id"] for q in qa}) == len(qa)
    for q in qa:
        assert set(q) - {"rivals"} == QA_KEYS, q["id"]
        assert len(q["paraphrases"]) >= 2 and q["question"] not in q["paraphrases"], q["id"]
        assert q["kind"] in {"single", "numeric", "multi"}
        assert all(d in docs for d in q["doc_ids"]), q["id"]
        assert _contains(" ".join(docs[d] for d in q["doc_ids"]),
                         q["answer"]), f"{q['id']}: answer not in its documents"
        accepted = {normalize_answer(a) for a in [q["answer"], *q["aliases"]]}
        assert len(q["distractors"]) == 3 and not accepted & {normalize_answer(d) for d in q["distractors"]}, q["id"]
        assert q["facts"] and all(_contains(f, q["answer"]) for f in q["facts"]), q["id"]
    assert Counter(q["kind"] for q in qa)["multi"] >= 10


def test_comparison_questions_name_their_rival_option():
    # "Which is heavier, the A or the B?": an answer restating both options must not count as right (evaluate.is_right)
    comparisons = [q for q in load_qa() if re.match(r"^Which .*, the .+ or the .+\?$", q["question"])]
    assert len(comparisons) == 10 and [q["id"] for q in load_qa() if "rivals" in q] == [q["id"] for q in comparisons]
    for q in comparisons:
        assert len(q["rivals"]) == 1 and normalize_answer(q["rivals"][0]) != normalize_answer(q["answer"]), q["id"]
        for text in [q["question"], *q["paraphrases"]]:
            assert q["rivals"][0].lower() in text.lower() and q["answer"].lower() in text.lower(), (q["id"], text)


def test_updates_point_at_real_sentences():
    docs, qa = _doc_texts(), {q["id"]: q for q in load_qa()}
    updates = load_updates()
    assert len(updates) >= 20
    assert len({u["id"] for u in updates}) == len(updates)
    for u in updates:
        assert u["old"] in docs[u["doc_id"]], f"{u['id']}: old sentence not in {u['doc_id']}"
        for qid in u["question_ids"]:
            assert _contains(u["old"], qa[qid]["answer"]), f"{u['id']}: old answer of {qid} not in old sentence"
            assert _contains(u["new"], u["new_answers"][qid]), f"{u['id']}: new answer of {qid} not in new sentence"
            assert normalize_answer(u["new_answers"][qid]) != normalize_answer(qa[qid]["answer"])


def test_general_probe_schema():
    probe = load_probe()
    assert len(probe) >= 100
    assert len({p["id"] for p in probe}) == len(probe)
    for p in probe:
        assert len(p["choices"]) == 4 and len(set(p["choices"])) == 4, p["id"]
        assert 0 <= p["answer_index"] < 4
    assert len(Counter(p["answer_index"] for p in probe)) == 4  # the right answer is not always in one place


@pytest.mark.parametrize("n, expected", [(3, [0, 3, 6]), (None, list(range(10))), (20, list(range(10)))])
def test_spread_covers_the_list(n, expected):
    assert spread(list(range(10)), n) == expected


@pytest.fixture(scope="module")
def rows():
    """Every triage message (train and test)."""
    return load_triage()


def _norm(text):
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


# ---------------------------------------------------------------- the behaviour task (data/triage.jsonl)


def test_schema(rows):
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    for r in rows:
        assert set(r) == TRIAGE_KEYS, r["id"]
        assert re.fullmatch(r"t\d{3}", r["id"])
        assert r["intent"] in TRIAGE_INTENTS and r["priority"] in ("low", "normal",
                                                                   "urgent") and r["split"] in {"train", "test"}
        assert 10 <= len(r["message"]) <= 400 and "\n" not in r["message"]


def test_size_and_balance(rows):
    counts = Counter(r["intent"] for r in rows)
    assert len(rows) >= 320
    assert set(counts) == set(TRIAGE_INTENTS)
    assert min(counts.values()) >= 40 and max(counts.values()) - min(counts.values()) <= 4
    priorities = Counter(r["priority"] for r in rows)
    assert set(priorities) == set(("low", "normal", "urgent")) and priorities["urgent"] >= 20


def test_split_is_stratified(rows):
    test = [r for r in rows if r["split"] == "test"]
    assert len(test) >= 80
    assert load_triage("test") == test and len(load_triage("train")) == len(rows) - len(test)
    for intent in TRIAGE_INTENTS:
        share = sum(r["split"] == "test" for r in rows if r["intent"] == intent) / sum(r["intent"] == intent for r
                                                                                       in rows)
        assert 0.2 <= share <= 0.3, intent


def test_load_triage_rejects_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_triage("dev")


def test_stratified_subset_covers_every_intent():
    subset = stratified_subset(load_triage("test"), 24)
    assert len(subset) == 24 and Counter(r["intent"] for r in subset) == Counter({i: 3 for i in TRIAGE_INTENTS})
    assert stratified_subset(subset, None) == subset


# ---------------------------------------------------------------- subsets the experiment takes


def test_taught_questions_include_updated_ones():
    questions, updates = taught_questions(2, 3)
    ids = [q["id"] for q in questions]
    assert len(updates) == 3 and all(i in ids for u in updates for i in u["question_ids"])
    trained = [q for q in load_qa() if not set(q["doc_ids"]) & set(unseen_documents())]
    assert len(set(ids)) == len(ids) and ids[:2] == [q["id"] for q in spread(trained, 2)]


def test_taught_questions_can_add_every_multi_document_question():
    plain, _ = taught_questions(6, 2)
    questions, _ = taught_questions(6, 2, multi_document=True)
    ids = [q["id"] for q in questions]
    unseen = set(unseen_documents())
    multi = [q["id"] for q in load_qa() if needs_two_documents(q) and not set(q["doc_ids"]) & unseen]
    # the same taught set first: only the multi-document ones are added
    assert ids[: len(plain)] == [q["id"] for q in plain]
    # of 20: the others touch an unseen document
    assert set(multi) <= set(ids) and len(set(ids)) == len(ids) and len(multi) == 8


def test_updated_questions_swap_the_answer_and_the_facts():
    q = next(q for q in load_qa() if q["id"] == "q001")
    u = next(u for u in load_updates() if "q001" in u["question_ids"])
    other = next(q for q in load_qa() if q["id"] not in u["question_ids"])
    new, same = updated_questions([q, other], [u])
    assert new["answer"] == u["new_answers"]["q001"] and new["aliases"] == [] and all(q["answer"] not in f for f
                                                                                      in new["facts"])
    assert any(new["answer"] in f for f in new["facts"]) and same == other


def test_shipped_sweep_and_general_text_load():
    sweep = load_sweep()
    assert sweep["runs"] and set(sweep["setup"]) == {"num_questions", "num_probe", "every", "seed"}
    assert all("fact_statements" in r["config"] for r in sweep["runs"])
    general = load_general_text()
    assert len(general) >= 100 and len(load_general_text(3)) == 3 and {"id", "question", "answer"} <= set(general[0])
    with pytest.raises(FileNotFoundError, match="labkit sweep"):
        load_sweep("/nonexistent/sweep.json")


def test_no_duplicates_and_no_leak(rows):
    messages = [_norm(r["message"]) for r in rows]
    assert len(set(messages)) == len(messages)
    train = {_norm(r["message"]) for r in rows if r["split"] == "train"}
    assert not [r["id"] for r in rows if r["split"] == "test" and _norm(r["message"]) in train]


@pytest.mark.parametrize("corpus", FOREIGN_CORPORA, ids=lambda p: p.name)
def test_each_foreign_corpus_is_answerable_from_its_gold_documents_and_says_its_source(corpus):
    from labkit.documents import SUPPORTED_SUFFIXES

    questions = foreign_items(corpus)
    assert all(q["asked"] == q["question"] for q in questions)  # items score_reader can put as they are
    docs = {p.relative_to(corpus / "docs").with_suffix("").as_posix(): p.read_text() for p
            in (corpus / "docs").rglob("*") if p.suffix in SUPPORTED_SUFFIXES}
    assert len({q["id"] for q in questions}) == len(questions) >= 38
    readme = (corpus / "README.md").read_text()
    licences = [p for p in corpus.rglob("*") if p.is_file() and p.parent.name != "docs"
                and any(word in p.name.upper() for word in ("LICENSE", "COPYING", "COPYRIGHT", "GPL"))]
    assert licences and "licen" in readme.lower() and "copied" in readme  # where it comes from, under what terms
    answerable = [q for q in questions if q["answer"] is not None]
    assert len(answerable) >= 30 and len(questions) - len(answerable) >= 8
    assert len({q["doc_ids"][0] for q in answerable}) >= len(docs) // 2  # spread over the corpus, not one file
    for q in answerable:
        assert len(q["doc_ids"]) == 1 and q["doc_ids"][0] in docs, q["id"]
        for answer in [q["answer"], *q["aliases"]]:
            # verbatim, maybe inside a longer token
            assert normalize_answer(answer) in normalize_answer(docs[q["doc_ids"][0]]), (q["id"], answer)
    for q in questions:
        if q["answer"] is None:
            assert q["doc_ids"] == [] and q["kind"] == "unanswerable"
    # data/README.md's table of the corpora counts what is there
    row = next(line for line in (DATA_DIR / "README.md").read_text().splitlines() if line.startswith(
        f"| `{corpus.name}/` |"))
    assert row.split(" | ")[-3:] == [str(len(docs)), str(len(answerable)), f"{len(questions) - len(answerable)} |"]
    assert FOREIGN_DIR in FOREIGN_CORPORA and len({p.name for p in FOREIGN_CORPORA}) == len(FOREIGN_CORPORA) >= 3


def test_the_shipped_records_load_and_a_missing_one_says_what_makes_it(tmp_path):
    assert load_shipped()["quick"] is False and reader_info()["kind"] == "reader"
    assert all(row.get("default") for row in load_run_times()["notebooks"].values())
    with pytest.raises(FileNotFoundError, match="labkit train-reader"):
        reader_info(tmp_path)


DOC_IDS = sorted(p.stem for p in KB_DIR.glob("*.md"))


def test_the_split_holds_out_a_third_of_every_kind_of_document():
    trained, held = split_documents(DOC_IDS)
    assert not set(trained) & set(held) and sorted(trained + held) == DOC_IDS
    for kind in {d.split("-")[0] for d in DOC_IDS}:
        of_kind = [d for d in DOC_IDS if d.startswith(kind + "-")]
        assert len([d for d in held if d in of_kind]) == len(of_kind) // 3 + (len(of_kind) % 3 == 2)
    assert split_documents(list(reversed(DOC_IDS))) == (trained, held)  # order of the input does not matter
    with pytest.raises(ValueError, match="2 or more"):
        split_documents(DOC_IDS, every=1)


def test_no_trained_question_touches_a_held_out_document():
    _, held = split_documents(DOC_IDS)
    trainable, held_out = split_questions(load_qa(), held)
    assert all(not set(q["doc_ids"]) & set(held) for q in trainable)
    assert all(set(q["doc_ids"]) <= set(held) for q in held_out)
    assert len(trainable) > 100 and len(held_out) > 50  # 120 and 66 with the shipped data


def test_taught_and_untaught_questions_never_share_a_document_and_cover_the_whole_set():
    unseen = set(unseen_documents())
    assert unseen == set(split_documents(DOC_IDS)[1])  # the reading adapter's held-out third
    taught, updates = taught_questions(None, None, multi_document=True)
    untaught = untaught_questions(None)
    assert not {d for q in taught for d in q["doc_ids"]} & unseen
    assert all(set(q["doc_ids"]) & unseen for q in untaught)
    assert len(taught) + len(untaught) == len(load_qa())  # the full run asks every question, in one column or the other
    assert len(untaught) >= 60  # the untaught column's n per seed
    # every applied update changes a taught fact
    assert all(set(u["question_ids"]) <= {q["id"] for q in taught} for u in updates)
    assert untaught_questions(8) == spread(untaught, 8)


def test_the_data_readme_quotes_the_files_counts():
    """Issue 27: data/README.md said 18 multi-document questions (20 name two documents), 13 + 3 items per topic of 8
    topics (128) for a 120-item probe, and a base probe score typed by hand. Each count it quotes is the file's."""
    from labkit.config import DATA_DIR

    text = (DATA_DIR / "README.md").read_text()
    qa, probe = load_qa(), load_probe()
    kinds = Counter(q["kind"] for q in qa)
    topics = Counter(p["topic"] for p in probe)
    usual = Counter(topics.values()).most_common(1)[0][0]
    quoted = {
        r"the knowledge base \((\d+) Markdown documents\)": len(list((DATA_DIR / "kb").glob("*.md"))),
        r"frozen domain questions \((\d+)\)": len(qa),
        r"`single` \((\d+)\)": kinds["single"], r"`numeric` \((\d+):": kinds["numeric"],
        r"`multi` \((\d+):": kinds["multi"],
        r"`doc_ids` name two: (\d+) do": sum(len(q["doc_ids"]) > 1 for q in qa),
        r"freshness experiment \((\d+)\)": len(load_updates()),
        r"forgetting yardstick \((\d+)\)": len(probe), r"(\d+) remain": len(probe),
        r"remain: (\d+) per topic": usual,
        r"replay data \((\d+)\)": len(load_general_text()),
    }
    for pattern, value in quoted.items():
        match = re.search(pattern, text)
        assert match and int(match.group(1)) == value, (pattern, value)
    for topic, n in topics.items():
        assert n == usual or f"{n} in {topic}" in text, (topic, n)
    assert "0.80" not in text  # the base model's probe score is the results' (data/results.json), not typed


def test_a_slow_cell_gets_one_line_from_the_measured_times_and_a_quick_cell_none():
    from labkit.data import cell_time_note

    times = {"machine": "Linux x86_64, 2 cores, CPU", "date": "2026-12-07", "precision": "bfloat16",
             "cells": {"02_x": {"default": {"slow": 95.0, "fast": 12.0}, "quick": {"slow": 21.0}}}}
    line = cell_time_note("02_x", "slow", quick=True, times=times)
    assert line.startswith("This cell took 1.6 min in default mode when measured; quick mode, which is on: 21 s")
    assert "with bf16 matmuls" in line and "\n" not in line
    assert cell_time_note("02_x", "fast", times=times) == "" and cell_time_note("02_x", "unmeasured", times=times) == ""
