"""The decision guide: RAG, fine-tuning or both, with reasons backed by the kit's own measurements.

What it holds:
- `Recommendation`: the choice ("RAG", "fine-tuning" or "both"), the reasons (each quoting
  a figure measured by `labkit.compare`) and the figures quoted.
- `recommend(answers, results)`: plain rules over the learner's answers (how often the
  data changes, how much traceability matters, knowledge or behaviour, compute budget,
  latency budget) and the measured results of `labkit.compare.run_experiment`.

What it leaves out: the form a learner fills in (`labkit.widgets.DecisionGuide`), costs in
money (see `labkit.costs` for seconds) and any opinion that the scoreboard cannot back: a
rule whose figure is missing says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHANGE = ("never", "monthly", "weekly or faster")  # how often the knowledge changes
TRACEABILITY = ("nice to have", "required")  # must every answer point at its source?
NEED = ("knowledge", "behaviour", "both")  # facts to answer from, a fixed task/format to follow, or both
COMPUTE = ("no training", "some training")  # can the team afford fine-tuning runs?
DEFAULT_ANSWERS = {"change": "monthly", "traceability": "required", "need": "knowledge", "compute": "some training", "latency_s": 5.0}


@dataclass
class Recommendation:
    """What to build, why, and the measured figures the reasons quote."""

    choice: str  # "RAG", "fine-tuning" or "both"
    reasons: list = field(default_factory=list)  # one sentence each, each quoting a measured figure
    figures: dict = field(default_factory=dict)  # "name" -> the number quoted (as printed)

    def text(self) -> str:
        """The recommendation as plain text. Example: Recommendation("RAG", ["RAG answers 0.62 ..."]).text() -> "Recommended: RAG\\n- RAG answers 0.62 ..."."""
        return "\n".join([f"Recommended: {self.choice}", *(f"- {r}" for r in self.reasons)])


def _mean(results: dict, approach: str, metric: str):
    stat = results.get("scoreboard", {}).get(approach, {}).get(metric)
    return None if stat is None else stat["mean"]


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


def lora_wins_behaviour(behaviour: dict, latency_s: float) -> bool:
    """The behaviour rule: fine-tuning wins only where the measurements say so: LoRA's label accuracy within 0.05
    of the retrieved examples', or retrieved examples too slow for the latency budget.

    Example: lora_wins_behaviour({"lora": {"label_accuracy": 0.9}, "few_shot": {"label_accuracy": 0.4, "seconds_per_message": 2.3}}, 5.0) -> True
    """
    few, lora = behaviour["few_shot"], behaviour["lora"]
    return lora["label_accuracy"] >= few["label_accuracy"] - 0.05 or few.get("seconds_per_message", 0) > latency_s


def recommend(answers: dict, results: dict) -> Recommendation:
    """RAG, fine-tuning or both for these answers, with reasons quoting the measured results.

    Example: recommend({"change": "weekly or faster", "need": "knowledge"}, results).choice -> "RAG"
    `results` is what `labkit.compare.run_experiment` returns (or `report.load_latest()`).
    """
    a = check_answers(answers)
    rec = Recommendation("RAG")
    figures = rec.figures

    def num(name, value, digits=2):
        text = f"{value:.{digits}f}"
        figures[name] = text
        return text

    rag_acc, cb_acc, ft_acc = (_mean(results, x, "accuracy") for x in ("RAG", "closed-book", "fine-tuned"))
    fresh = results.get("freshness") or {}
    behaviour = results.get("behaviour")

    knowledge = a["need"] in ("knowledge", "both")
    wants_behaviour = a["need"] in ("behaviour", "both")
    can_train = a["compute"] == "some training"
    if knowledge and rag_acc is not None and cb_acc is not None:
        rec.reasons.append(f"On the kit's questions RAG answered {num('RAG accuracy', rag_acc)} correctly, against "
                           f"{num('closed-book accuracy', cb_acc)} closed-book"
                           + (f" and {num('fine-tuned accuracy', ft_acc)} after fine-tuning on the same facts." if ft_acc is not None else "."))
    if knowledge and a["change"] != "never" and fresh:
        rec.reasons.append(f"The data changes {a['change']}: after an index update of {num('update seconds', fresh['update_s']['mean'])} s, "
                           f"RAG gave the new value in {num('RAG fresh', fresh['RAG after update']['new']['mean'])} of answers; the fine-tuned "
                           f"model gave it in {num('stale fine-tune', fresh['fine-tuned (stale)']['new']['mean'])} until retrained "
                           f"({num('retrain seconds', fresh['retrain_s']['mean'], 0)} s each time).")
    cited = _mean(results, "RAG", "cited_gold_by_model")  # the model's own citations: attributed ones are 1.00 by construction
    if cited is None:
        cited = _mean(results, "RAG", "cited_gold")  # results of an older labkit
    if a["traceability"] == "required" and cited is not None:
        rec.reasons.append(f"Traceability is required: in {num('RAG gold citations', cited)} of RAG answers the model itself cited a gold document; "
                           "a fine-tuned model answering closed-book cites nothing (0.00).")
        figures["fine-tuned citations"] = "0.00"
    latency = _mean(results, "RAG", "latency_p50_s")
    if latency is not None and latency > a["latency_s"]:
        rec.reasons.append(f"Warning: RAG's median answer took {num('RAG latency', latency)} s here, over your {a['latency_s']:.1f} s budget; "
                           f"the closed-book prompt is shorter ({num('closed-book prompt tokens', _mean(results, 'closed-book', 'prompt_tokens'), 0)} "
                           f"tokens against {num('RAG prompt tokens', _mean(results, 'RAG', 'prompt_tokens'), 0)}): use fewer sources or a faster machine.")
    if wants_behaviour and behaviour:
        b = behaviour
        if can_train:
            rec.reasons.append(f"For a fixed behaviour (the triage format) LoRA reached format compliance {num('LoRA format', b['lora']['format_compliance'])} "
                               f"and label accuracy {num('LoRA labels', b['lora']['label_accuracy'])}, against "
                               f"{num('few-shot format', b['few_shot']['format_compliance'])} / {num('few-shot labels', b['few_shot']['label_accuracy'])} "
                               f"with retrieved examples and {num('zero-shot format', b['zero_shot']['format_compliance'])} zero-shot, "
                               f"after {num('behaviour training seconds', b['lora']['train_s'], 0)} s of training.")
        else:
            rec.reasons.append(f"Without training, retrieved examples are the best prompt here: format compliance "
                               f"{num('few-shot format', b['few_shot']['format_compliance'])} against {num('zero-shot format', b['zero_shot']['format_compliance'])} "
                               f"zero-shot (LoRA reached {num('LoRA format', b['lora']['format_compliance'])}).")
    forgetting = (_mean(results, "closed-book", "general_acc"), _mean(results, "fine-tuned", "general_acc"))
    if wants_behaviour and can_train and None not in forgetting:
        rec.reasons.append(f"Watch forgetting: the general probe moved from {num('general before', forgetting[0])} to "
                           f"{num('general after', forgetting[1])} after the knowledge fine-tune.")
    lora_wins = False
    if wants_behaviour and can_train and behaviour:
        few, lora = behaviour["few_shot"], behaviour["lora"]
        lora_wins = lora_wins_behaviour(behaviour, a["latency_s"])
        if not lora_wins:
            rec.reasons.append(f"Here the retrieved examples beat this LoRA run on labels ({num('few-shot labels', few['label_accuracy'])} against "
                               f"{num('LoRA labels', lora['label_accuracy'])}) within your latency budget, so retrieval is the measured choice; "
                               f"LoRA's prompt is {num('LoRA prompt tokens', lora['prompt_tokens'], 0)} tokens against {num('few-shot prompt tokens', few['prompt_tokens'], 0)}: "
                               "train longer if prompt cost matters.")
    if a["need"] == "behaviour":
        rec.choice = "fine-tuning" if lora_wins else "RAG"  # RAG here: retrieved few-shot examples, the RAG-style answer to a task
    elif a["need"] == "both":
        rec.choice = "both" if lora_wins else "RAG"
    if knowledge and not can_train and "train_s" not in figures:
        train_s = _mean(results, "fine-tuned", "train_s")
        build = _mean(results, "RAG", "index_build_s")
        if train_s is not None and build is not None:
            rec.reasons.append(f"No training budget: RAG's one-off cost is an index build of {num('index build seconds', build, 1)} s, "
                               f"against {num('train_s', train_s, 1)} s per fine-tune on this CPU.")
    if not rec.reasons:
        rec.reasons.append("The results hold no figure for these answers: run labkit compare first (0 measurements found).")
    return rec
