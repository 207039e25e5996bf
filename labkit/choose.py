"""The decision guide: the best *measured* approach under the learner's constraints, with the numbers that decided it.

What it holds:
- `recommend(answers, results)`: every approach the results measured is a candidate, scored under
  the learner's answers (`labkit.candidates`: the constraints that exclude, the weights that mix
  accuracy, the untaught column and freshness, the yearly cost of staying fresh).
  The best score leads; among it and every candidate not measurably worse than it (the
  scoreboard's paired bootstrap over questions, seeds included: `measurably_worse`), the
  cheapest over a year wins. The reasons quote the numbers that decided, the runner-up, and
  why each excluded approach was.
- For the need "both", only a combination the kit measured as one task can be recommended:
  behaviour + facts (`candidates.together_candidates`). The best at stating the fact (after a
  change weighted as for knowledge) is the recommendation; the separate picks for knowledge and
  behaviour are reasons, and where they were never measured together the guide says so.
- `Recommendation` and `violations` (what a choice breaks, for tests and notebooks); `answer_grid`
  and `grid_markdown`: the guide's pick for every combination of answers.

What it leaves out: the answers, the candidates and their scores (`labkit.candidates`), the form
a learner fills in (`labkit.widgets.DecisionGuide`), money (seconds of this CPU only; see
`labkit.costs`), and any opinion the results cannot back: an approach whose deciding figure was
not measured is excluded, saying so.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from labkit import candidates as answer_choices  # answer_grid reads the choices by name
from labkit.candidates import (
    DEFAULT_ANSWERS,
    FRESH_WEIGHT,
    RETRIEVES,
    TRACE_BAR,
    UNTAUGHT_WEIGHT,
    Candidate,
    behaviour_candidates,
    cell_mean,
    check_answers,
    knowledge_candidates,
    together_candidates,
)
from labkit.keys import Approach
from labkit.stats import mixed_paired_bootstrap

KIND = {Approach.CLOSED_BOOK: "base model", Approach.RAG: "RAG", Approach.FINE_TUNED: "fine-tuning",
        Approach.FINE_TUNED_DOCS: "fine-tuning",
        Approach.FINE_TUNED_RAG: "both", Approach.RAFT_RAG: "both", Approach.READER_RAG: "both",
        "zero_shot": "base model", "few_shot": "RAG", "lora": "fine-tuning"}
# behaviour + facts' ways
TOGETHER_KIND = {"few-shot + RAG": "RAG", "behaviour LoRA": "fine-tuning", "behaviour LoRA + RAG": "both"}
BEHAVIOUR_NAMES = {"zero_shot": "zero-shot rules", "few_shot": "retrieved examples (few-shot)",
                   "lora": "LoRA fine-tune"}


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
            f"{num(f'{best.approach} accuracy upper', f['accuracy_hi'])}] on the questions the team anticipated (the "
            "taught column)")
    if "untaught" in f:
        text += (f", {num(f'{best.approach} untaught', f['untaught'])} "
                 f"[{num(f'{best.approach} untaught lower', f['untaught_lo'])}, "
                 f"{num(f'{best.approach} untaught upper', f['untaught_hi'])}] on questions nobody trained for "
                 f"(the untaught column, weighted {UNTAUGHT_WEIGHT[a['questions']]:.1f})")
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
            trained, latency = cell_mean(row, "train_s", 0.0) > 0, cell_mean(row, "latency_p50_s", 0.0)
            gold = cell_mean(row, "cited_gold_by_model", cell_mean(row, "cited_gold", 0.0))
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
    """Every combination of answers: each key of DEFAULT_ANSWERS whose choices are listed in the constant of
    `labkit.candidates` named after it in upper case (CHANGE, TRACEABILITY, NEED, COMPUTE, QUESTIONS), the latency
    budget at its default; `fixed` pins some keys.

    Example: len(answer_grid(need="knowledge", compute="some training")) -> 18
    """
    names = [k for k in DEFAULT_ANSWERS if isinstance(vars(answer_choices).get(k.upper()), tuple)]
    choices = [[fixed[k]] if k in fixed else list(vars(answer_choices)[k.upper()]) for k in names]
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
