"""Widgets: the kit's ipywidgets UIs, one small class each, over plain functions a test can call.

The idiom, the same for every UI: a class whose `.widget` is the box to display (a cell can
also end with the object itself), whose child widgets are attributes, and whose buttons and
observers call a plain method (`refresh`, `run`, `train`, `update`, ...) that a test calls
without a browser. Widgets are explicit, wired with `observe` / `on_click`, and every
callback error is shown in an `Output` widget (`out`), never swallowed. Long work disables
its button and shows progress.

- `RetrievalInspector(index)`: a question box and a top_k slider over `inspect_retrieval`
  (the top chunks with the question's words highlighted).
- `QueryPlayground(columns)`: one question, one answer per column side by side
  (`playground_answers`); `default_columns` gives closed-book and RAG, `playground_columns`
  adds the fine-tuned ones from the adapters `labkit.compare` saved.
- `DecisionGuide(results)`: the learner's answers -> `choose.recommend` (`guide_html`).

What it leaves out: the forgetting lab (`labkit.forgetting_lab`, built on `_UI` here), styling
beyond inline HTML, and any logic that is not in the plain functions or in the modules they call.
"""

from __future__ import annotations

import html
import re
import time

from labkit.adapters import list_adapters, load_adapter
from labkit.candidates import CHANGE, COMPUTE, NEED, QUESTIONS, TRACEABILITY, check_answers
from labkit.choose import Recommendation, recommend
from labkit.citations import supporting_quote
from labkit.keys import Approach
from labkit.question_check import check_question
from labkit.rag import RAG, RAGAnswer, closed_book, is_empty_answer
from labkit.reader import reader_for
from labkit.rows import ADAPTERS


class _UI:
    """What every UI shares (the forgetting lab's too): `.widget` is the box; displaying the object displays it."""

    widget = None

    def _repr_mimebundle_(self, **kwargs):
        """The widget for front-ends that render widgets, and readable text for those that cannot (nbconvert, a
        VS Code whose widget manager is broken), instead of "VBox(children=...)"."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.text()
        return bundle

    def text(self) -> str:
        """What the UI shows, as plain text. Example: print(DecisionGuide(results).text())."""
        return type(self).__name__

    def _show_error(self, exc: Exception) -> None:
        """Put a callback's error where the learner sees it (an Output records it even outside a kernel)."""
        self.out.append_stdout(f"Error: {exc}\n")


# ---------------------------------------------------------------- retrieval inspector


_STOPWORDS = set(
    "a an and are as at be by can do does for from has have how i in is it of on or the to was what when where which "
    "who why "
    "will with you your my me many much there this that these those if into any get".split()
)


def question_terms(question: str) -> set[str]:
    """The content words of a question, lower-cased.
    Example: question_terms("What is the price of the kettle?") -> {"price", "kettle"}."""
    return {w for w in re.findall(r"[\w$£€.-]+", question.lower()) if w.strip(".-") and w.strip(".-") not in _STOPWORDS}


def highlight(text: str, question: str) -> str:
    """HTML of a text with the question's content words wrapped in <mark>.
    Example: highlight("It costs $89", "what does it cost? $89") -> "It costs <mark>$89</mark>"."""
    terms = {t.strip(".-") for t in question_terms(question)}
    out = []
    for token in re.split(r"(\s+)", text):
        core = token.strip(".,;:!?()[]\"'*").lower()
        # match "kettle" with "kettles" too: a shared stem of 5+ letters is enough for a learner to see
        hit = core and (core in terms
                        or any(len(t) >= 5 and (core.startswith(t) or t.startswith(core)) and len(core) >= 5 for t
                               in terms))
        out.append(f"<mark>{html.escape(token)}</mark>" if hit else html.escape(token))
    return "".join(out)


def inspect_retrieval(index, question: str, top_k: int = 3) -> list[dict]:
    """The top_k chunks for a question, as rows a table can show.

    Example: inspect_retrieval(index, "How long is the return window?", 1)[0]["doc_id"] -> "policy-returns"
    Each row: rank, score, chunk_id, doc_id, heading, text, html (text with matching words marked).
    """
    return [
        {"rank": h.rank, "score": round(h.score, 4), "chunk_id": h.chunk.id, "doc_id": h.chunk.doc_id,
         "heading": h.chunk.heading, "text": h.chunk.text, "html": highlight(h.chunk.text, question)}
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


class RetrievalInspector(_UI):
    """A question box and a top_k slider over inspect_retrieval.

    Example: ui = RetrievalInspector(index); ui.question.value = "Who is the CEO?"; "company-leadership" in
        ui.results.value -> True
    """

    def __init__(self, index, top_k: int = 3, question: str = ""):
        import ipywidgets as w

        self.index = index
        self.question = w.Text(value=question, placeholder="Ask something about the documents", description="Question",
                               continuous_update=False, layout=w.Layout(width="80%"))
        self.top_k = w.IntSlider(value=top_k, min=1, max=10, description="top_k")
        self.results = w.HTML()
        self.out = w.Output()
        self.question.observe(self.refresh, names="value")
        self.top_k.observe(self.refresh, names="value")
        self.widget = w.VBox([self.question, self.top_k, self.results, self.out])
        self.refresh()

    def text(self) -> str:
        if not self.question.value.strip():
            return "Retrieval inspector: set .question.value to a question (widgets do not render here)."
        rows = inspect_retrieval(self.index, self.question.value, self.top_k.value)
        return "\n".join([f"Retrieval inspector: {self.question.value!r}, top_k {self.top_k.value}"]
                         + [f"  {r['rank']}. {r['doc_id']} ({r['score']:.2f}): {r['text'][:80]}" for r in rows])

    def refresh(self, _change=None) -> None:
        """Search again and redraw the table (what typing a question or moving the slider does)."""
        self.out.clear_output()
        if not self.question.value.strip():
            self.results.value = "<i>Type a question and press Enter.</i>"
            return
        try:
            self.results.value = retrieval_html(inspect_retrieval(self.index, self.question.value, self.top_k.value))
        except Exception as exc:  # show, do not swallow: a learner must see what went wrong
            self.results.value = ""
            self._show_error(exc)


# ---------------------------------------------------------------- query playground


def _as_row(name: str, result, seconds: float) -> dict:
    quote = None
    # an answer with no content gets its best supporting sentence beside it (shown, not scored)
    if isinstance(result, RAGAnswer):
        quote = supporting_quote(result) if is_empty_answer(result.answer, result.question) else None
        result = result.to_dict()
    if isinstance(result, dict):
        sources = [{"number": s["number"], "chunk_id": s["chunk_id"], "score": round(s["score"], 3)} for s
                   in result.get("sources", [])]
        return {"name": name, "answer": str(result.get("answer", "")), "sources": sources, "seconds": round(seconds, 3),
                "error": None, "cited_by": result.get("cited_by", "model"), "quote": quote}
    return {"name": name, "answer": str(result), "sources": [], "seconds": round(seconds, 3), "error": None}


def playground_answers(question: str, columns: list, progress=None) -> list[dict]:
    """One answer per column for the same question.
    Example: playground_answers("Price of the kettle?", [("closed-book", fn)])[0]["answer"].

    `columns` is a list of (name, answer_fn); answer_fn returns a string, a dict with
    "answer" (and maybe "sources"), or a RAGAnswer. A column that fails gets its error in
    its row, so the other columns still answer. `progress(i)` is called after each column.
    """
    question = check_question(question)
    rows = []
    for i, (name, answer_fn) in enumerate(columns):
        start = time.perf_counter()
        try:
            rows.append(_as_row(name, answer_fn(question), time.perf_counter() - start))
        except Exception as exc:
            rows.append({"name": name, "answer": "", "sources": [], "seconds": round(time.perf_counter() - start, 3),
                         "error": f"{type(exc).__name__}: {exc}"})
        if progress:
            progress(i + 1)
    return rows


def playground_html(rows: list[dict]) -> str:
    """Answers side by side as HTML columns. Example: playground_html([{"name": "RAG", "answer": "$89 [1]", ...}])."""
    cells = []
    for r in rows:
        body = f"<p style='color:#b00'>{html.escape(r['error'])}</p>" if r.get(
            "error") else f"<p>{html.escape(r['answer'])}</p>"
        if r.get("quote"):
            body += (f"<p><small><i>no content of its own; quote from source [{r['quote']['source']}]:</i> "
                     f"&ldquo;{html.escape(r['quote']['sentence'])}&rdquo;</small></p>")
        if r.get("cited_by") == "overlap":
            body += "<p><small><i>citation added by labkit (best word overlap): the model wrote none</i></small></p>"
        if r.get("sources"):
            body += "<small>" + "<br>".join(f"[{s['number']}] {html.escape(s['chunk_id'])} ({s['score']:.2f})" for s
                                            in r["sources"]) + "</small>"
        cells.append(
            f"<div style='flex:1;border:1px solid #ccc;padding:6px;margin:2px'><b>{html.escape(r['name'])}</b>"
            f" <small>{r['seconds']:.2f} s</small>{body}</div>"
        )
    return f"<div style='display:flex'>{''.join(cells)}</div>"


def default_columns(index, gen, top_k: int = 3, reader: str = "adapter") -> list:
    """The RAG track's columns: closed-book, RAG, and RAG read by the shipped reading adapter (unless reader="plain").

    Example: [name for name, _ in default_columns(index, gen)] -> ["closed-book", "RAG", "reading adapter + RAG"]
    The adapter's column is left out, with a printed line saying why, when it does not fit `gen`.
    """
    columns = [(Approach.CLOSED_BOOK, closed_book(gen)), (Approach.RAG, RAG(index, gen, top_k=top_k).answer)]
    if reader != "plain":
        tuned, line = reader_for(gen, reader)
        if tuned is gen:
            print(line)
        else:
            columns.append((Approach.READER_RAG, RAG(index, tuned, top_k=top_k).answer))
    return columns


class QueryPlayground(_UI):
    """One question, one answer per column side by side (closed-book, RAG, and the fine-tuned ones).

    Example: ui = QueryPlayground(default_columns(index, gen)); ui.question.value = "Who is the CEO?"; ui.run(); "RAG"
        in ui.answers.value -> True
    """

    def __init__(self, columns: list, question: str = ""):
        import ipywidgets as w

        self.columns = columns
        self.question = w.Text(value=question, placeholder="Ask a question", description="Question",
                               layout=w.Layout(width="80%"))
        self.ask = w.Button(description="Ask", button_style="primary")
        self.progress = w.IntProgress(value=0, min=0, max=max(1, len(columns)), description="answering",
                                      layout=w.Layout(visibility="hidden"))
        self.answers = w.HTML()
        self.out = w.Output()
        self.ask.on_click(lambda _button: self.run())
        self.widget = w.VBox([w.HBox([self.question, self.ask]), self.progress, self.answers, self.out])

    def text(self) -> str:
        names = ", ".join(name for name, _ in self.columns)
        return (f"Query playground ({names}): question {self.question.value!r}. Widgets do not render here: "
                "call .run() and print its rows.")

    def run(self) -> list[dict] | None:
        """Answer the question in every column (what the Ask button does); returns the rows."""
        self.out.clear_output()
        self.ask.disabled = True  # generation takes seconds: no double clicks
        self.progress.value, self.progress.layout.visibility = 0, "visible"
        try:
            rows = playground_answers(self.question.value, self.columns,
                                      progress=lambda i: setattr(self.progress, "value", i))
            self.answers.value = playground_html(rows)
            return rows
        except Exception as exc:
            self._show_error(exc)
            return None
        finally:
            self.ask.disabled = False
            self.progress.layout.visibility = "hidden"


def playground_columns(index, gen, top_k: int = 3) -> list:
    """The playground's columns with the fine-tuned ones (fine-tuned, fine-tuned + RAG, RAFT + RAG), from the adapters
    the last compare run saved.

    Example: [name for name, _ in playground_columns(index, gen)]
    -> ["closed-book", "RAG", "reading adapter + RAG", "fine-tuned", "fine-tuned + RAG", "RAFT + RAG"]
    """
    columns = default_columns(index, gen, top_k)
    saved = list_adapters()
    if ADAPTERS[Approach.FINE_TUNED] in saved:
        tuned = load_adapter(ADAPTERS[Approach.FINE_TUNED], gen)
        columns += [(Approach.FINE_TUNED, closed_book(tuned)),
                    (Approach.FINE_TUNED_RAG, RAG(index, tuned, top_k=top_k).answer)]
    if ADAPTERS[Approach.RAFT_RAG] in saved:
        columns.append((Approach.RAFT_RAG,
                        RAG(index, load_adapter(ADAPTERS[Approach.RAFT_RAG], gen), top_k=top_k).answer))
    return columns


# ---------------------------------------------------------------- decision guide


def guide_html(rec: Recommendation) -> str:
    """A recommendation as HTML. Example: guide_html(recommend({}, results)).startswith("<h4>") -> True."""
    items = "".join(f"<li>{html.escape(r)}</li>" for r in rec.reasons)
    return f"<h4>{html.escape(rec.text().splitlines()[0])}</h4><ul>{items}</ul>"


class DecisionGuide(_UI):
    """The decision guide form; every change recomputes the recommendation from the measured results.

    Example: ui = DecisionGuide(results); ui.need.value = "behaviour"; ui.result.value
        -> "<h4>Recommended: fine-tuning</h4>..."
    """

    def __init__(self, results: dict, answers: dict | None = None):
        import ipywidgets as w

        self.results = results
        a = check_answers(answers or {})
        style = {"description_width": "150px"}
        self.change = w.Dropdown(options=CHANGE, value=a["change"], description="data changes", style=style)
        self.traceability = w.Dropdown(options=TRACEABILITY, value=a["traceability"], description="traceability",
                                       style=style)
        self.need = w.Dropdown(options=NEED, value=a["need"], description="need", style=style)
        self.compute = w.Dropdown(options=COMPUTE, value=a["compute"], description="compute budget", style=style)
        self.questions = w.Dropdown(options=QUESTIONS, value=a["questions"], description="questions known ahead",
                                    style=style)
        self.latency = w.FloatSlider(value=a["latency_s"], min=0.2, max=20.0, step=0.2,
                                     description="latency budget (s)", style=style)
        self.result = w.HTML()
        self.out = w.Output()
        for widget in (self.change, self.traceability, self.need, self.compute, self.questions, self.latency):
            widget.observe(self.update, names="value")
        self.widget = w.VBox([self.change, self.traceability, self.need, self.compute, self.questions, self.latency,
                              self.result, self.out])
        self.update()

    def text(self) -> str:
        return f"Decision guide, answers {self.answers()}\n" + recommend(self.answers(), self.results).text()

    def answers(self) -> dict:
        """The learner's answers as `choose.recommend` takes them. Example: guide.answers()["need"] -> "knowledge"."""
        return {"change": self.change.value, "traceability": self.traceability.value, "need": self.need.value,
                "compute": self.compute.value, "questions": self.questions.value, "latency_s": self.latency.value}

    def update(self, _change=None) -> Recommendation | None:
        """Recompute the recommendation (what every change of an answer does); returns it."""
        self.out.clear_output()
        try:
            rec = recommend(self.answers(), self.results)
            self.result.value = guide_html(rec)
            return rec
        except Exception as exc:
            self._show_error(exc)
            return None
