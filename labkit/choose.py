"""The decision guide: the best *measured* approach under the learner's constraints, with the numbers that decided it.

What it holds:
- `recommend(answers, results)`: every approach the results measured is a candidate. The
  learner's answers become constraints and weights:
  - no training budget excludes every trained approach;
  - traceability required excludes approaches whose model-written gold-citation rate is
    below `TRACE_BAR` (citations labkit attributed afterwards do not count);
  - the latency budget excludes approaches whose median answer is slower;
  - how many of the users' questions the team can list in advance weights accuracy on the
    questions nobody trained for (the untaught column: `UNTAUGHT_WEIGHT`) against the taught;
  - how often the data changes weights answering right *after* a change (the measured
    freshness: `FRESH_WEIGHT`) against answering right at all, and sets the yearly cost of
    staying fresh (index updates for retrieval, retraining for a fine-tune alone).
  The best score leads; among it and every candidate not measurably worse than it (the
  scoreboard's paired bootstrap over questions, seeds included: `measurably_worse`), the
  cheapest over a year wins. The reasons quote the numbers that decided, the runner-up, and
  why each excluded approach was.
- For the need "both", only a combination the kit measured as one task can be recommended:
  behaviour + facts (`together_candidates`: support replies that must follow the triage format
  and state a product fact). The same budget excludes the LoRA replies, a reply style measurably
  worse at the format is out, and the best at stating the fact (after a change weighted as for
  knowledge) is the recommendation; the separate picks for knowledge and behaviour are reasons,
  and where they were never measured together the guide says so.
- `Recommendation` and `violations` (what a choice breaks, for tests and notebooks).

What it leaves out: the form a learner fills in (`labkit.widgets.DecisionGuide`), money
(seconds of this CPU only; see `labkit.costs`), and any opinion the results cannot back: an
approach whose deciding figure was not measured is excluded, saying so.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from labkit.keys import DIAGNOSTIC, After, Approach
from labkit.stats import mixed_paired_bootstrap, wilson_interval

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
KIND = {Approach.CLOSED_BOOK: "base model", Approach.RAG: "RAG", Approach.FINE_TUNED: "fine-tuning",
        Approach.FINE_TUNED_DOCS: "fine-tuning",
        Approach.FINE_TUNED_RAG: "both", Approach.RAFT_RAG: "both", Approach.READER_RAG: "both",
        "zero_shot": "base model", "few_shot": "RAG", "lora": "fine-tuning"}
# kept fresh by an index update
RETRIEVES = {Approach.RAG, Approach.FINE_TUNED_RAG, Approach.RAFT_RAG, Approach.READER_RAG, "few_shot"}
FRESH_ROW = {Approach.RAG: After.RAG, Approach.FINE_TUNED_RAG: After.FINE_TUNED_RAG,
             Approach.RAFT_RAG: After.RAFT_RAG, Approach.READER_RAG: After.READER_RAG,
             Approach.FINE_TUNED: After.RETRAINED}  # how each stays current
# behaviour + facts' ways
TOGETHER_KIND = {"few-shot + RAG": "RAG", "behaviour LoRA": "fine-tuning", "behaviour LoRA + RAG": "both"}
BEHAVIOUR_NAMES = {"zero_shot": "zero-shot rules", "few_shot": "retrieved examples (few-shot)",
                   "lora": "LoRA fine-tune"}


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


@dataclass
class Recommendation:
    """What to build, why, and the measured figures the reasons quote."""

    choice: str  # "RAG", "fine-tuning", "both", "base model", or "nothing" when every candidate is excluded
    # the scoreboard row(s) chosen, e.g. "RAFT + RAG", or "RAG for the facts, lora for the behaviour"
    approach: str = ""
    runner_up: str | None = None
    reasons: list = field(default_factory=list)  # one sentence each, quoting measured figures
    figures: dict = field(default_factory=dict)  # "name" -> the number quoted (as printed)
    excluded: dict = field(default_factory=dict)  # approach -> why it was ruled out
    candidates: list = field(default_factory=list)  # every Candidate considered
    chosen: dict = field(default_factory=dict)  # "knowledge" / "behaviour" -> the Candidate chosen for it

    def text(self) -> str:
        """The recommendation as plain text. Example: rec.text() -> "Recommended: RAG (RAG)\\n- ..."."""
        head = f"Recommended: {self.choice}" + (f" ({self.approach})" if self.approach and self.approach != self.choice
                                                else "")
        return "\n".join([head, *(f"- {r}" for r in self.reasons)])


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


def _mean(row: dict, metric: str, default=None):
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
        trained = _mean(row, "train_s", 0.0) > 0
        latency = _mean(row, "latency_p50_s")
        # older results counted attributed citations only
        gold = _mean(row, "cited_gold_by_model", _mean(row, "cited_gold"))
        figures = {"accuracy": acc[0], "accuracy_lo": acc[1], "accuracy_hi": acc[2]}
        items = {"taught": (1 - wu, (per_question.get("taught") or {}).get(approach))}
        excluded = None
        if a["compute"] == "no training" and trained:
            excluded = f"needs training ({_mean(row, 'train_s'):.1f} s here) and there is no training budget"
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
                per_change = _mean(fresh, "update_s", 0.0) if approach in RETRIEVES else _mean(fresh, "retrain_s", 0.0)
                keep_fresh = changes * per_change
                figures["per_change_s"] = per_change
        one_off = _mean(row, "index_build_s", 0.0) + _mean(row, "train_s", 0.0)
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


def behind(best: Candidate, other: Candidate) -> dict | None:
    """`other`'s score minus `best`'s, paired by question part by part (the scoreboard's paired bootstrap, seeds
    included), or None where either lacks per-question figures (then the intervals of their scores are compared
    instead).

    Example: behind(raft, fine_tuned) -> {"diff": -0.21, "lo": -0.3, "hi": -0.12, "n": 211, "measurable": True}
    """
    if not best.items or set(best.items) != set(other.items):
        return None
    parts = []
    for part, (weight, mine) in best.items.items():
        theirs = other.items[part][1]
        shared = sorted(set(mine) & set(theirs))
        parts.append((weight, [theirs[q] for q in shared], [mine[q] for q in shared]))
    return mixed_paired_bootstrap(parts)


def measurably_worse(best: Candidate, other: Candidate) -> bool:
    """Whether `other` scores measurably below `best`: the paired bootstrap's interval lies below 0 (intervals of the
    scores that do not overlap, where there are no per-question figures).
    Example: measurably_worse(raft, closed_book) -> True
    """
    d = behind(best, other)
    if d is None:
        return other.hi < best.lo
    return d["measurable"] and d["diff"] < 0


def pick(candidates: list[Candidate]) -> tuple[Candidate | None, Candidate | None, bool]:
    """(winner, runner-up, tied?) among the candidates no constraint excludes. The best score leads; among it and every
    candidate not measurably worse than it, the cheapest over a year wins (tied: the winner is not the best score, or
    another candidate is not measurably worse). The runner-up is the best-scoring other candidate.

    Example: pick([Candidate("RAG", 0.6, 0.5, 0.7, 10), Candidate("fine-tuned", 0.62, 0.5, 0.72, 900)])
        -> (RAG, fine-tuned, True)
    """
    eligible = sorted((c for c in candidates if c.excluded is None), key=lambda c: (-c.score, c.yearly_s))
    if not eligible:
        return None, None, False
    best = eligible[0]
    level = [best] + [c for c in eligible[1:] if not measurably_worse(best, c)]
    winner = min(level, key=lambda c: (c.yearly_s, -c.score))
    others = [c for c in eligible if c is not winner]
    return winner, (others[0] if others else None), len(level) > 1


def recommend(answers: dict, results: dict) -> Recommendation:
    """The best measured approach for these answers, with reasons quoting the numbers that decided.

    Example: recommend({"change": "weekly or faster", "need": "knowledge"}, results).choice -> "RAG"
    `results` is what `labkit.compare.run_experiment` returns (or `report.load_latest()`).
    """
    a = check_answers(answers)
    rec = Recommendation("nothing")

    def num(name, value, digits=2):
        text = f"{value:.{digits}f}"
        rec.figures[name] = text
        return text

    parts = {}
    if a["need"] in ("knowledge", "both"):
        parts["knowledge"] = knowledge_candidates(a, results)
    if a["need"] in ("behaviour", "both"):
        parts["behaviour"] = behaviour_candidates(a, results)
    chosen = rec.chosen
    for part, candidates in parts.items():
        rec.candidates += candidates
        rec.excluded.update({c.approach: c.excluded for c in candidates if c.excluded})
        best, runner, tied = pick(candidates)
        if best is None:
            rec.reasons.append(f"For the {part}, no measured approach meets your constraints"
                               + (": " + "; ".join(f"{c.approach}: {c.excluded}" for c in candidates) if candidates else
                                  " (the results hold no measurement for it: run labkit compare first)."))
            continue
        chosen[part] = best
        rec.reasons.append(_why(part, best, a, num))
        if runner is not None:
            rec.runner_up = rec.runner_up or runner.approach
            rec.reasons.append(_verdict(part, best, runner, tied, candidates, num))
        for c in candidates:
            if c.excluded:
                rec.reasons.append(f"Excluded: {_name(c.approach)}: {c.excluded}.")
    together = together_candidates(a, results) if a["need"] == "both" else []
    if a["need"] == "both":
        best, runner, tied = pick(together)
        parts_named = " and ".join(f"{_name(c.approach)} for the {part}" for part, c in chosen.items())
        if best is None:
            rec.reasons.append("The kit measured no combination of behaviour and facts as one task that meets your "
                               "constraints"
                               + (f" (of {parts_named}, no run measured them together)" if parts_named else "") + ".")
            chosen.clear()
        else:
            f = best.figures
            rec.reasons.append(
                "Measured together (behaviour + facts: support replies in the triage format stating a product fact): "
                f"{best.approach} "
                f"states the fact in {num(f'{best.approach} fact', f['fact'])} of replies and "
                f"{num(f'{best.approach} fact after', f['fact_after'])} "
                f"after the facts change, with format compliance {num(f'{best.approach} format', f['format'])}"
                + (f"; {runner.approach} is within its 95% interval (no measurable difference)" if tied else "") + "."
                + "".join(f" Not {c.approach}: {c.excluded}." for c in together if c.excluded))
            if parts_named:
                rec.reasons.append(f"Measured apart, the picks are {parts_named}; the kit did not run that pair as one "
                                   "system, "
                                   f"so the recommendation is the measured combination, {best.approach}.")
            rec.approach, rec.choice = best.approach, TOGETHER_KIND.get(best.approach, "both")
            return rec
    if chosen:
        rec.approach = chosen[next(iter(chosen))].approach
        retrieval = any(c.approach in RETRIEVES or KIND[c.approach] == "both" for c in chosen.values())
        training = any(KIND[c.approach] in ("fine-tuning", "both") for c in chosen.values())
        rec.choice = (
            "both" if retrieval and training else "RAG" if retrieval else "fine-tuning" if training else "base model"
        )
    return rec


def _difference(best: Candidate, other: Candidate, num) -> str:
    d = behind(best, other)
    if d is None:
        return (f"95% intervals [{num(f'{other.approach} lower', other.lo)}, "
                f"{num(f'{other.approach} upper', other.hi)}] and "
                f"[{num(f'{best.approach} lower', best.lo)}, {num(f'{best.approach} upper', best.hi)}]")
    return (f"difference {num(f'{other.approach} minus {best.approach}', d['diff'])} "
            f"[{num(f'{other.approach} minus {best.approach} lower', d['lo'])}, "
            f"{num(f'{other.approach} minus {best.approach} upper', d['hi'])}], "
            f"paired over {d['n']} answers")


def _verdict(part: str, best: Candidate, runner: Candidate, tied: bool, candidates: list[Candidate], num) -> str:
    """The sentence on the runner-up: measurably behind, or not, and then why the cheaper one was chosen."""
    unit = " s of compute a year" if part == "knowledge" else " prompt tokens a message"
    if not tied:
        return (f"Runner-up: {_name(runner.approach)} with score {num(f'{runner.approach} score', runner.score)}, "
                "measurably behind "
                f"({_difference(best, runner, num)}).")
    eligible = sorted((c for c in candidates if c.excluded is None), key=lambda c: (-c.score, c.yearly_s))
    top = eligible[0]
    level = [c for c in eligible[1:] if not measurably_worse(top, c)]
    if best is top:  # the best score is also the cheapest of those level with it
        return (f"No measurable difference from {', '.join(_name(c.approach) for c in level)} ("
                + "; ".join(_difference(top, c, num) for c in level)
                + f"); {_name(best.approach)} is also the cheapest of them: "
                f"{num(f'{best.approach} yearly s', best.yearly_s, 0)}{unit}.")
    return (f"The best score is {_name(top.approach)}'s ({num(f'{top.approach} score', top.score)}), but "
            f"{_name(best.approach)} shows "
            f"no measurable difference from it ({_difference(top, best, num)}) and costs less: "
            f"{num(f'{best.approach} yearly s', best.yearly_s, 0)} "
            f"against {num(f'{top.approach} yearly s', top.yearly_s, 0)}{unit}.")


def _name(approach: str) -> str:
    return BEHAVIOUR_NAMES.get(approach, approach)


def _why(part: str, best: Candidate, a: dict, num) -> str:
    f = best.figures
    if part == "behaviour":
        return (f"For the behaviour (triage), {_name(best.approach)} labels "
                f"{num(f'{best.approach} labels', f['labels'])} of test messages "
                f"correctly [{num(f'{best.approach} lower', best.lo)}, {num(f'{best.approach} upper', best.hi)}], with "
                "format compliance "
                f"{num(f'{best.approach} format', f['format'])} from a "
                f"{num(f'{best.approach} prompt tokens', f['prompt_tokens'], 0)}-token prompt.")
    text = (f"For knowledge that changes {a['change']}, where {a['questions']} of the questions can be listed in "
            f"advance, {best.approach} "
            f"is the measured choice: accuracy {num(f'{best.approach} accuracy', f['accuracy'])} "
            f"[{num(f'{best.approach} accuracy lower', f['accuracy_lo'])}, "
            f"{num(f'{best.approach} accuracy upper', f['accuracy_hi'])}] on the questions it was taught for")
    if "untaught" in f:
        text += (f", {num(f'{best.approach} untaught', f['untaught'])} "
                 f"[{num(f'{best.approach} untaught lower', f['untaught_lo'])}, "
                 f"{num(f'{best.approach} untaught upper', f['untaught_hi'])}] on questions nobody trained for "
                 f"(weighted {UNTAUGHT_WEIGHT[a['questions']]:.1f})")
    if "fresh" in f:
        text += (f", and {num(f'{best.approach} fresh', f['fresh'])} of answers give the new value after a change "
                 f"(score {num(f'{best.approach} score', best.score)} with freshness weighted "
                 f"{FRESH_WEIGHT[a['change']]:.1f}); "
                 f"staying current costs {num(f'{best.approach} per change s', f['per_change_s'], 1)} s per change, "
                 f"{num(f'{best.approach} yearly s', best.yearly_s, 0)} s of compute a year with the one-off build")
    return text + "."


def violations(rec: Recommendation, answers: dict, results: dict) -> list[str]:
    """The constraints a recommendation breaks, checked on the results themselves (not on the guide's own exclusions).

    Example: violations(recommend(a, results), a, results) -> []
    """
    a = check_answers(answers)
    broken = []
    for part, c in rec.chosen.items():
        if part == "knowledge":
            row = results["scoreboard"][c.approach]
            trained, latency = _mean(row, "train_s", 0.0) > 0, _mean(row, "latency_p50_s", 0.0)
            gold = _mean(row, "cited_gold_by_model", _mean(row, "cited_gold", 0.0))
            if a["traceability"] == "required" and gold < TRACE_BAR:
                broken.append(f"{c.approach} is not traceable ({gold:.2f})")
        else:
            r = results["behaviour"][c.approach]
            trained, latency = c.approach == "lora", r.get("seconds_per_message", 0.0)
        if trained and a["compute"] == "no training":
            broken.append(f"{c.approach} needs training")
        if latency > a["latency_s"]:
            broken.append(f"{c.approach} is over the latency budget ({latency:.2f} s)")
    return broken


def answer_grid(**fixed) -> list[dict]:
    """Every combination of answers: each key of DEFAULT_ANSWERS whose choices are listed in the constant named after it
    in upper case (CHANGE, TRACEABILITY, NEED, COMPUTE, QUESTIONS), the latency budget at its default; `fixed` pins some
    keys.

    Example: len(answer_grid(need="knowledge", compute="some training")) -> 18
    """
    names = [k for k in DEFAULT_ANSWERS if isinstance(globals().get(k.upper()), tuple)]
    choices = [[fixed[k]] if k in fixed else list(globals()[k.upper()]) for k in names]
    return [{**DEFAULT_ANSWERS, **dict(zip(names, combo, strict=True))} for combo in itertools.product(*choices)]


def grid_markdown(results: dict, **fixed) -> str:
    """The guide's pick for every combination of answers (`answer_grid`), as a Markdown table with the deciding reason.

    Example: grid_markdown(load_shipped(), need="knowledge", compute="some training").splitlines()[0]
    -> "| change | traceability | questions listed in advance | recommended | because |"
    """
    varying = [k for k in ("change", "traceability", "need", "compute", "questions") if k not in fixed]
    labels = {"questions": "questions listed in advance"}
    lines = ["| " + " | ".join(labels.get(k, k) for k in varying) + " | recommended | because |",
             "|---" * (len(varying) + 2) + "|"]
    for answers in answer_grid(**fixed):
        rec = recommend(answers, results)
        because = rec.reasons[0] if rec.reasons else ""
        lines.append("| " + " | ".join(str(answers[k]) for k in varying)
                     + f" | {rec.approach or rec.choice} | {because} |")
    return "\n".join(lines)
