"""Findings: what a run's numbers say, in sentences computed from them (never fixed text), and one cell's format.

What it holds:
- `fmt`: one mean [interval] ± spread cell, as every table of the kit shows it (`fmt_n` with its n, `diff_cell` a
  paired difference against RAG);
- `versus`: one row against RAG on one column (taught or untaught questions), in the kit's words:
  a paired difference whose 95% interval includes zero is "no measurable difference";
- `meaning`: one bullet per finding (knowledge on each column, where wrong answers come from, freshness,
  forgetting, behaviour, behaviour + facts), each naming its column and its n; `coverage_findings`
  (the untaught column), `gap_findings` (retrieval's and reading's share of the gap to 1.0) and
  `behaviour_facts_findings` are bullets of it. A finding of the literature that does not hold on
  this run is said so.

What it leaves out: the tables and charts (`labkit.report`), the README's blocks (`labkit.readme`), the
claims table (`labkit.claims`).

Example: meaning(load_shipped())[0] -> "- Knowledge, on the questions the fine-tunes were taught ..."
"""

from __future__ import annotations

from labkit.behaviour_facts import BEHAVIOUR_FACTS_APPROACHES
from labkit.keys import DIAGNOSTIC, After, Approach
from labkit.perfect_retriever import gap_split
from labkit.stats import intervals_overlap, rate_text, wilson_interval


def fmt(stat, metric: str = "") -> str:
    """A cell: mean, its 95% interval if it is a rate, ± the spread over seeds if there are several.

    Example: fmt({"mean": 0.625, "spread": 0.05})
        -> "0.62 ± 0.05"; fmt({"mean": 0.27, "spread": 0.0, "n": 59, "lo": 0.17, "hi": 0.40})
    -> "0.27 [0.17, 0.40]"; fmt(None) -> "n/a"
    """
    if stat is None:
        return "n/a"
    mean, spread = stat["mean"], stat["spread"]
    if "lo" in stat:
        return f"{mean:.2f} [{stat['lo']:.2f}, {stat['hi']:.2f}]" + (f" ± {spread:.2f}" if spread else "")
    if metric.endswith("_bytes"):
        return f"{mean / 1e6:.2f} MB" if mean else "0"
    if metric == "prompt_tokens":
        return f"{mean:.0f}" + (f" ± {spread:.0f}" if spread else "")
    digits = 1 if metric.endswith("_s") and mean >= 10 else 2
    return f"{mean:.{digits}f}" + (f" ± {spread:.{digits}f}" if spread else "")


def fmt_n(stat) -> str:
    """A cell with its n where the figure carries one: `fmt`, then "(n=...)".

    Example: fmt_n({"mean": 0.25, "spread": 0.0, "n": 8, "lo": 0.07, "hi": 0.59}) -> "0.25 [0.07, 0.59] (n=8)"
    """
    return fmt(stat) + (f" (n={stat['n']})" if stat and stat.get("n") else "")


def diff_cell(d) -> str:
    """A paired difference against RAG with its 95% interval, "none measurable" when the interval includes zero.

    Example: diff_cell({"diff": 0.08, "lo": -0.03, "hi": 0.19, "measurable": False})
        -> "+0.08 [-0.03, +0.19], none measurable"; diff_cell(None) -> "—"
    """
    return "—" if d is None else (f"{d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}]"
                                  + ("" if d["measurable"] else ", none measurable"))


# column -> the results key of its paired differences vs RAG
DIFFERENCES = {"taught": "differences", "untaught": "untaught_differences"}
ACCURACY = {"taught": "accuracy", "untaught": "untaught_acc"}  # column -> the scoreboard metric


def versus(results: dict, approach: str, against: str = Approach.RAG, column: str = "taught") -> str:
    """How an approach's accuracy on one column (taught or untaught questions) compares with another's, in the kit's
    words: a difference whose 95% interval includes zero is "no measurable difference".

    Example: versus(results, "fine-tuned") -> "ahead of RAG by 0.19 ([+0.03, +0.34] over 59 questions)"
    """
    d = (results.get(DIFFERENCES[column]) or {}).get(approach) if against == Approach.RAG else None
    if d is None:
        board = results["scoreboard"]
        a, b = ((board[x].get(ACCURACY[column]) or {}).get("mean") for x in (approach, against))
        if a is None or b is None:
            return f"not compared with {against} on this column"
        return f"{'behind' if a < b else 'ahead of'} {against} (no paired interval in this record)"
    if not d["measurable"]:
        return (f"no measurable difference from {against} ({d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}] over "
                f"{d['n']} questions)")
    word = "ahead of" if d["diff"] > 0 else "behind"
    return f"{word} {against} by {abs(d['diff']):.2f} ([{d['lo']:+.2f}, {d['hi']:+.2f}] over {d['n']} questions)"


def rate_cell(scores: dict, key: str) -> str:
    """One rate of a record that carries its own n, with its 95% interval.

    Example: rate_cell({"fact_accuracy": 0.5, "n": 24}, "fact_accuracy") -> "0.50 [0.31, 0.69]"
    """
    return rate_text(scores[key], scores["n"], show_n=False)


def _best(result: dict, when: str, key: str) -> str:
    """Which approaches lead on one figure: the top one and every one whose 95% interval overlaps it (no measurable
    difference between them), and the ones measurably behind."""
    scores = {a: result[when][a] for a in BEHAVIOUR_FACTS_APPROACHES}
    ci = {a: wilson_interval(scores[a][key], scores[a]["n"]) for a in scores}
    top = max(scores, key=lambda a: scores[a][key])
    leaders = [a for a in scores if a == top or intervals_overlap(ci[a], ci[top])]
    behind = [a for a in scores if a not in leaders]
    lead = top if len(leaders) == 1 else f"{' and '.join(leaders)} (no measurable difference between them)"
    return lead + (f", measurably ahead of {' and '.join(behind)}" if behind else ", none measurably behind")


def behaviour_facts_findings(result: dict) -> str:
    """One bullet of what behaviour + facts measured, every figure from the result.

    Example: behaviour_facts_findings(h)
        -> "- Behaviour + facts (24 support messages asking a product fact): format compliance ..."
    """
    b, a = result["before"], result["after"]
    return (f"- Behaviour + facts ({result['num_messages']} support messages asking a product fact, reply in the "
            "triage format): "
            + "; ".join(f"{x} format {rate_cell(b[x], 'format_compliance')}, fact {rate_cell(b[x], 'fact_accuracy')}, "
                        f"after the update {rate_cell(a[x], 'fact_accuracy')} (n={a[x]['n']})"
                        for x in BEHAVIOUR_FACTS_APPROACHES)
            + f". Format: {_best(result, 'before', 'format_compliance')}. Facts: "
            f"{_best(result, 'before', 'fact_accuracy')}; after the "
            f"update: {_best(result, 'after', 'fact_accuracy')}.")


def questions_asked(results: dict) -> str:
    """How many questions a run asked, by column.

    Example: questions_asked(load_shipped()) -> "120 taught and 75 untaught questions"
    """
    coverage = results.get("coverage")
    if coverage:
        return f"{coverage['taught']} taught and {coverage['untaught']} untaught questions"
    return f"{results['seeds'][0]['n_questions']} questions"


def meaning(results: dict) -> list[str]:
    """What the numbers say, one bullet a finding, each sentence computed from the results (never fixed text).

    Example: meaning(results)[0]
        -> "- Knowledge: RAG answers 0.27 of the held-out paraphrases against 0.02 closed-book. ..."
    """
    board, fr = results["scoreboard"], results.get("freshness")

    def m(a, k):
        return (board.get(a, {}).get(k) or {}).get("mean")

    lines = []
    if m(Approach.RAG, "accuracy") is not None and m(Approach.CLOSED_BOOK, "accuracy") is not None:
        line = (f"- Knowledge, on the questions the fine-tunes were taught (their held-out paraphrases): RAG answers "
                f"{m(Approach.RAG, 'accuracy'):.2f} against {m(Approach.CLOSED_BOOK, 'accuracy'):.2f} closed-book.")
        if m(Approach.FINE_TUNED, "accuracy") is not None:
            line += (f" Fine-tuned on the same questions (training wording plus fact statements) the model answers "
                     f"{m(Approach.FINE_TUNED, 'accuracy'):.2f}, {versus(results, Approach.FINE_TUNED)}.")
        if m(Approach.FINE_TUNED_DOCS, "accuracy") is not None:
            verdict = versus(results, Approach.FINE_TUNED_DOCS)
            line += (" Fine-tuned on the documents' raw text alone (Ovadia et al.'s unsupervised fine-tuning) it "
                     "answers "
                     f"{m(Approach.FINE_TUNED_DOCS, 'accuracy'):.2f}, {verdict}"
                     + (": as Ovadia et al. found, reading a fact in training is not learning to answer it."
                        if verdict.startswith("behind")
                        else ": Ovadia et al.'s finding is not confirmed on this run."
                        if verdict.startswith("no measurable")
                        else ": Ovadia et al.'s finding does not hold on this run."))
        lines.append(line)
    untaught = coverage_findings(results)
    if untaught:
        lines.append(untaught)
    gap = gap_findings(results)
    if gap:
        lines.append(gap)
    if m(Approach.RAFT_RAG, "accuracy") is not None and m(Approach.RAG, "accuracy") is not None:
        lines.append(f"- The retrieval-aware fine-tune answers {m(Approach.RAFT_RAG, 'accuracy'):.2f}, "
                     f"{versus(results, Approach.RAFT_RAG)} "
                     f"(RAG: {m(Approach.RAG, 'accuracy'):.2f}).")
    if m(Approach.READER_RAG, "accuracy") is not None and m(Approach.RAG, "accuracy") is not None:
        lines.append("- The reading adapter (a small LoRA shipped in data/reader, trained once to read numbered "
                     "sources on the "
                     "questions of the trained two thirds of the documents) answers "
                     f"{m(Approach.READER_RAG, 'accuracy'):.2f} of the taught "
                     f"questions from the same sources, {versus(results, Approach.READER_RAG)} "
                     f"(RAG: {m(Approach.RAG, 'accuracy'):.2f}); it never "
                     "saw these paraphrases, but did see the training wordings of those questions.")
    multi = {a: row["multi_acc"] for a, row in board.items() if row.get("multi_acc")}
    if multi:
        best = max(multi, key=lambda a: multi[a]["mean"])
        spread_ = [a for a in multi if a != best
                   and intervals_overlap((multi[a]["lo"], multi[a]["hi"]), (multi[best]["lo"], multi[best]["hi"]))]
        lines.append(f"- Reasoning across documents, on the {multi[best]['n']} answers to questions that need two "
                     "documents: "
                     + "; ".join(f"{a} {fmt(multi[a])}" for a in multi) + f". The best is {best}"
                     + (f", with no measurable difference from {', '.join(spread_)} (too few such questions to "
                        "separate them)." if spread_
                        else ", measurably ahead of every other row."))
    if fr:
        line = (f"- Freshness, over {fr[After.RAG]['new'].get('n', '?')} answers about changed facts: after the index "
                "update "
                f"({fr['update_s']['mean']:.2f} s) RAG gives the new value in {fmt(fr[After.RAG]['new'])} of answers; "
                f"the fine-tuned model as it is in {fmt(fr[After.STALE]['new'])}, and "
                f"{fmt(fr[After.RETRAINED]['new'])} after {fr['retrain_s']['mean']:.0f} s of "
                + ("further training of its adapter on the changed facts (plus as many unchanged ones), which moved "
                   "the unchanged "
                   f"facts from {fmt(fr['kept_acc_before'])} to {fmt(fr['kept_acc_after'])}"
                   if fr.get("kept_acc_before") else "retraining"))
        if After.READER_RAG in fr:
            line += f"; the reading adapter, reading the updated index, in {fmt(fr[After.READER_RAG]['new'])}"
        if After.RAFT_RAG in fr:
            line += ("; the retrieval-aware fine-tune reads the updated index and gives it in "
                     f"{fmt(fr[After.RAFT_RAG]['new'])}")
        lines.append(line + ".")
    if m(Approach.FINE_TUNED, "general_acc") is not None and m(Approach.CLOSED_BOOK, "general_acc") is not None:
        before, after = board[Approach.CLOSED_BOOK]["general_acc"], board[Approach.FINE_TUNED]["general_acc"]
        overlap = "lo" in before and "lo" in after and intervals_overlap((before["lo"], before["hi"]),
                                                                         (after["lo"], after["hi"]))
        lines.append(f"- Forgetting: the general probe goes from {fmt(before)} to {fmt(after)} after fine-tuning"
                     + (" (the intervals overlap: no measurable difference on this probe)" if overlap else "")
                     + "; RAG leaves the model's weights untouched.")
    b = results.get("behaviour")
    if b:
        n = b["num_test"]
        lo_l, few_l = wilson_interval(b["lora"]["label_accuracy"], n), wilson_interval(b["few_shot"]["label_accuracy"],
                                                                                       n)
        labels = ("no measurable difference in label accuracy between LoRA and retrieved examples"
                  if intervals_overlap(lo_l, few_l)
                  else "LoRA labels measurably more messages right" if b["lora"]["label_accuracy"]
                  > b["few_shot"]["label_accuracy"]
                  else "retrieved examples label measurably more messages right than LoRA")
        lines.append(f"- Behaviour (triage, {n} test messages): format compliance "
                     f"{rate_text(b['zero_shot']['format_compliance'], n)} zero-shot, "
                     f"{rate_text(b['few_shot']['format_compliance'], n)} with retrieved examples, "
                     f"{rate_text(b['lora']['format_compliance'], n)} after LoRA; "
                     f"label accuracy {rate_text(b['zero_shot']['label_accuracy'], n)} / "
                     f"{rate_text(b['few_shot']['label_accuracy'], n)} / "
                     f"{rate_text(b['lora']['label_accuracy'], n)}: {labels}, from a "
                     f"{b['lora']['prompt_tokens']:.0f}-token prompt instead of "
                     f"{b['few_shot']['prompt_tokens']:.0f}.")
        if b.get("behaviour_facts"):
            lines.append(behaviour_facts_findings(b["behaviour_facts"]))
    return lines


def coverage_findings(results: dict) -> str | None:
    """The untaught column in words: each row's accuracy on questions nobody trained for, against the taught column.

    Example: coverage_findings(results)
        -> "- Questions nobody trained for (75 answers, touching the unseen documents): ..."
    """
    board = results["scoreboard"]
    rows = [a for a, row in board.items() if row.get("untaught_acc") and row.get("accuracy") and a not in DIAGNOSTIC]
    if not rows:
        return None
    n = board[rows[0]]["untaught_acc"].get("n", "?")
    parts = [f"{a} {fmt(board[a]['untaught_acc'])} (taught: {fmt(board[a]['accuracy'])})" for a in rows]
    trained = [a for a in rows if a in (Approach.FINE_TUNED, Approach.FINE_TUNED_RAG, Approach.RAFT_RAG)]
    verdicts = [f"{a} {versus(results, a, column='untaught')}" for a in trained if a != Approach.RAG]
    return (f"- Questions nobody trained for ({n} answers, every question touching one of the unseen documents, of "
            "which no "
            f"training set of any row shows a word): " + "; ".join(parts) + "."
            + (" Against RAG on these: " + "; ".join(verdicts) + "." if verdicts else "")
            + " A fine-tuned row's lead on the taught column is a lead on the questions the team anticipated.")


def gap_findings(results: dict) -> str | None:
    """How much of each reading row's gap to 1.0 is retrieval's and how much is reading's (the perfect-retriever rows).

    Example: gap_findings(results) -> "- Where RAG's wrong answers come from (taught column): of its gap to 1.0 ..."
    """
    board, lines = results["scoreboard"], []
    for row_name, perfect in ((Approach.RAG, Approach.RAG_PERFECT), (Approach.READER_RAG, Approach.READER_PERFECT)):
        if (board.get(row_name) or {}).get("accuracy") and (board.get(perfect) or {}).get("accuracy"):
            split = gap_split(board[row_name]["accuracy"]["mean"], board[perfect]["accuracy"]["mean"])
            lines.append(f"{row_name} {fmt(board[row_name]['accuracy'])}, with a gold chunk always among its sources "
                         f"{fmt(board[perfect]['accuracy'])}: of its gap to 1.0 ({split['gap']:.2f}), "
                         f"{split['retrieval']:.2f} is "
                         f"retrieval's and {split['reading']:.2f} reading's")
    if not lines:
        return None
    return (
        "- Where the wrong answers come from (taught questions; the perfect retriever puts a gold chunk among the "
        "sources): "
        + "; ".join(lines)
        + "."
    )
