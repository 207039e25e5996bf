"""The decision guide's candidates: the learner's answers checked, and every measured approach scored under them.

What it holds:
- The answers (`CHANGE`, `TRACEABILITY`, `NEED`, `COMPUTE`, `QUESTIONS`, `DEFAULT_ANSWERS`) and
  `check_answers`, which fills in defaults and refuses a value outside them.
- `Candidate` and its builders. The learner's answers become constraints and weights:
  - no training budget excludes every trained approach;
  - traceability required excludes approaches whose model-written gold-citation rate is
    below `TRACE_BAR` (citations labkit attributed afterwards do not count);
  - the latency budget excludes approaches whose median answer is slower;
  - how many of the users' questions the team can list in advance weights accuracy on the
    questions nobody trained for (the untaught column: `UNTAUGHT_WEIGHT`) against the taught;
  - how often the data changes weights answering right *after* a change (the measured
    freshness: `FRESH_WEIGHT`) against answering right at all, and sets the yearly cost of
    staying fresh (index updates for retrieval, retraining for a fine-tune alone).
  `knowledge_candidates` scores the scoreboard's rows, `behaviour_candidates` the behaviour task's
  approaches, `together_candidates` behaviour + facts measured as one task (support replies that
  must follow the triage format and state a product fact: the same budget excludes the LoRA
  replies, and a reply style measurably worse at the format is out).

What it leaves out: choosing among the candidates and the reasons in words (`labkit.choose`),
the form a learner fills in (`labkit.widgets.DecisionGuide`), and money (seconds of this CPU only).

Example: check_answers({"need": "behaviour"})["change"] -> "monthly"
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.keys import DIAGNOSTIC, After, Approach
from labkit.stats import wilson_interval

CHANGE = ("never", "monthly", "weekly or faster")  # how often the knowledge changes
TRACEABILITY = ("nice to have", "required")  # must every answer point at its source?
NEED = ("knowledge", "behaviour", "both")  # facts to answer from, a fixed task/format to follow, or both
COMPUTE = ("no training", "some training")  # can the team afford fine-tuning runs?
QUESTIONS = ("all", "most", "few")  # can you list in advance the questions your users will ask?
DEFAULT_ANSWERS = {"change": "monthly", "traceability": "required", "need": "knowledge", "compute": "some training",
                   "questions": "most", "latency_s": 5.0}

TRACE_BAR = 0.5  # traceable: at least half the answers cite a gold document in the model's own words
# weight of "right after a change" against "right"
FRESH_WEIGHT = {"never": 0.0, "monthly": 0.5, "weekly or faster": 0.8}
# weight of the untaught column (questions nobody listed) against the taught
UNTAUGHT_WEIGHT = {"all": 0.0, "most": 0.3, "few": 0.8}
CHANGES_PER_YEAR = {"never": 0, "monthly": 12, "weekly or faster": 52}
# kept fresh by an index update
RETRIEVES = {Approach.RAG, Approach.FINE_TUNED_RAG, Approach.RAFT_RAG, Approach.READER_RAG, "few_shot"}
FRESH_ROW = {Approach.RAG: After.RAG, Approach.FINE_TUNED_RAG: After.FINE_TUNED_RAG,
             Approach.RAFT_RAG: After.RAFT_RAG, Approach.READER_RAG: After.READER_RAG,
             Approach.FINE_TUNED: After.RETRAINED}  # how each stays current


@dataclass
class Candidate:
    """One approach as the guide sees it: its score under the answers, the interval around it, its yearly cost."""

    approach: str  # a scoreboard row ("RAG", ...) or a behaviour approach ("few_shot", ...)
    score: float  # (1 - w) * accuracy + w * freshness, w from FRESH_WEIGHT (behaviour: label accuracy)
    lo: float  # the same mix of the 95% interval ends (the mean where no interval was measured)
    hi: float
    yearly_s: float  # compute seconds to build it and keep it current for a year of changes, on this CPU
    figures: dict = field(default_factory=dict)  # the measured numbers behind the score
    excluded: str | None = None  # why a constraint rules it out
    # part -> (weight, {question id: match}): what the paired bootstrap resamples
    items: dict = field(default_factory=dict)


def check_answers(answers: dict) -> dict:
    """The answers with defaults filled in and each value checked.
    Example: check_answers({"need": "behaviour"})["change"] -> "monthly"."""
    out = {**DEFAULT_ANSWERS, **(answers or {})}
    for key, allowed in (("change", CHANGE), ("traceability", TRACEABILITY), ("need", NEED), ("compute", COMPUTE),
                         ("questions", QUESTIONS)):
        if out[key] not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}, not {out[key]!r}")
    out["latency_s"] = float(out["latency_s"])
    if out["latency_s"] <= 0:
        raise ValueError("latency_s is the seconds an answer may take: give a positive number")
    return out


def _interval(stat: dict | None) -> tuple[float, float, float] | None:
    """(mean, lo, hi) of a scoreboard cell; lo = hi = mean where no interval was measured."""
    if stat is None:
        return None
    return stat["mean"], stat.get("lo", stat["mean"]), stat.get("hi", stat["mean"])


def cell_mean(row: dict, metric: str, default=None):
    """The mean of a scoreboard cell, or `default` where it was not measured.
    Example: cell_mean({"train_s": {"mean": 103.0}}, "train_s") -> 103.0"""
    stat = row.get(metric)
    return default if stat is None else stat["mean"]


def knowledge_candidates(answers: dict, results: dict) -> list[Candidate]:
    """Every scoreboard approach scored under the answers, excluded ones with their reason.

    Example: [c.approach for c in knowledge_candidates(check_answers({}), results) if not c.excluded]
        -> ["RAG", "RAFT + RAG"]
    The score mixes accuracy on the taught questions and on the untaught ones (weighted by how many of
    its users' questions a team can list in advance: `UNTAUGHT_WEIGHT`), then that with the share of
    answers giving a changed fact's new value (`FRESH_WEIGHT`). The perfect-retriever rows are
    measurements, not systems, and are never candidates.
    """
    a = check_answers(answers)
    fresh = results.get("freshness") or {}
    per_question = results.get("per_question") or {}
    w, wu, changes = FRESH_WEIGHT[a["change"]], UNTAUGHT_WEIGHT[a["questions"]], CHANGES_PER_YEAR[a["change"]]
    out = []
    for approach, row in results.get("scoreboard", {}).items():
        acc = _interval(row.get("accuracy"))
        if acc is None or approach in DIAGNOSTIC:
            continue
        trained = cell_mean(row, "train_s", 0.0) > 0
        latency = cell_mean(row, "latency_p50_s")
        # older results counted attributed citations only
        gold = cell_mean(row, "cited_gold_by_model", cell_mean(row, "cited_gold"))
        figures = {"accuracy": acc[0], "accuracy_lo": acc[1], "accuracy_hi": acc[2]}
        items = {"taught": (1 - wu, (per_question.get("taught") or {}).get(approach))}
        excluded = None
        if a["compute"] == "no training" and trained:
            excluded = f"needs training ({cell_mean(row, 'train_s'):.1f} s here) and there is no training budget"
        elif a["traceability"] == "required" and (gold or 0.0) < TRACE_BAR:
            excluded = (
                f"the model itself cited a gold document in {gold or 0.0:.2f} of answers, under the {TRACE_BAR:.2f} bar"
            )
        elif latency is not None and latency > a["latency_s"]:
            excluded = f"its median answer took {latency:.2f} s, over the {a['latency_s']:.1f} s budget"
        score, lo, hi = acc
        if wu > 0:
            untaught = _interval(row.get("untaught_acc"))
            if untaught is None:
                excluded = (
                    excluded or "its accuracy on questions nobody trained it for (the untaught column) was not measured"
                )
            else:
                figures.update(untaught=untaught[0], untaught_lo=untaught[1], untaught_hi=untaught[2])
                score, lo, hi = ((1 - wu) * x + wu * y for x, y in zip(acc, untaught, strict=True))
                items["untaught"] = (wu, (per_question.get("untaught") or {}).get(approach))
        keep_fresh = 0.0
        if w > 0:
            key = FRESH_ROW.get(approach, "")
            new = _interval(fresh.get(key, {}).get("new"))
            if new is None and excluded is None:
                excluded = "how it answers after a fact changes was not measured"
            elif new is not None:
                figures["fresh"] = new[0]
                score, lo, hi = ((1 - w) * x + w * y for x, y in zip((score, lo, hi), new, strict=True))
                items = {part: ((1 - w) * weight, values) for part, (weight, values) in items.items()}
                items["after_update"] = (w, (per_question.get("after_update") or {}).get(key))
                per_change = (cell_mean(fresh, "update_s", 0.0) if approach in RETRIEVES
                              else cell_mean(fresh, "retrain_s", 0.0))
                keep_fresh = changes * per_change
                figures["per_change_s"] = per_change
        one_off = cell_mean(row, "index_build_s", 0.0) + cell_mean(row, "train_s", 0.0)
        # older records hold no per-question figures
        usable = all(values for weight, values in items.values() if weight > 0)
        out.append(Candidate(approach, round(score, 4), round(lo, 4), round(hi, 4), round(one_off + keep_fresh, 1),
                             figures, excluded,
                             {part: (weight, values) for part, (weight, values) in items.items() if weight > 0}
                             if usable else {}))
    return out


def behaviour_candidates(answers: dict, results: dict) -> list[Candidate]:
    """Zero-shot, retrieved examples and LoRA on the behaviour task, scored by label accuracy under the answers.

    Example: [c.approach for c in behaviour_candidates(check_answers({"need": "behaviour"}), results)]
        -> ["zero_shot", "few_shot", "lora"]
    """
    a = check_answers(answers)
    b = results.get("behaviour") or {}
    n = b.get("num_test") or b.get("n_test") or 0
    out = []
    for approach in ("zero_shot", "few_shot", "lora"):
        r = b.get(approach)
        if not r:
            continue
        acc = r["label_accuracy"]
        lo, hi = wilson_interval(acc, n) if n else (acc, acc)
        excluded = None
        if a["compute"] == "no training" and approach == "lora":
            excluded = f"needs training ({r.get('train_s', 0.0):.0f} s here) and there is no training budget"
        elif r.get("seconds_per_message", 0.0) > a["latency_s"]:
            excluded = f"it took {r['seconds_per_message']:.2f} s a message, over the {a['latency_s']:.1f} s budget"
        figures = {"labels": acc, "format": r["format_compliance"], "prompt_tokens": r.get("prompt_tokens", 0.0)}
        # cost per message grows with the prompt: the tie-breaker between equally accurate prompts
        out.append(Candidate(approach, round(acc, 4), lo, hi, float(r.get("prompt_tokens", 0.0)), figures, excluded))
    return out


def together_candidates(answers: dict, results: dict) -> list[Candidate]:
    """Behaviour + facts measured as one task (support replies in the triage format that state a product fact, from
    `labkit.behaviour_facts`): few-shot + RAG, the behaviour LoRA alone and LoRA + RAG, scored by the share of replies
    stating the fact, after a change weighted as for knowledge.
    Example: [c.approach for c in together_candidates(a, results)]
        -> ["few-shot + RAG", "behaviour LoRA", "behaviour LoRA + RAG"]
    """
    a = check_answers(answers)
    h = (results.get("behaviour") or {}).get("behaviour_facts")
    if not h:
        return []
    w = FRESH_WEIGHT[a["change"]]
    out = []
    for approach, before in h["before"].items():
        after = h["after"][approach]
        (lo_b, hi_b), (lo_a, hi_a) = wilson_interval(before["fact_accuracy"],
                                                     before["n"]), wilson_interval(after["fact_accuracy"], after["n"])
        mix = [(1 - w) * x + w * y for x, y
               in ((before["fact_accuracy"], after["fact_accuracy"]), (lo_b, lo_a), (hi_b, hi_a))]
        trained = "LoRA" in approach
        excluded = (
            "needs the behaviour LoRA's training and there is no training budget"
            if trained and a["compute"] == "no training"
            else None
        )
        figures = {"fact": before["fact_accuracy"], "fact_after": after["fact_accuracy"],
                   "format": before["format_compliance"]}
        # the LoRA's one-off training
        cost = (results["behaviour"].get("lora") or {}).get("train_s", 0.0) if trained else 0.0
        out.append(Candidate(approach, round(mix[0], 4), round(mix[1], 4), round(mix[2], 4), cost, figures, excluded))
    # the format is half of the task: a reply style measurably worse at it than the best eligible one is out
    fmt = {c.approach: wilson_interval(c.figures["format"], h["before"][c.approach]["n"]) for c in out}
    eligible = [c for c in out if c.excluded is None]
    if eligible:
        top = max(eligible, key=lambda c: c.figures["format"])
        for c in eligible:
            if fmt[c.approach][1] < fmt[top.approach][0]:
                c.excluded = (f"its replies follow the format in {c.figures['format']:.2f}, measurably less than "
                              f"{top.approach}'s {top.figures['format']:.2f}")
    return out
