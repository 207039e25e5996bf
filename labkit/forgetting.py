"""Forgetting: train while scoring the new knowledge and the general probe, and the shipped sweep.

What is here:
- `LabSetup` / `default_setup`: which questions are taught, how many items are scored and how often.
- `lab_config`: the lab's training settings (LoRA or full, rank, lr, num_steps, replay,
  fact_statements), built by `finetune.make_config`.
- `run_forgetting`: one training run (LoRA or full, with replay) whose history records
  {step, mc_acc, general_acc, loss, seconds}: mc_acc on the held-out paraphrases
  of the taught questions (never trained on), general_acc on data/general_probe.jsonl,
  both scored by `multiple_choice.mc_accuracy`.
- `final_scores`: before/after scores including closed-book generation accuracy; `point_text` /
  `history_markdown`: a run's scored points with their intervals and n; `rerun`: the same run with one setting changed
  (the run itself when nothing changed: greedy and seeded, it would repeat).
- The sweep: `SWEEP_GRID`, `compute_sweep` (what `labkit sweep` runs), and for reading the
  shipped one (`data.load_sweep`): `nearest_run`, `sweep_runs`, `drop_and_gain`,
  `probe_change` (the general-probe change with its 95% intervals) and `sweep_findings`
  (what the sweep says, each sentence computed from it and its item counts: `run_finding` per run, `sweep_summary`).

What is left out: the widget (`labkit.forgetting_lab.ForgettingLab`), the plots (`labkit.forgetting_plots`),
the multiple-choice scorer (`labkit.multiple_choice`) and the training loop (`labkit.finetune`).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit.config import get_config
from labkit.data import load_probe, load_qa, spread
from labkit.evaluate import evaluate_batched
from labkit.finetune import TrainConfig, build_examples, general_examples, make_config, train
from labkit.multiple_choice import mc_accuracy, mc_items_from_probe, mc_items_from_qa
from labkit.stats import intervals_overlap, rate_text, wilson_interval


@dataclass
class LabSetup:
    # qa records taught, spread evenly over the knowledge base; mc_acc is scored on their held-out paraphrases
    num_questions: int = 16
    num_probe: int = 24  # general-probe items scored for general_acc (quick mode: 16)
    every: int = 4  # score both curves every this many steps (and at step 0 and the last step)
    seed: int = 0  # order of the multiple-choice options


def default_setup(quick: bool | None = None) -> LabSetup:
    """The lab's sizes for this mode. Example: default_setup(quick=True).num_probe -> 16."""
    quick = get_config().quick if quick is None else quick
    return LabSetup(num_probe=16) if quick else LabSetup()


def lab_config(method: str = "lora", rank: int | None = None, lr: float | None = None, num_steps: int | None = None,
               replay: float | None = None, fact_statements: int | None = None,
               quick: bool | None = None) -> TrainConfig:
    """The lab's training settings; None keeps the default (num_steps: 12 in quick mode, else 24).

    Example: lab_config("full", lr=1e-4).method -> "full"; lab_config(rank=0) -> ValueError
    """
    quick = get_config().quick if quick is None else quick
    if num_steps is None:
        num_steps = 12 if quick else TrainConfig().num_steps
    return make_config(method=method, rank=rank, lr=lr, num_steps=num_steps, replay=replay,
                       fact_statements=fact_statements)


# ---------------------------------------------------------------- one run


def lesson(setup: LabSetup | None = None):
    """The taught questions and the two scored item sets. Example: qs, dom, gen_items = lesson(); len(dom) -> 24."""
    setup = setup or default_setup()
    questions = spread(load_qa(), setup.num_questions)
    domain_items = mc_items_from_qa(questions, "paraphrases", per_question=1, seed=setup.seed)
    general_items = mc_items_from_probe(spread(load_probe(), setup.num_probe))
    return questions, domain_items, general_items


@dataclass
class ForgettingRun:
    """A run: its TrainResult (trained model, history, how it ended), setup and taught questions."""

    result: object = None  # labkit.finetune.TrainResult; its history holds both curves
    config: TrainConfig | None = None
    setup: LabSetup | None = None
    questions: list = field(default_factory=list)  # the taught qa records

    @property
    def history(self) -> list[dict]:
        """The scored points of the run: dicts with step, mc_acc, general_acc, loss, seconds (and tokens)."""
        return [h for h in (self.result.history if self.result is not None else []) if "mc_acc" in h]


def run_forgetting(gen, train_config: TrainConfig | None = None, setup: LabSetup | None = None, on_point=None,
                   stop=None, progress: bool = True) -> ForgettingRun:
    """Train on the lesson while scoring mc_acc and general_acc at step 0 and every `setup.every` steps.

    Example: run_forgetting(gen, lab_config("lora")).history[-1]
        -> {"step": 24, "mc_acc": 0.83, "general_acc": 0.79, ...}
    `on_point(record)` sees each history record as soon as it is scored (the widget plots
    it live); `stop` is a threading.Event that ends the run after the current step.
    """
    t0 = time.perf_counter()
    train_config = train_config or lab_config()
    setup = setup or default_setup()
    questions, domain_items, general_items = lesson(setup)
    examples = build_examples(gen, questions, fact_statements=train_config.fact_statements,
                              include_docs=train_config.include_docs)
    general = general_examples(gen) if train_config.replay > 0 else []
    run = ForgettingRun(config=train_config, setup=setup, questions=questions)

    def callback(rec, model_gen):
        scores = {"mc_acc": round(mc_accuracy(model_gen, domain_items), 4),
                  "general_acc": round(mc_accuracy(model_gen, general_items), 4)}
        if on_point is not None:
            on_point({"step": rec["step"], **scores, "loss": rec["loss"],
                      "seconds": round(time.perf_counter() - t0, 2)})
        return scores

    run.result = train(gen, examples, train_config, general=general, callback=callback, every=setup.every, stop=stop,
                       progress=progress)
    return run


def point_text(point: dict, setup: LabSetup) -> str:
    """One scored point of a run as a line: its step, loss and both rates with their intervals and n.

    Example: point_text({"step": 4, "loss": 2.31, "mc_acc": 0.5, "general_acc": 0.75}, LabSetup())
        -> "step   4 | loss 2.310 | mc_acc 0.50 [0.30, 0.70] (n=16) | general_acc 0.75 [0.55, 0.88] (n=24)"
    """
    loss = "-" if point.get("loss") is None else f"{point['loss']:.3f}"
    return (f"step {point['step']:3d} | loss {loss} | mc_acc {rate_text(point['mc_acc'], setup.num_questions)} | "
            f"general_acc {rate_text(point['general_acc'], setup.num_probe)}")


def history_markdown(run: ForgettingRun) -> str:
    """A run's scored points as a Markdown table, each rate with its 95% interval and n (never a raw dict).

    Example: history_markdown(run).splitlines()[0] -> "| step | loss | mc_acc | general_acc |"
    """
    rows = ["| step | loss | mc_acc | general_acc |", "|---|---|---|---|"]
    for p in run.history:
        loss = "-" if p.get("loss") is None else f"{p['loss']:.3f}"
        rows.append(f"| {p['step']} | {loss} | {rate_text(p['mc_acc'], run.setup.num_questions)} | "
                    f"{rate_text(p['general_acc'], run.setup.num_probe)} |")
    return "\n".join(rows)


def rerun(gen, run: ForgettingRun, on_point=None, **changes) -> ForgettingRun:
    """The same lab run with some settings changed (rank, lr, num_steps, replay, ...), or the run itself when none
    differs from its own (training is seeded and greedy: it would repeat to the digit).

    Example: rerun(gen, run, rank=4).config.rank -> 4; rerun(gen, run, rank=run.config.rank) is run -> True
    """
    if all(getattr(run.config, k) == v for k, v in changes.items()):
        return run
    return run_forgetting(gen, make_config(run.config, **changes), run.setup, on_point=on_point)


def whole_probe(gen, trained_gen, before: float | None = None) -> dict:
    """general_acc before and after training on the whole general probe (120 items): every run's final forgetting
    figure (live curves score fewer items, for speed). Example: whole_probe(gen, run.result.gen)
    -> {"n_probe": 120, "general_acc_before": 0.8, "general_acc_after": 0.67}; `before` skips scoring the base again.
    """
    items = mc_items_from_probe(load_probe())
    before = round(mc_accuracy(gen, items), 4) if before is None else before
    # the same model object: greedy scoring gives the same figure, so it is not paid for twice
    after = before if trained_gen is gen else round(mc_accuracy(trained_gen, items), 4)
    return {"n_probe": len(items), "general_acc_before": before, "general_acc_after": after}


def final_scores(gen, run: ForgettingRun, closed_book: bool = True, max_new_tokens: int = 16) -> dict:
    """Before/after scores of a run: mc_acc from its curve, general_acc on the whole probe, closed-book accuracy.

    Example: final_scores(gen, run) -> {"mc_acc_before": 0.29, "mc_acc_after": 0.83, "general_acc_before": 0.8,
    "general_acc_after": 0.67, "n_probe": 120, ..., "closed_book_after": 0.42}; probe_change(final_scores(gen, run)) ->
    its intervals Closed-book accuracy: greedy answers to the held-out paraphrases, normalised match. "after" always
    scores the weights the run kept: a run stopped (Ctrl-C) between two scoring points is scored again here, never
    reported with an older point's scores.
    """
    hist = run.history
    _, domain_items, _ = lesson(run.setup)
    first = hist[0]["mc_acc"] if hist and hist[0]["step"] == 0 else round(mc_accuracy(gen, domain_items), 4)
    last = hist[-1]["mc_acc"] if hist and hist[-1]["step"] == run.result.steps_done else round(
        mc_accuracy(run.result.gen, domain_items), 4)
    out = {
        "steps_done": run.result.steps_done,
        "interrupted": run.result.interrupted,
        "mc_acc_before": first, "mc_acc_after": last, "n_mc": len(domain_items),
        **whole_probe(gen, run.result.gen),
        "train_s": round(run.result.seconds, 1),
    }
    if closed_book:
        out["closed_book_before"] = evaluate_batched(gen, run.questions,
                                                     max_new_tokens=max_new_tokens).summary["accuracy"]
        out["closed_book_after"] = evaluate_batched(run.result.gen, run.questions,
                                                    max_new_tokens=max_new_tokens).summary["accuracy"]
    return out


# ---------------------------------------------------------------- the shipped sweep

# Each entry is one run; the step dimension comes free from each run's history.
SWEEP_GRID = [  # most telling first: a cut-short sweep still has the main contrasts
    {"method": "lora", "rank": 16, "lr": 2e-3},
    {"method": "full", "lr": 2e-3},
    {"method": "full", "lr": 1e-4},
    {"method": "lora", "rank": 16, "lr": 1e-2},
    {"method": "lora", "rank": 16, "lr": 1e-2, "replay": 0.5},  # replay where there is forgetting to curb
    {"method": "lora", "rank": 4, "lr": 2e-3},
    {"method": "lora", "rank": 64, "lr": 2e-3},
    {"method": "lora", "rank": 16, "lr": 5e-4},  # the learning-rate axis, both methods
    {"method": "full", "lr": 1e-5},
    {"method": "lora", "rank": 16, "lr": 2e-3, "replay": 0.5},
    {"method": "full", "lr": 1e-4, "replay": 0.5},
]
SWEEP_STEPS = 16  # steps of every sweep run (quick sweeps: 8)
# fixed, so the shipped numbers do not depend on quick mode
SWEEP_SETUP = LabSetup(num_questions=12, num_probe=16, every=4)
SWEEP_TOLERANCE = 0.13  # |shipped - recomputed| allowed for mc_acc and general_acc (3 items of 24; see tests)


def sweep_key(entry: dict) -> str:
    """A stable key for one sweep configuration.
    Example: {"method": "lora", "rank": 4, "lr": 0.002} -> "lora-r4-lr0.002-rp0"."""
    rank = f"-r{entry.get('rank', 16)}" if entry.get("method", "lora") == "lora" else ""
    return f"{entry.get('method', 'lora')}{rank}-lr{entry['lr']:g}-rp{entry.get('replay', 0.0):g}"


def sweep_config(entry: dict, num_steps: int) -> TrainConfig:
    """The TrainConfig of one sweep entry.
    Example: sweep_config({"method": "full", "lr": 1e-4}, 36).method -> "full"."""
    return make_config(method=entry["method"], rank=entry.get("rank", 16), lr=entry["lr"], num_steps=num_steps,
                       replay=entry.get("replay", 0.0))


def compute_sweep(gen, path, num_steps: int = SWEEP_STEPS, entries: list[dict] | None = None, log=print) -> dict:
    """Run every sweep entry and write the sweep as JSON; returns it.
    Example: compute_sweep(gen, "/tmp/s.json", 8, SWEEP_GRID[:1]).

    The file is rewritten after every run, so a sweep cut short still leaves its finished runs.
    """
    import torch

    path = Path(path)
    t0 = time.perf_counter()
    payload = {
        "about": "Forgetting-lab sweep: mc_acc (held-out paraphrases, MC) and general_acc (general probe, MC) "
                 "every few steps, one run per configuration. Regenerate with `labkit sweep`.",
        "setup": asdict(SWEEP_SETUP), "num_steps": num_steps, "tolerance": SWEEP_TOLERANCE,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "runs": [],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # every run's final figure is on the whole probe (whole_probe)
    base = round(mc_accuracy(gen, mc_items_from_probe(load_probe())), 4)
    for entry in entries or SWEEP_GRID:
        train_config = sweep_config(entry, num_steps)
        run = run_forgetting(gen, train_config, SWEEP_SETUP, progress=True)
        h = run.history
        final = whole_probe(gen, run.result.gen, before=base)
        payload["runs"].append({"key": sweep_key(entry), "entry": entry, "config": asdict(train_config), "history": h,
                                "final": final, "seconds": round(run.result.seconds, 1)})
        payload["seconds"] = round(time.perf_counter() - t0, 1)
        path.write_text(json.dumps(payload, indent=1, default=list) + "\n")
        log(f"{sweep_key(entry):<24} mc_acc {h[0]['mc_acc']:.2f} -> {h[-1]['mc_acc']:.2f}  "
            f"general {h[0]['general_acc']:.2f} -> {h[-1]['general_acc']:.2f} ({SWEEP_SETUP.num_probe} items), "
            f"{base:.2f} -> {final['general_acc_after']:.2f} (all {final['n_probe']})  {run.result.seconds:.0f} s")
    return payload


def nearest_run(sweep: dict, method: str = "lora", rank: int = 16, lr: float = 2e-3, replay: float = 0.0) -> dict:
    """The sweep run closest to a setting (same method first, then log-lr, rank, replay).
    Example: nearest_run(sweep, "full", lr=1e-4)["key"]."""

    def distance(run):
        e = run["entry"]
        d = 0.0 if e["method"] == method else 100.0
        d += abs(math.log10(e["lr"]) - math.log10(lr)) * 3
        if method == "lora" and e["method"] == "lora":
            d += abs(math.log2(e.get("rank", 16)) - math.log2(rank)) * 0.5
        return d + abs(e.get("replay", 0.0) - replay) * 4

    return min(sweep["runs"], key=distance)


def sweep_runs(sweep: dict, method: str | None = None, lr: float | None = None, rank: int | None = None,
               replay: float | None = None) -> list[dict]:
    """The sweep's runs matching every setting given (None matches any), LoRA runs sorted by rank.

    Example: [r["key"] for r in sweep_runs(sweep, "lora", lr=2e-3, replay=0.0)]
        -> ["lora-r4-...", "lora-r16-...", "lora-r64-..."]
    """
    def keep(e):
        return ((method is None or e["method"] == method) and (lr is None or math.isclose(e["lr"], lr))
                and (rank is None or e.get("rank") == rank)
                and (replay is None or math.isclose(e.get("replay", 0.0), replay)))

    return sorted((r for r in sweep["runs"] if keep(r["entry"])), key=lambda r: r["entry"].get("rank", 0))


def _general(run: dict, num_probe: int | None = None) -> tuple[float, float, int | None]:
    """general_acc before and after a run and the probe items behind them: the run's whole-probe final scores if it has
    them (sweeps since the 120-item probe; final_scores' output is such scores itself), else its curve's first and last
    points over num_probe items."""
    f = run.get("final") or (run if "n_probe" in run else None)
    if f:
        return f["general_acc_before"], f["general_acc_after"], f["n_probe"]
    return run["history"][0]["general_acc"], run["history"][-1]["general_acc"], num_probe


def drop_and_gain(run: dict) -> dict:
    """How much a run forgot (general_acc drop, on the whole probe where the run has it) and learnt (mc_acc gain).

    Example: drop_and_gain({"history": [{"mc_acc": 0.25, "general_acc": 0.88}, {"mc_acc": 0.83, "general_acc": 0.69}]})
    -> {"drop": 0.19, "gain": 0.58}
    """
    first, last = run["history"][0], run["history"][-1]
    before, after, _ = _general(run)
    return {"drop": round(before - after, 4), "gain": round(last["mc_acc"] - first["mc_acc"], 4)}


def probe_change(run: dict, num_probe: int | None = None) -> dict:
    """general_acc before and after a run, each with its 95% Wilson interval over its n probe items (the whole probe
    where the run has final scores, else num_probe); the change is measurable only where the two intervals do not
    overlap (a cautious test: overlap means "no measurable difference").

    Example: probe_change(run, 16) -> {"before": 0.875, "after": 0.5, "n": 16, "before_ci": (0.64, 0.97), "after_ci":
        (0.28, 0.72), "measurable": False}
    """
    before, after, n = _general(run, num_probe)
    if n is None:
        raise ValueError("This run has no whole-probe final scores: give num_probe, the items its curve was scored on.")
    b, a = wilson_interval(before, n), wilson_interval(after, n)
    return {"before": before, "after": after, "n": n, "before_ci": b, "after_ci": a,
            "measurable": not intervals_overlap(b, a)}


def change_text(c: dict) -> str:
    """A probe_change in words, with its intervals and n. Example: change_text(probe_change(final_scores(gen, run)))
    -> "general probe 0.80 -> 0.67 [0.58, 0.74] (no measurable change; base [0.72, 0.86], 120 items)"
    """
    verdict = ("a measurable loss" if c["measurable"] and c["after"] < c["before"] else
               "a measurable gain" if c["measurable"] else "no measurable change")
    return (f"general probe {c['before']:.2f} -> {c['after']:.2f} [{c['after_ci'][0]:.2f}, {c['after_ci'][1]:.2f}] "
            f"({verdict}; base [{c['before_ci'][0]:.2f}, {c['before_ci'][1]:.2f}], {c['n']} items)")


def run_finding(run: dict, num_probe: int | None = None) -> str:
    """One run of the sweep in words: its settings, the probe's change with its intervals and n, the knowledge gained.

    Example: run_finding(nearest_run(load_sweep()), 16) -> "- LoRA rank 16 at lr 0.002: general probe 0.80 -> 0.67
        [0.58, 0.74] (no measurable change; base [0.72, 0.86], 120 items), new knowledge +0.67."
    """
    c, g = probe_change(run, num_probe), drop_and_gain(run)
    e = run["entry"]
    name = (f"LoRA rank {e.get('rank')}" if e["method"] == "lora" else "full fine-tuning") + f" at lr {e['lr']:g}"
    name += f" with replay {e['replay']:g}" if e.get("replay") else ""
    return f"- {name}: {change_text(c)}, new knowledge {g['gain']:+.2f}."


def sweep_summary(sweep: dict) -> str:
    """How many of the sweep's runs lost general knowledge measurably, and which.

    Example: sweep_summary(load_sweep()) -> "- Of 11 runs, 3 lost general knowledge measurably on these 120 probe
        items (...); every other difference here is within the intervals: read its direction, not its size."
    """
    n = sweep["setup"]["num_probe"]  # the curve's items: used only by runs without whole-probe final scores
    losses = [r for r in sweep["runs"] if probe_change(r, n)["measurable"] and drop_and_gain(r)["drop"] > 0]
    items = sorted({probe_change(r, n)["n"] for r in sweep["runs"]})
    return (f"- Of {len(sweep['runs'])} runs, {len(losses)} lost general knowledge measurably on these "
            f"{' or '.join(map(str, items))} probe items"
            + (f" ({', '.join(r['key'] for r in losses)})" if losses else "")
            + "; every other difference here is within the intervals: read its direction, not its size.")


def sweep_findings(sweep: dict) -> list[str]:
    """What the sweep measured about forgetting, one sentence a run (`run_finding`), then `sweep_summary`.

    Example: sweep_findings(load_sweep())[0] -> "- LoRA rank 16 at lr 2e-3: general probe 0.88
        -> 0.81 [0.57, 0.93] (16 items): no measurable loss; ..."
    """
    n = sweep["setup"]["num_probe"]  # the curve's items: used only by runs without whole-probe final scores
    runs = sorted(sweep["runs"], key=lambda r: (r["entry"]["method"], r["entry"]["lr"], r["entry"].get("rank", 0),
                                                r["entry"].get("replay", 0.0)))
    return [run_finding(r, n) for r in runs] + [sweep_summary(sweep)]
