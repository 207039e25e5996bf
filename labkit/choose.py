"""The decision guide: the best *measured* approach under the learner's constraints, with the numbers that decided it.

What it holds:
- `recommend(answers, results)`: every approach the results measured is a candidate. The
  learner's answers become constraints and weights:
  - no training budget excludes every trained approach;
  - traceability required excludes approaches whose model-written gold-citation rate is
    below `TRACE_BAR` (citations labkit attributed afterwards do not count);
  - the latency budget excludes approaches whose median answer is slower;
  - how often the data changes weights answering right *after* a change (the measured
    freshness: `FRESH_WEIGHT`) against answering right at all, and sets the yearly cost of
    staying fresh (index updates for retrieval, retraining for a fine-tune alone).
  The best score wins; where the runner-up's 95% interval overlaps the winner's, there is
  "no measurable difference" and the cheaper of the two to keep current is chosen. The
  reasons quote the numbers that decided, the runner-up, and why each excluded approach was.
- For the need "both", behaviour + facts measured as one task (`together_candidates`: support replies
  that must follow the triage format and state a product fact): the same budget excludes the
  LoRA replies, a reply style measurably worse at the format is out, and the best at stating
  the fact (after a change weighted as for knowledge) is quoted as a reason beside the choice.
- `Recommendation` and `violations` (what a choice breaks, for tests and notebooks).

What it leaves out: the form a learner fills in (`labkit.widgets.DecisionGuide`), money
(seconds of this CPU only; see `labkit.costs`), and any opinion the results cannot back: an
approach whose deciding figure was not measured is excluded, saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.keys import After, Approach
from labkit.stats import intervals_overlap, wilson_interval

CHANGE = ("never", "monthly", "weekly or faster")  # how often the knowledge changes
TRACEABILITY = ("nice to have", "required")  # must every answer point at its source?
NEED = ("knowledge", "behaviour", "both")  # facts to answer from, a fixed task/format to follow, or both
COMPUTE = ("no training", "some training")  # can the team afford fine-tuning runs?
DEFAULT_ANSWERS = {"change": "monthly", "traceability": "required", "need": "knowledge", "compute": "some training", "latency_s": 5.0}

TRACE_BAR = 0.5  # traceable: at least half the answers cite a gold document in the model's own words
FRESH_WEIGHT = {"never": 0.0, "monthly": 0.5, "weekly or faster": 0.8}  # weight of "right after a change" against "right"
CHANGES_PER_YEAR = {"never": 0, "monthly": 12, "weekly or faster": 52}
KIND = {Approach.CLOSED_BOOK: "base model", Approach.RAG: "RAG", Approach.FINE_TUNED: "fine-tuning", Approach.FINE_TUNED_DOCS: "fine-tuning",
        Approach.FINE_TUNED_RAG: "both", Approach.RAFT_RAG: "both", Approach.READER_RAG: "both", "zero_shot": "base model", "few_shot": "RAG", "lora": "fine-tuning"}
RETRIEVES = {Approach.RAG, Approach.FINE_TUNED_RAG, Approach.RAFT_RAG, Approach.READER_RAG, "few_shot"}  # kept fresh by an index update
FRESH_ROW = {Approach.RAG: After.RAG, Approach.FINE_TUNED_RAG: After.FINE_TUNED_RAG,
             Approach.RAFT_RAG: After.RAFT_RAG, Approach.READER_RAG: After.READER_RAG,
             Approach.FINE_TUNED: After.RETRAINED}  # how each stays current
BEHAVIOUR_NAMES = {"zero_shot": "zero-shot rules", "few_shot": "retrieved examples (few-shot)", "lora": "LoRA fine-tune"}


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


@dataclass
class Recommendation:
    """What to build, why, and the measured figures the reasons quote."""

    choice: str  # "RAG", "fine-tuning", "both", "base model", or "nothing" when every candidate is excluded
    approach: str = ""  # the scoreboard row(s) chosen, e.g. "RAFT + RAG", or "RAG for the facts, lora for the behaviour"
    runner_up: str | None = None
    reasons: list = field(default_factory=list)  # one sentence each, quoting measured figures
    figures: dict = field(default_factory=dict)  # "name" -> the number quoted (as printed)
    excluded: dict = field(default_factory=dict)  # approach -> why it was ruled out
    candidates: list = field(default_factory=list)  # every Candidate considered
    chosen: dict = field(default_factory=dict)  # "knowledge" / "behaviour" -> the Candidate chosen for it

    def text(self) -> str:
        """The recommendation as plain text. Example: rec.text() -> "Recommended: RAG (RAG)\\n- ..."."""
        head = f"Recommended: {self.choice}" + (f" ({self.approach})" if self.approach and self.approach != self.choice else "")
        return "\n".join([head, *(f"- {r}" for r in self.reasons)])


def check_answers(answers: dict) -> dict:
    """The answers with defaults filled in and each value checked. Example: check_answers({"need": "behaviour"})["change"] -> "monthly"."""
    out = {**DEFAULT_ANSWERS, **(answers or {})}
    for key, allowed in (("change", CHANGE), ("traceability", TRACEABILITY), ("need", NEED), ("compute", COMPUTE)):
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

    Example: [c.approach for c in knowledge_candidates(check_answers({}), results) if not c.excluded] -> ["RAG", "RAFT + RAG"]
    """
    a = check_answers(answers)
    fresh = results.get("freshness") or {}
    w, changes = FRESH_WEIGHT[a["change"]], CHANGES_PER_YEAR[a["change"]]
    out = []
    for approach, row in results.get("scoreboard", {}).items():
        acc = _interval(row.get("accuracy"))
        if acc is None:
            continue
        trained = _mean(row, "train_s", 0.0) > 0
        latency = _mean(row, "latency_p50_s")
        gold = _mean(row, "cited_gold_by_model", _mean(row, "cited_gold"))  # older results counted attributed citations only
        figures = {"accuracy": acc[0], "accuracy_lo": acc[1], "accuracy_hi": acc[2]}
        excluded = None
        if a["compute"] == "no training" and trained:
            excluded = f"needs training ({_mean(row, 'train_s'):.1f} s here) and there is no training budget"
        elif a["traceability"] == "required" and (gold or 0.0) < TRACE_BAR:
            excluded = f"the model itself cited a gold document in {gold or 0.0:.2f} of answers, under the {TRACE_BAR:.2f} bar"
        elif latency is not None and latency > a["latency_s"]:
            excluded = f"its median answer took {latency:.2f} s, over the {a['latency_s']:.1f} s budget"
        score, lo, hi = acc
        keep_fresh = 0.0
        if w > 0:
            new = _interval(fresh.get(FRESH_ROW.get(approach, ""), {}).get("new"))
            if new is None and excluded is None:
                excluded = "how it answers after a fact changes was not measured"
            elif new is not None:
                figures["fresh"] = new[0]
                score, lo, hi = ((1 - w) * x + w * y for x, y in zip(acc, new, strict=True))
                per_change = _mean(fresh, "update_s", 0.0) if approach in RETRIEVES else _mean(fresh, "retrain_s", 0.0)
                keep_fresh = changes * per_change
                figures["per_change_s"] = per_change
        one_off = _mean(row, "index_build_s", 0.0) + _mean(row, "train_s", 0.0)
        out.append(Candidate(approach, round(score, 4), round(lo, 4), round(hi, 4), round(one_off + keep_fresh, 1), figures, excluded))
    return out


def behaviour_candidates(answers: dict, results: dict) -> list[Candidate]:
    """Zero-shot, retrieved examples and LoRA on the behaviour task, scored by label accuracy under the answers.

    Example: [c.approach for c in behaviour_candidates(check_answers({"need": "behaviour"}), results)] -> ["zero_shot", "few_shot", "lora"]
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
    `labkit.behaviour_facts`): few-shot + RAG, the behaviour LoRA alone and LoRA + RAG, scored by the share of replies stating the
    fact, after a change weighted as for knowledge. Example: [c.approach for c in together_candidates(a, results)]
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
        (lo_b, hi_b), (lo_a, hi_a) = wilson_interval(before["fact_accuracy"], before["n"]), wilson_interval(after["fact_accuracy"], after["n"])
        mix = [(1 - w) * x + w * y for x, y in ((before["fact_accuracy"], after["fact_accuracy"]), (lo_b, lo_a), (hi_b, hi_a))]
        trained = "LoRA" in approach
        excluded = "needs the behaviour LoRA's training and there is no training budget" if trained and a["compute"] == "no training" else None
        figures = {"fact": before["fact_accuracy"], "fact_after": after["fact_accuracy"], "format": before["format_compliance"]}
        cost = (results["behaviour"].get("lora") or {}).get("train_s", 0.0) if trained else 0.0  # the LoRA's one-off training
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


def pick(candidates: list[Candidate]) -> tuple[Candidate | None, Candidate | None, bool]:
    """(winner, runner-up, tied?) among the candidates no constraint excludes: the best score wins, unless the
    runner-up's interval overlaps it (no measurable difference), when the cheaper of the two wins.

    Example: pick([Candidate("RAG", 0.6, 0.5, 0.7, 10), Candidate("fine-tuned", 0.62, 0.5, 0.72, 900)]) -> (RAG, fine-tuned, True)
    """
    eligible = sorted((c for c in candidates if c.excluded is None), key=lambda c: (-c.score, c.yearly_s))
    if not eligible:
        return None, None, False
    best, runner = eligible[0], (eligible[1] if len(eligible) > 1 else None)
    tied = runner is not None and intervals_overlap((best.lo, best.hi), (runner.lo, runner.hi))
    if tied and runner.yearly_s < best.yearly_s:
        best, runner = runner, best
    return best, runner, tied


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
            verdict = ("no measurable difference (the 95% intervals overlap), so the one cheaper to keep is chosen: "
                       f"{num(f'{best.approach} yearly s', best.yearly_s, 0)} against {num(f'{runner.approach} yearly s', runner.yearly_s, 0)}"
                       + (" s of compute a year" if part == "knowledge" else " prompt tokens a message") if tied
                       else f"measurably behind ({num(f'{runner.approach} upper', runner.hi)} < {num(f'{best.approach} lower', best.lo)})")
            rec.reasons.append(f"Runner-up: {_name(runner.approach)} with {num(f'{runner.approach} score', runner.score)}; {verdict}.")
        for c in candidates:
            if c.excluded:
                rec.reasons.append(f"Excluded: {_name(c.approach)}: {c.excluded}.")
    if a["need"] == "both":
        together = together_candidates(a, results)
        best, runner, tied = pick(together)
        if best is not None:
            f = best.figures
            rec.reasons.append(
                f"Measured together (behaviour + facts: support replies in the triage format stating a product fact): {best.approach} "
                f"states the fact in {num(f'{best.approach} fact', f['fact'])} of replies and {num(f'{best.approach} fact after', f['fact_after'])} "
                f"after the facts change, with format compliance {num(f'{best.approach} format', f['format'])}"
                + (f"; {runner.approach} is within its 95% interval (no measurable difference)" if tied else "") + "."
                + "".join(f" Not {c.approach}: {c.excluded}." for c in together if c.excluded))
    if chosen:
        rec.approach = " + ".join(f"{_name(c.approach)} for the {part}" for part, c in chosen.items()) if len(chosen) > 1 else chosen[next(iter(chosen))].approach
        retrieval = any(c.approach in RETRIEVES or KIND[c.approach] == "both" for c in chosen.values())
        training = any(KIND[c.approach] in ("fine-tuning", "both") for c in chosen.values())
        rec.choice = "both" if retrieval and training else "RAG" if retrieval else "fine-tuning" if training else "base model"
    return rec


def _name(approach: str) -> str:
    return BEHAVIOUR_NAMES.get(approach, approach)


def _why(part: str, best: Candidate, a: dict, num) -> str:
    f = best.figures
    if part == "behaviour":
        return (f"For the behaviour (triage), {_name(best.approach)} labels {num(f'{best.approach} labels', f['labels'])} of test messages "
                f"correctly [{num(f'{best.approach} lower', best.lo)}, {num(f'{best.approach} upper', best.hi)}], with format compliance "
                f"{num(f'{best.approach} format', f['format'])} from a {num(f'{best.approach} prompt tokens', f['prompt_tokens'], 0)}-token prompt.")
    text = (f"For knowledge that changes {a['change']}, {best.approach} is the best measured choice: accuracy "
            f"{num(f'{best.approach} accuracy', f['accuracy'])} [{num(f'{best.approach} accuracy lower', f['accuracy_lo'])}, "
            f"{num(f'{best.approach} accuracy upper', f['accuracy_hi'])}]")
    if "fresh" in f:
        text += (f", and {num(f'{best.approach} fresh', f['fresh'])} of answers give the new value after a change "
                 f"(score {num(f'{best.approach} score', best.score)} with freshness weighted {FRESH_WEIGHT[a['change']]:.1f}); "
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
