"""Widgets: the retrieval inspector and the query playground, each over a plain function.

- `inspect_retrieval(index, question, top_k)` -> rows (rank, score, chunk, document,
  text with the question's words highlighted); `retrieval_inspector(index)` is its UI: a
  question box and a top-k slider.
- `playground_answers(question, columns)` -> one answer per column, where `columns` is a
  list of (name, answer_fn); `query_playground(columns)` shows them side by side. The
  RAG track passes closed-book and RAG (`default_columns`); the fine-tuning track appends
  its own columns to the list.

Widgets are explicit ipywidgets with `observe` / `on_click` and an `Output` that shows
callback errors. What it leaves out: styling beyond inline HTML, and any logic that is not
in the plain functions (tests call those without a browser).
"""

from __future__ import annotations

import html
import re
import time

_STOPWORDS = set(
    "a an and are as at be by can do does for from has have how i in is it of on or the to was what when where which who why "
    "will with you your my me many much there this that these those if into any get".split()
)


def question_terms(question: str) -> set[str]:
    """The content words of a question, lower-cased. Example: question_terms("What is the price of the kettle?") -> {"price", "kettle"}."""
    return {w for w in re.findall(r"[\w$£€.-]+", question.lower()) if w.strip(".-") and w.strip(".-") not in _STOPWORDS}


def highlight(text: str, question: str) -> str:
    """HTML of a text with the question's content words wrapped in <mark>. Example: highlight("It costs $89", "what does it cost? $89") -> "It costs <mark>$89</mark>"."""
    terms = {t.strip(".-") for t in question_terms(question)}
    out = []
    for token in re.split(r"(\s+)", text):
        core = token.strip(".,;:!?()[]\"'*").lower()
        # match "kettle" with "kettles" too: a shared stem of 5+ letters is enough for a learner to see
        hit = core and (core in terms or any(len(t) >= 5 and (core.startswith(t) or t.startswith(core)) and len(core) >= 5 for t in terms))
        out.append(f"<mark>{html.escape(token)}</mark>" if hit else html.escape(token))
    return "".join(out)


def inspect_retrieval(index, question: str, top_k: int = 3) -> list[dict]:
    """The top_k chunks for a question, as rows a table can show.

    Example: inspect_retrieval(index, "How long is the return window?", 1)[0]["doc_id"] -> "policy-returns"
    Each row: rank, score, chunk_id, doc_id, heading, text, html (text with matching words marked).
    """
    return [
        {"rank": h.rank, "score": round(h.score, 4), "chunk_id": h.chunk.id, "doc_id": h.chunk.doc_id, "heading": h.chunk.heading,
         "text": h.chunk.text, "html": highlight(h.chunk.text, question)}
        for h in index.search(question, top_k)
    ]


def retrieval_html(rows: list[dict]) -> str:
    """An HTML table of inspect_retrieval rows. Example: retrieval_html(rows).startswith("<table") -> True."""
    head = "<tr><th>#</th><th>score</th><th>chunk</th><th>text</th></tr>"
    body = "".join(
        f"<tr><td>{r['rank']}</td><td>{r['score']:.3f}</td><td><b>{html.escape(r['doc_id'])}</b><br><small>{html.escape(r['chunk_id'])}"
        f"<br>{html.escape(r['heading'])}</small></td><td style='text-align:left'>{r['html']}</td></tr>"
        for r in rows
    )
    return f"<table style='border-collapse:collapse' border='1' cellpadding='4'>{head}{body}</table>"


def retrieval_inspector(index, top_k: int = 3, question: str = ""):
    """A question box and a top-k slider over inspect_retrieval; returns the VBox.

    Example: ui = retrieval_inspector(index); ui.question.value = "Who is the CEO?"; "company-leadership" in ui.results.value -> True
    The box exposes .question, .top_k, .results (HTML), .out (errors) and .refresh().
    """
    import ipywidgets as w

    box_question = w.Text(value=question, placeholder="Ask something about the documents", description="Question", continuous_update=False,
                          layout=w.Layout(width="80%"))
    slider = w.IntSlider(value=top_k, min=1, max=10, description="top_k")
    results = w.HTML()
    out = w.Output()

    def refresh(_change=None):
        out.clear_output()
        if not box_question.value.strip():
            results.value = "<i>Type a question and press Enter.</i>"
            return
        try:
            results.value = retrieval_html(inspect_retrieval(index, box_question.value, slider.value))
        except Exception as exc:  # show, do not swallow: a learner must see what went wrong
            results.value = ""
            with out:
                print(f"Error: {exc}")

    box_question.observe(refresh, names="value")
    slider.observe(refresh, names="value")
    ui = w.VBox([box_question, slider, results, out])
    ui.question, ui.top_k, ui.results, ui.out, ui.refresh = box_question, slider, results, out, refresh
    refresh()
    return ui


# ---------------------------------------------------------------- playground


def _as_row(name: str, result, seconds: float) -> dict:
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    if isinstance(result, dict):
        sources = [{"number": s["number"], "chunk_id": s["chunk_id"], "score": round(s["score"], 3)} for s in result.get("sources", [])]
        return {"name": name, "answer": str(result.get("answer", "")), "sources": sources, "seconds": round(seconds, 3), "error": None}
    return {"name": name, "answer": str(result), "sources": [], "seconds": round(seconds, 3), "error": None}


def playground_answers(question: str, columns: list, progress=None) -> list[dict]:
    """One answer per column for the same question. Example: playground_answers("Price of the kettle?", [("closed-book", fn)])[0]["answer"].

    `columns` is a list of (name, answer_fn); answer_fn returns a string, a dict with
    "answer" (and maybe "sources"), or a RAGAnswer. A column that fails gets its error in
    its row, so the other columns still answer. `progress(i)` is called after each column.
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError("The question is empty: type a question (a few words) and try again.")
    rows = []
    for i, (name, answer_fn) in enumerate(columns):
        start = time.perf_counter()
        try:
            rows.append(_as_row(name, answer_fn(question), time.perf_counter() - start))
        except Exception as exc:
            rows.append({"name": name, "answer": "", "sources": [], "seconds": round(time.perf_counter() - start, 3), "error": f"{type(exc).__name__}: {exc}"})
        if progress:
            progress(i + 1)
    return rows


def playground_html(rows: list[dict]) -> str:
    """Answers side by side as HTML columns. Example: playground_html([{"name": "RAG", "answer": "$89 [1]", ...}])."""
    cells = []
    for r in rows:
        body = f"<p style='color:#b00'>{html.escape(r['error'])}</p>" if r.get("error") else f"<p>{html.escape(r['answer'])}</p>"
        if r.get("sources"):
            body += "<small>" + "<br>".join(f"[{s['number']}] {html.escape(s['chunk_id'])} ({s['score']:.2f})" for s in r["sources"]) + "</small>"
        cells.append(
            f"<div style='flex:1;border:1px solid #ccc;padding:6px;margin:2px'><b>{html.escape(r['name'])}</b>"
            f" <small>{r['seconds']:.2f} s</small>{body}</div>"
        )
    return f"<div style='display:flex'>{''.join(cells)}</div>"


def default_columns(index, gen, top_k: int = 3) -> list:
    """The RAG track's columns: closed-book and RAG. Example: default_columns(index, gen)[1][0] -> "RAG"."""
    from labkit.rag import RAG, closed_book

    return [("closed-book", closed_book(gen)), ("RAG", RAG(index, gen, top_k=top_k).answer)]


def query_playground(columns: list, question: str = ""):
    """One question, one answer per column side by side (closed-book, RAG, and later fine-tuned).

    Example: ui = query_playground(default_columns(index, gen)); ui.question.value = "Who is the CEO?"; ui.ask.click()
    The box exposes .question, .ask (button), .answers (HTML), .progress, .out and .run().
    """
    import ipywidgets as w

    box_question = w.Text(value=question, placeholder="Ask a question", description="Question", layout=w.Layout(width="80%"))
    button = w.Button(description="Ask", button_style="primary")
    bar = w.IntProgress(value=0, min=0, max=max(1, len(columns)), description="answering", layout=w.Layout(visibility="hidden"))
    answers = w.HTML()
    out = w.Output()

    def run(_button=None):
        out.clear_output()
        button.disabled = True  # generation takes seconds: no double clicks
        bar.value, bar.layout.visibility = 0, "visible"
        try:
            rows = playground_answers(box_question.value, columns, progress=lambda i: setattr(bar, "value", i))
            answers.value = playground_html(rows)
        except Exception as exc:
            with out:
                print(f"Error: {exc}")
        finally:
            button.disabled = False
            bar.layout.visibility = "hidden"

    button.on_click(run)
    ui = w.VBox([w.HBox([box_question, button]), bar, answers, out])
    ui.question, ui.ask, ui.answers, ui.progress, ui.out, ui.run = box_question, button, answers, bar, out, run
    return ui
