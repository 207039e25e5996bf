"""labkit.widgets: the plain functions, and the widgets built, driven and read without a browser."""

import pytest

from labkit.config import KB_DIR
from labkit.retrieval import index_folder
from labkit.widgets import highlight, inspect_retrieval, playground_answers, playground_html, query_playground, retrieval_inspector


@pytest.fixture(scope="module")
def kb_index(embedder):
    return index_folder(KB_DIR, embedder, progress=False)


def test_highlight_marks_question_words_and_escapes():
    out = highlight("The Brimble Kettle costs <b>$89</b>.", "How much does the Brimble kettle cost?")
    assert "<mark>Brimble</mark>" in out and "<mark>Kettle</mark>" in out and "&lt;b&gt;" in out and "<mark>The</mark>" not in out


@pytest.mark.parametrize("top_k", [1, 4])
def test_inspect_retrieval_rows(kb_index, top_k):
    rows = inspect_retrieval(kb_index, "How long is the return window?", top_k)
    assert len(rows) == top_k and rows[0]["doc_id"] == "policy-returns" and "<mark>" in rows[0]["html"]


def test_retrieval_inspector_widget(kb_index):
    ui = retrieval_inspector(kb_index)
    assert "Type a question" in ui.results.value
    ui.question.value = "Who is the chief executive of Tindlewick?"
    assert "company-leadership" in ui.results.value or "news-2024-05-new-ceo" in ui.results.value
    ui.top_k.value = 5
    assert ui.results.value.count("<tr>") == 6  # header + 5 rows


def test_playground_columns_are_a_list():
    columns = [("echo", lambda q: q.upper()), ("rag-like", lambda q: {"answer": "$89 [1]", "sources": [{"number": 1, "chunk_id": "k#0", "score": 0.7}]}),
               ("broken", lambda q: 1 / 0)]
    rows = playground_answers("price?", columns)
    assert [r["name"] for r in rows] == ["echo", "rag-like", "broken"]
    assert rows[0]["answer"] == "PRICE?" and rows[1]["sources"][0]["chunk_id"] == "k#0" and "ZeroDivisionError" in rows[2]["error"]
    assert "k#0" in playground_html(rows)
    with pytest.raises(ValueError):
        playground_answers(" ", columns)


def test_query_playground_widget_with_real_models(kb_index, generator):
    from labkit.widgets import default_columns

    ui = query_playground(default_columns(kb_index, generator))
    ui.question.value = "What is the price of the Brimble Kettle?"
    ui.ask.click()
    assert "closed-book" in ui.answers.value and "RAG" in ui.answers.value and "product-brimble-kettle#" in ui.answers.value
    assert not ui.ask.disabled and ui.progress.value == 2
    ui.question.value = ""
    ui.run()
    assert "empty" in str(ui.out.outputs) or ui.out.outputs == ()  # the Output shows the error outside a kernel too
