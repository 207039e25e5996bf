"""labkit.widgets: every UI built, driven and read without a browser, and the plain functions under them."""

import pytest

from labkit.config import KB_DIR
from labkit.folder_index import index_folder
from labkit.forgetting import LabSetup
from labkit.forgetting_lab import ForgettingLab
from labkit.widgets import (
    DecisionGuide,
    QueryPlayground,
    RetrievalInspector,
    default_columns,
    highlight,
    inspect_retrieval,
    playground_answers,
    playground_columns,
    playground_html,
)


@pytest.fixture(scope="module")
def kb_index(embedder):
    return index_folder(KB_DIR, embedder, progress=False)


def output_text(out) -> str:
    return "".join(o.get("text", "") for o in out.outputs)


# ---------------------------------------------------------------- retrieval inspector


def test_highlight_marks_question_words_and_escapes():
    out = highlight("The Brimble Kettle costs <b>$89</b>.", "How much does the Brimble kettle cost?")
    assert (
        "<mark>Brimble</mark>" in out
        and "<mark>Kettle</mark>" in out
        and "&lt;b&gt;" in out
        and "<mark>The</mark>" not in out
    )


@pytest.mark.parametrize("top_k", [1, 4])
def test_inspect_retrieval_rows(kb_index, top_k):
    rows = inspect_retrieval(kb_index, "How long is the return window?", top_k)
    assert len(rows) == top_k and rows[0]["doc_id"] == "policy-returns" and "<mark>" in rows[0]["html"]


def test_retrieval_inspector(kb_index):
    ui = RetrievalInspector(kb_index)
    assert "Type a question" in ui.results.value
    ui.question.value = "Who is the chief executive of Tindlewick?"
    assert "company-leadership" in ui.results.value or "news-2024-05-new-ceo" in ui.results.value
    ui.top_k.value = 5
    assert ui.results.value.count("<tr>") == 6  # header + 5 rows
    assert ui.widget.children[0] is ui.question


# ---------------------------------------------------------------- playground


def test_playground_answers_every_column_and_keeps_errors_in_their_row():
    columns = [("echo", lambda q: q.upper()),
               ("rag-like",
                lambda q: {"answer": "$89 [1]", "cited_by": "overlap",
                           "sources": [{"number": 1, "chunk_id": "k#0", "score": 0.7}]}),
               ("broken", lambda q: 1 / 0)]
    rows = playground_answers("price?", columns)
    assert [r["name"] for r in rows] == ["echo", "rag-like", "broken"]
    assert (
        rows[0]["answer"] == "PRICE?"
        and rows[1]["sources"][0]["chunk_id"] == "k#0"
        and "ZeroDivisionError" in rows[2]["error"]
    )
    page = playground_html(rows)
    assert "k#0" in page and "citation added by labkit" in page and page.count("citation added") == 1
    with pytest.raises(ValueError, match="empty"):
        playground_answers(" ", columns)


def test_an_answer_without_content_shows_a_labelled_quote_in_the_playground():
    from labkit.rag import RAGAnswer, Source

    source = Source(1, "k#0", "k", "k.md", "Kettle", "", 0.7, "The shop opens at 9am. The Brimble Kettle costs $89.")
    columns = [("empty", lambda q: RAGAnswer(q, "the answer is: [1]", [source], [1])),
               ("right", lambda q: RAGAnswer(q, "$89 [1].", [source], [1]))]
    rows = playground_answers("How much does the Brimble Kettle cost?", columns)
    assert rows[0]["quote"] == {"source": 1, "sentence": "The Brimble Kettle costs $89."} and rows[1]["quote"] is None
    page = playground_html(rows)
    assert page.count("quote from source [1]") == 1 and "The Brimble Kettle costs $89." in page


def test_query_playground_with_real_models(kb_index, generator):
    ui = QueryPlayground(default_columns(kb_index, generator))
    ui.question.value = "What is the price of the Brimble Kettle?"
    ui.ask.click()
    assert (
        "closed-book" in ui.answers.value
        and "RAG" in ui.answers.value
        and "product-brimble-kettle#" in ui.answers.value
    )
    assert "reading adapter + RAG" in ui.answers.value  # the shipped reading adapter is a column by default
    assert not ui.ask.disabled and ui.progress.value == 3
    ui.question.value = ""
    assert ui.run() is None
    assert "question is empty" in output_text(ui.out)  # the error is shown, not swallowed


def test_playground_columns_add_the_saved_adapters(kb_index, generator, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path))
    assert [name for name, _ in playground_columns(kb_index, generator)] == ["closed-book", "RAG",
                                                                             "reading adapter + RAG"]
    assert [name for name, _ in default_columns(kb_index, generator, reader="plain")] == ["closed-book", "RAG"]
    from labkit.adapters import save_adapter
    from labkit.data import load_qa
    from labkit.finetune import TrainConfig, build_examples, train
    from labkit.rows import ADAPTERS

    result = train(generator, build_examples(generator, load_qa(1), fact_statements=0),
                   TrainConfig(num_steps=1, batch_size=1, rank=1), progress=False)
    save_adapter(result, ADAPTERS["fine-tuned"])
    assert [name for name, _ in playground_columns(kb_index, generator)] == ["closed-book", "RAG",
                                                                             "reading adapter + RAG", "fine-tuned",
                                                                             "fine-tuned + RAG"]


# ---------------------------------------------------------------- decision guide


def test_decision_guide_follows_the_answers():
    def stat(x):
        return {"mean": x, "spread": 0.0}

    results = {"scoreboard": {"closed-book": {"accuracy": stat(0.06), "untaught_acc": stat(0.05)},
                              "RAG": {"accuracy": stat(0.69), "untaught_acc": stat(0.66),
                                      "cited_gold_by_model": stat(0.8)},
                              "fine-tuned": {"accuracy": stat(0.95), "untaught_acc": stat(0.04),
                                             "train_s": stat(90.0)}},
               "behaviour": {"zero_shot": {"format_compliance": 0.12, "label_accuracy": 0.25},
                             "few_shot": {"format_compliance": 0.71, "label_accuracy": 0.46},
                             "lora": {"format_compliance": 0.97, "label_accuracy": 0.58, "train_s": 120.0}}}
    ui = DecisionGuide(results, {"change": "never"})
    assert "Recommended: RAG" in ui.result.value and "0.69" in ui.result.value
    ui.traceability.value = "nice to have"  # the fine-tune cites nothing; now it competes
    ui.questions.value = "all"  # every question known in advance: only the taught column counts
    assert "Recommended: fine-tuning" in ui.result.value and ui.answers()["questions"] == "all"
    ui.questions.value = "few"  # most questions unanticipated: the fine-tune's 0.04 on them decides
    assert "Recommended: RAG" in ui.result.value and "0.66" in ui.result.value
    ui.need.value = "behaviour"
    assert "Recommended: fine-tuning" in ui.result.value and "0.97" in ui.result.value
    assert ui.answers()["need"] == "behaviour"
    ui.compute.value = "no training"
    assert ui.update().choice == "RAG" and "retrieved examples" in ui.result.value


# ---------------------------------------------------------------- where widgets cannot render


def test_every_ui_carries_a_readable_text_beside_the_widget(kb_index):
    results = {"scoreboard": {"RAG": {"accuracy": {"mean": 0.69, "spread": 0.0},
                                      "untaught_acc": {"mean": 0.66, "spread": 0.0},
                                      "cited_gold_by_model": {"mean": 0.8, "spread": 0.0}}}}
    uis = {"Retrieval inspector": RetrievalInspector(kb_index, question="Who is the chief executive of Tindlewick?"),
           "Query playground": QueryPlayground([("closed-book", lambda q: "x")], "Who?"),
           "Forgetting lab": ForgettingLab(setup=LabSetup(num_questions=4, num_probe=4)),
           "Decision guide": DecisionGuide(results, {"change": "never"})}
    for name, ui in uis.items():
        bundle = ui._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle  # JupyterLab renders the widget
        text = bundle["text/plain"]  # nbconvert, or a front-end without a widget manager, shows this instead
        assert text.startswith(name) and "VBox(" not in text
    assert "1. " in uis["Retrieval inspector"].text() and "Recommended: RAG" in uis["Decision guide"].text()
