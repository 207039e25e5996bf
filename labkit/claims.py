"""The common guidance on RAG versus fine-tuning, tested claim by claim against a run's results.

What it holds: one function per claim (`CLAIMS`, in the order the table shows them), each taking a
results dict (`labkit compare`'s output, `data/results.json`) and returning its row: the claim, the
kit's verdict (`VERDICTS`), the figure(s) it rests on with n and interval, and the condition under
which it holds. Each claim's docstring states its one rule. `claims_table` lists the rows,
`claims_markdown` writes them as a Markdown table. The claims on seconds and tokens (latency, prompt
tokens, up-front and yearly cost) are `labkit.cost_claims`'; `CLAIMS` holds them in their place.

The kit's one "measurable" is `stats.paired_bootstrap` over the per-question matches
(results["per_question"][column][row][qid], seeds averaged): every verdict comparing two rows on a
column uses it on the questions both rows answered. Where a figure has no per-item answers in the
results (the behaviour task, the general probe, freshness in older records) a claim falls back to
whether the two 95% Wilson intervals overlap (`stats.intervals_overlap`) and its figure says so;
where a figure is measured once per row (latency, prompt tokens, seconds), a ratio under
`RATIO_MARGIN` either way is called no difference. A claim whose figures are absent says
"not measured here"; none guesses.

What it leaves out: running anything (`labkit.compare`), the arithmetic over seeds (`labkit.scoreboard`),
and where the table is printed (`labkit.report`, `labkit.readme`, notebook 07).

Example: claims_table(load_shipped())[0]["verdict"] -> "supported"
"""

from __future__ import annotations

from labkit.behaviour_facts import BEHAVIOUR_FACTS_APPROACHES
from labkit.cost_claims import cheap_up_front, costs_more_per_answer, faster_without_retrieval, pays_off_long_term
from labkit.costs import format_seconds
from labkit.data import load_qa, needs_two_documents
from labkit.keys import After, Approach
from labkit.stats import rate_text
from labkit.verdicts import (
    CONTRADICTED,
    NO_DIFFERENCE,
    SUPPORTED,
    by_bootstrap,
    by_overlap,
    claim_row,
    diff_figure,
    missing,
    paired,
    rate_figure,
    stat_of,
    with_wilson,
)

FEW_SHOT_RAG, BEHAVIOUR_LORA, BEHAVIOUR_LORA_RAG = BEHAVIOUR_FACTS_APPROACHES

# ---------------------------------------------------------------- the claims


def _updates(results: dict, claim: str, fine_tune: str, how: str) -> dict:
    fresh = results.get("freshness") or {}
    rag, ft = (fresh.get(After.RAG) or {}).get("new"), (fresh.get(fine_tune) or {}).get("new")
    if not rag or not ft:
        return missing(claim, f"{After.RAG} and {fine_tune} (freshness)")
    d = paired(results, "after_update", After.RAG, fine_tune)
    verdict, basis = (by_bootstrap(d), diff_figure("difference", d)) if d else (
        by_overlap(rag, ft),
        "basis: 95% Wilson intervals overlap or not (no per-question answers after the update in these results)")
    n_updates = (fresh.get("n_updates") or {}).get("mean")
    per = [f"{label} {format_seconds(fresh[k]['mean'])}" for k, label
           in (("update_s", "index update"), ("retrain_s", "retraining"))
           if fresh.get(k)]
    return claim_row(claim, verdict,
                     f"new value given: {rate_figure(After.RAG, rag)} vs {rate_figure(fine_tune, ft)}; {basis}",
                f"after {n_updates:.0f} fact changes, {how}" + (f"; per change: {', '.join(per)}" if per else ""))


def updates_between_retrainings(results: dict) -> dict:
    """Rule: RAG after the update gives the new value measurably more often than the fine-tune as it stood
    (After.STALE): paired bootstrap over the changed facts' questions (per_question["after_update"]), else their Wilson
    intervals apart.

    Example: updates_between_retrainings(results)["verdict"] -> "supported"
    """
    return _updates(results, "Frequent updates favour RAG: a fine-tune is stale between retrainings", After.STALE,
                    "the fine-tune not retrained (as it is between retrainings when facts change often)")


def updates_against_retraining(results: dict) -> dict:
    """Rule: RAG after the update gives the new value measurably more often than the fine-tune retrained on the changes
    (After.RETRAINED): paired bootstrap over the changed facts' questions, else their Wilson intervals apart.

    Example: updates_against_retraining(results)["verdict"] -> "no measurable difference"
    """
    return _updates(results, "Frequent updates favour RAG, even against retraining after every change", After.RETRAINED,
                    "the fine-tune retrained on the changed facts")


def wide_updates(results: dict) -> dict:
    """Rule: on the untaught column, RAG's per-question match minus the fine-tuned row's is measurably positive (paired
    bootstrap).

    Example: wide_updates(results)["verdict"] -> "supported"
    """
    claim = "Wide updates (questions nobody trained for) favour RAG"
    rag, ft = stat_of(results, Approach.RAG, "untaught_acc"), stat_of(results, Approach.FINE_TUNED, "untaught_acc")
    d = paired(results, "untaught", Approach.RAG, Approach.FINE_TUNED)
    if not rag or not ft or d is None:
        return missing(claim, "the untaught column's per-question answers of RAG and fine-tuned")
    taught = paired(results, "taught", Approach.RAG, Approach.FINE_TUNED)
    lead = (
        f"; on the taught column RAG minus fine-tuned is {taught['diff']:+.2f} [{taught['lo']:+.2f}, "
        f"{taught['hi']:+.2f}]"
        if taught
        else ""
    )
    return claim_row(claim, by_bootstrap(d),
                     f"untaught: {rate_figure(Approach.RAG, rag)} vs {rate_figure(Approach.FINE_TUNED, ft)}; "
                     f"{diff_figure('difference', d)}",
                f"untaught column: questions touching a document no fine-tune read{lead}")


def retrieval_matters(results: dict) -> dict:
    """Rule: the perfect retriever's per-question match minus RAG's (same reader, same number of sources), both columns
    pooled (neither row trains), is measurably positive (paired bootstrap).

    Example: retrieval_matters(results)["verdict"] -> "supported"
    """
    claim = "RAG's quality depends on retrieval"
    perfect, rag = stat_of(results, Approach.RAG_PERFECT, "accuracy"), stat_of(results, Approach.RAG, "accuracy")
    d = paired(results, ("taught", "untaught"), Approach.RAG_PERFECT, Approach.RAG)
    if not perfect or not rag or d is None:
        return missing(claim, f"per-question answers of {Approach.RAG_PERFECT} and {Approach.RAG}")
    miss = stat_of(results, Approach.RAG, "retrieval_miss")
    missed = f"; wrong because no gold source was retrieved: {rate_figure('RAG', miss)}" if miss and "n" in miss else ""
    return claim_row(claim, by_bootstrap(d),
                     f"taught: {rate_figure(Approach.RAG_PERFECT, perfect)} vs {rate_figure(Approach.RAG, rag)}; "
                f"{diff_figure('difference, both columns', d)}{missed}",
                f"the base model reading {(results.get('config') or {}).get('top_k', 'k')} sources; the perfect "
                "retriever puts a gold chunk among them")


def behaviour_task(results: dict) -> dict:
    """Rule: the triage LoRA's label accuracy has its 95% Wilson interval wholly above the better of zero-shot's and
    few-shot's (n = the task's test messages; no per-message answers are kept, so intervals, not the bootstrap).

    Example: behaviour_task(results)["verdict"] -> "supported"
    """
    claim = "Fine-tuning suits a fixed, specialised task and behaviour"
    b = results.get("behaviour") or {}
    n = b.get("num_test")
    rates = {k: with_wilson((b.get(k) or {}).get("label_accuracy"), n) for k in ("zero_shot", "few_shot", "lora")}
    if any(v is None for v in rates.values()):
        return missing(claim, "the behaviour task's label accuracy (zero_shot, few_shot, lora)")
    best = max(("zero_shot", "few_shot"), key=lambda k: rates[k]["mean"])
    fmt = ", ".join(f"{k} {(b[k].get('format_compliance') or 0):.2f}" for k in ("zero_shot", "few_shot", "lora"))
    return claim_row(claim, by_overlap(rates["lora"], rates[best]),
                f"label accuracy: lora {rate_text(rates['lora']['mean'], n)} vs {best} "
                f"{rate_text(rates[best]['mean'], n)}; "
                f"format compliance: {fmt} (n={n}); basis: 95% Wilson intervals (no per-message answers kept)",
                "a fixed task (triage: intent, priority, reply format) the LoRA trained on for "
                f"{b.get('num_steps', '?')} steps")


def documents_teach_no_facts(results: dict) -> dict:
    """Rule (taught column, paired bootstrap): contradicted when fine-tuned (docs) is measurably above closed-book (it
    taught facts); supported when it is not AND the fine-tune on questions is measurably above fine-tuned (docs) (so
    the test could have seen a gain); otherwise no measurable difference.

    Example: documents_teach_no_facts(results)["verdict"] -> "supported"
    """
    claim = "Fine-tuning on raw documents does not teach facts"
    docs, closed = stat_of(results, Approach.FINE_TUNED_DOCS, "accuracy"), stat_of(results, Approach.CLOSED_BOOK,
                                                                                   "accuracy")
    gain = paired(results, "taught", Approach.FINE_TUNED_DOCS, Approach.CLOSED_BOOK)
    power = paired(results, "taught", Approach.FINE_TUNED, Approach.FINE_TUNED_DOCS)
    if not docs or not closed or gain is None or power is None:
        return missing(claim,
                       "the taught column's per-question answers of fine-tuned (docs), closed-book and fine-tuned")
    if by_bootstrap(gain) == SUPPORTED:
        verdict = CONTRADICTED
    else:
        verdict = SUPPORTED if by_bootstrap(gain) != CONTRADICTED and by_bootstrap(
            power) == SUPPORTED else NO_DIFFERENCE
    return claim_row(claim, verdict,
                     f"taught: {rate_figure(Approach.FINE_TUNED_DOCS, docs)} vs "
                     f"{rate_figure(Approach.CLOSED_BOOK, closed)}; "
                f"{diff_figure('docs minus closed-book', gain)}; "
                f"{diff_figure('fine-tuned (questions) minus docs', power)}",
                "taught column: the docs fine-tune read these questions' documents (it trains on documents by design)")


def forgetting(results: dict) -> dict:
    """Rule: supported when the fine-tuned row's general-probe accuracy is measurably below closed-book's while RAG's is
    not (RAG keeps the base weights); contradicted when fine-tuned's is measurably above or RAG's measurably below.
    Measurable: paired bootstrap over probe items where per_question["probe"] holds them, else Wilson intervals apart.

    Example: forgetting(results)["verdict"] -> "supported"
    """
    claim = "Fine-tuning forgets general ability; RAG does not"
    ft, closed, rag = (stat_of(results, row, "general_acc") for row
                       in (Approach.FINE_TUNED, Approach.CLOSED_BOOK, Approach.RAG))
    if not ft or not closed or not rag or "n" not in ft:
        return missing(claim, "the general probe of fine-tuned, closed-book and RAG")
    drop, rag_drop = paired(results, "probe", Approach.CLOSED_BOOK, Approach.FINE_TUNED), paired(results, "probe",
                                                                                                 Approach.CLOSED_BOOK,
                                                                                                 Approach.RAG)
    if drop is not None and rag_drop is not None:
        ft_v, rag_v, basis = by_bootstrap(drop), by_bootstrap(
            rag_drop), f"{diff_figure('closed-book minus fine-tuned', drop)}"
    else:
        ft_v, rag_v = by_overlap(closed, ft), by_overlap(closed, rag)
        basis = "basis: 95% Wilson intervals (no per-item probe answers in these results)"
    if ft_v == CONTRADICTED or rag_v == SUPPORTED:
        verdict = CONTRADICTED
    else:
        verdict = SUPPORTED if ft_v == SUPPORTED else NO_DIFFERENCE
    return claim_row(claim, verdict,
                     f"general probe: {rate_figure(Approach.FINE_TUNED, ft)}, "
                     f"{rate_figure(Approach.CLOSED_BOOK, closed)}, "
                f"{rate_figure(Approach.RAG, rag)}; {basis}",
                "a multiple-choice probe of general knowledge, after the fine-tune's training on the company's facts")


def _best(results: dict, rows, column_metric: str) -> str | None:
    have = [r for r in rows if stat_of(results, r, column_metric)]
    return max(have, key=lambda r: stat_of(results, r, column_metric)["mean"]) if have else None


def combined_beats_either(results: dict) -> dict:
    """Rule: on each column, the better combination (fine-tuned + RAG or RAFT + RAG, by mean) minus the better of RAG
    and fine-tuned, paired bootstrap: supported when measurably ahead on both columns; contradicted when measurably
    behind on either; otherwise no measurable difference (the condition names the column where it holds).

    Example: combined_beats_either(results)["verdict"] -> "no measurable difference"
    """
    claim = "Fine-tuning and retrieval combined (fine-tuned + RAG, RAFT + RAG) beat either alone"
    found, figures = {}, []
    for column, metric in (("taught", "accuracy"), ("untaught", "untaught_acc")):
        combined = _best(results, (Approach.FINE_TUNED_RAG, Approach.RAFT_RAG), metric)
        single = _best(results, (Approach.RAG, Approach.FINE_TUNED), metric)
        d = paired(results, column, combined, single) if combined and single else None
        if d is None:
            return missing(claim,
                           f"the {column} column's per-question answers of the combined rows, RAG and fine-tuned")
        found[column] = by_bootstrap(d)
        figures.append(f"{column}: {rate_figure(combined, stat_of(results, combined, metric))} vs "
                       f"{rate_figure(single, stat_of(results, single, metric))}; "
                       f"{diff_figure('difference', d)}")
    if CONTRADICTED in found.values():
        verdict = CONTRADICTED
    else:
        verdict = SUPPORTED if all(v == SUPPORTED for v in found.values()) else NO_DIFFERENCE
    holds = [c for c, v in found.items() if v == SUPPORTED]
    return claim_row(claim, verdict, "; ".join(figures),
                f"holds on the {' and '.join(holds)} column{'s' if len(holds) > 1 else ''}" if holds
                else "holds on neither column")


def behaviour_and_facts(results: dict) -> dict:
    """Rule (the behaviour + facts task, before the update): the behaviour LoRA + RAG's fact accuracy has its 95% Wilson
    interval wholly above the behaviour LoRA's and its label accuracy wholly above few-shot + RAG's: supported when
    both; contradicted when either is wholly below; otherwise no measurable difference (no per-message answers:
    intervals).

    Example: behaviour_and_facts(results)["verdict"] -> "supported"
    """
    claim = "Behaviour fine-tuned and facts retrieved beats either alone"
    before = ((results.get("behaviour") or {}).get("behaviour_facts") or {}).get("before") or {}
    if not all(k in before for k in BEHAVIOUR_FACTS_APPROACHES):
        return missing(claim, "the behaviour + facts task (behaviour['behaviour_facts'])")

    def rate(row, metric):
        return with_wilson(before[row].get(metric), before[row].get("n"))

    facts = (rate(BEHAVIOUR_LORA_RAG, "fact_accuracy"), rate(BEHAVIOUR_LORA, "fact_accuracy"))
    labels = (rate(BEHAVIOUR_LORA_RAG, "label_accuracy"), rate(FEW_SHOT_RAG, "label_accuracy"))
    found = (by_overlap(*facts), by_overlap(*labels))
    if CONTRADICTED in found:
        verdict = CONTRADICTED
    else:
        verdict = SUPPORTED if found == (SUPPORTED, SUPPORTED) else NO_DIFFERENCE
    n = before[BEHAVIOUR_LORA_RAG].get("n")
    return claim_row(claim, verdict,
                     f"facts right: {BEHAVIOUR_LORA_RAG} {rate_text(facts[0]['mean'], n)} vs {BEHAVIOUR_LORA} "
                f"{rate_text(facts[1]['mean'], n)}; label right: {BEHAVIOUR_LORA_RAG} "
                f"{rate_text(labels[0]['mean'], n)} vs {FEW_SHOT_RAG} "
                f"{rate_text(labels[1]['mean'], n)}; basis: 95% Wilson intervals (no per-message answers kept)",
                "support replies in the triage format stating a product fact, before the facts change")


def _multi_ids() -> set[str]:
    return {q["id"] for q in load_qa() if needs_two_documents(q)}


def across_documents(results: dict) -> dict:
    """Rule: on the taught column's multi-document questions (answer needs two documents), the fine-tuned row's
    per-question match minus RAG's is measurably positive (paired bootstrap); without per-question answers, their
    multi_acc Wilson intervals apart.

    Example: across_documents(results)["verdict"] -> "no measurable difference"
    """
    claim = "Reasoning across documents favours fine-tuning"
    ft, rag = stat_of(results, Approach.FINE_TUNED, "multi_acc"), stat_of(results, Approach.RAG, "multi_acc")
    if not ft or not rag:
        return missing(claim, "multi_acc of fine-tuned and RAG")
    d = paired(results, "taught", Approach.FINE_TUNED, Approach.RAG, only=_multi_ids())
    verdict, basis = (by_bootstrap(d), diff_figure("difference", d)) if d else (
        by_overlap(ft, rag), "basis: 95% Wilson intervals (no per-question answers in these results)")
    return claim_row(claim, verdict,
                     f"multi-document: {rate_figure(Approach.FINE_TUNED, ft)} vs {rate_figure(Approach.RAG, rag)}; "
                     f"{basis}",
                "taught column: questions whose answer needs two documents the fine-tune trained on")


CLAIMS = (updates_between_retrainings, updates_against_retraining, wide_updates, retrieval_matters, behaviour_task,
          documents_teach_no_facts, forgetting, faster_without_retrieval, cheap_up_front, costs_more_per_answer,
          pays_off_long_term, combined_beats_either, behaviour_and_facts, across_documents)


def claims_table(results: dict) -> list[dict]:
    """Every claim of the common guidance the kit can test, with its verdict, figure and condition (one dict per claim).

    Example: claims_table(results)[0] -> {"claim": "Frequent updates favour RAG: ...", "verdict": "supported",
    "figure": "new value given: RAG after update 0.35 [0.19, 0.54] (n=26) vs ...", "condition": "after 26 fact changes,
    ..."}
    """
    return [claim(results) for claim in CLAIMS]


def claims_markdown(results: dict) -> str:
    """The claims table as Markdown: claim | verdict | figure | condition.

    Example: claims_markdown(results).splitlines()[0] -> "| claim | verdict | figure | condition |"
    """
    rows = ["| claim | verdict | figure | condition |", "|---|---|---|---|"]
    for r in claims_table(results):
        rows.append("| "
                    + " | ".join(str(r[k]).replace("|", "\\|") for k in ("claim", "verdict", "figure", "condition"))
                    + " |")
    return "\n".join(rows)
