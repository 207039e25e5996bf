"""Tests of labkit.forgetting: the lab's config, one short run, and the shipped sweep and its readers."""

import threading

import pytest

from labkit.data import load_sweep
from labkit.finetune import TrainConfig
from labkit.forgetting import (
    SWEEP_GRID,
    SWEEP_SETUP,
    SWEEP_TOLERANCE,
    LabSetup,
    drop_and_gain,
    final_scores,
    lab_config,
    nearest_run,
    probe_change,
    run_forgetting,
    sweep_config,
    sweep_key,
    sweep_runs,
)


def test_run_records_both_curves_from_step_zero(generator):
    points = []
    run = run_forgetting(generator, TrainConfig(num_steps=2, batch_size=4, rank=4, replay=0.25),
                         LabSetup(num_questions=2, num_probe=2, every=1), on_point=points.append, progress=False)
    assert [p["step"] for p in run.history] == [0, 1, 2] == [p["step"] for p in points]
    keys = ("step", "mc_acc", "general_acc", "loss")
    # live points = the history
    assert [{k: p[k] for k in keys} for p in points] == [{k: h[k] for k in keys} for h in run.history]
    assert run.history == run.result.history  # one history, kept by the training run
    assert run.history[0]["loss"] is None and run.history[-1]["loss"] > 0


@pytest.mark.parametrize("method, quick, steps", [("lora", True, 12), ("lora", False, 24), ("full", False, 24)])
def test_lab_config_defaults(method, quick, steps):
    train_config = lab_config(method, quick=quick)
    assert (
        train_config.method == method
        and train_config.num_steps == steps
        and train_config.rank == 16
        and train_config.lr == 2e-3
    )


@pytest.mark.parametrize("bad", [{"rank": 0}, {"lr": 0.0}, {"num_steps": -1}, {"replay": 1.0}])
def test_lab_config_rejects_zero_and_out_of_range_instead_of_defaulting(bad):
    with pytest.raises(ValueError):
        lab_config(**bad)


def test_sweep_readers():
    sweep = {"runs": [
        {"key": "a", "entry": {"method": "lora", "rank": 64, "lr": 2e-3},
         "history": [{"mc_acc": 0.25, "general_acc": 0.88}, {"mc_acc": 0.83, "general_acc": 0.69}]},
        {"key": "b", "entry": {"method": "lora", "rank": 4, "lr": 2e-3},
         "history": [{"mc_acc": 0.25, "general_acc": 0.88}, {"mc_acc": 0.5, "general_acc": 0.88}]},
        {"key": "c", "entry": {"method": "lora", "rank": 16, "lr": 2e-3, "replay": 0.5}, "history": []},
        {"key": "d", "entry": {"method": "full", "lr": 1e-4}, "history": []},
    ]}
    # sorted by rank, replay run left out
    assert [r["key"] for r in sweep_runs(sweep, "lora", lr=2e-3, replay=0.0)] == ["b", "a"]
    assert [r["key"] for r in sweep_runs(sweep, "full")] == ["d"] and len(sweep_runs(sweep)) == 4
    assert drop_and_gain(sweep["runs"][0]) == {"drop": 0.19, "gain": 0.58}
    assert nearest_run(sweep, "lora", rank=8, lr=2e-3)["key"] == "b" and nearest_run(sweep, "full",
                                                                                     lr=2e-3)["key"] == "d"


def test_shipped_sweep_covers_the_grid_and_finds_nearest():
    sweep = load_sweep()
    keys = {r["key"] for r in sweep["runs"]}
    assert keys == {sweep_key(e) for e in SWEEP_GRID}  # every grid point computed and shipped
    assert nearest_run(sweep, "full", lr=2e-3)["entry"]["method"] == "full"
    for run in sweep["runs"]:
        assert run["history"][0]["step"] == 0 and run["history"][-1]["step"] == sweep["num_steps"]


def test_shipped_sweep_agrees_with_a_rerun(generator):
    """Re-run the first sweep entry for its first scoring interval; scores must agree within SWEEP_TOLERANCE.

    Seeded CPU runs repeat exactly on one machine; across machines and thread counts float
    sums differ slightly, which can flip a near-tied item (1/12 or 1/16): the tolerance
    allows one such flip on each curve plus margin.
    """
    sweep = load_sweep()
    shipped = next(r for r in sweep["runs"] if r["key"] == sweep_key(SWEEP_GRID[0]))
    stop = threading.Event()  # the same plan as the shipped run, stopped after its first interval

    def on_point(point):
        if point["step"] >= SWEEP_SETUP.every:
            stop.set()

    train_config = sweep_config(SWEEP_GRID[0], sweep["num_steps"])
    run = run_forgetting(generator, train_config, LabSetup(**sweep["setup"]), on_point=on_point, stop=stop,
                         progress=False)
    assert run.history[-1]["step"] == SWEEP_SETUP.every
    again = {p["step"]: p for p in run.history}
    for point in shipped["history"]:
        if point["step"] in again:
            for key in ("mc_acc", "general_acc"):
                assert abs(point[key] - again[point["step"]][key]) <= SWEEP_TOLERANCE, (point, again[point["step"]])


def test_probe_change_is_measurable_only_outside_both_intervals():
    from labkit.forgetting import probe_change

    def run(before, after):
        return {"history": [{"general_acc": before, "mc_acc": 0.25}, {"general_acc": after, "mc_acc": 0.5}]}
    assert probe_change(run(0.875, 0.5), 16)["measurable"] is False  # 6 items of 16: the intervals still overlap
    assert probe_change(run(0.875, 0.5), 120)["measurable"] is True  # the same rates on the whole probe are measured
    assert probe_change(run(0.875, 0.375), 16)["measurable"] is True
    # a run with whole-probe final scores is judged on them, whatever its curve's item count
    scored = {**run(0.875, 0.875), "final": {"n_probe": 120, "general_acc_before": 0.8, "general_acc_after": 0.6}}
    assert probe_change(scored,
                        16) == probe_change(scored) and probe_change(scored)["n"] == 120 and probe_change(
                            scored)["measurable"]
    assert drop_and_gain(scored)["drop"] == 0.2
    with pytest.raises(ValueError, match="give num_probe"):
        probe_change(run(0.875, 0.5))


def test_sweep_findings_follow_the_sweep_and_its_item_count():
    from labkit.forgetting import sweep_findings

    sweep = load_sweep()
    lines = sweep_findings(sweep)
    n = {r["final"]["n_probe"] for r in sweep["runs"]}  # every shipped run has its whole-probe final scores
    assert len(lines) == len(sweep["runs"]) + 1 and n == {120} and "on these 120 probe items" in lines[-1]
    curves_only = {**sweep, "runs": [{k: v for k, v in r.items() if k != "final"} for r in sweep["runs"]]}
    # the prose follows the items
    assert f"on these {sweep['setup']['num_probe']} probe items" in sweep_findings(curves_only)[-1]


def test_whole_probe_scores_every_probe_item(generator):
    from labkit.data import load_probe
    from labkit.forgetting import probe_change, whole_probe

    final = whole_probe(generator, generator)  # one model: scored once
    assert final["n_probe"] == len(load_probe()) == 120
    # the forgetting yardstick is only useful if the base model scores well on it, and below the ceiling
    assert final["general_acc_before"] == final["general_acc_after"] and 0.70 <= final["general_acc_before"] <= 0.95
    assert not probe_change(final)["measurable"]


def test_final_scores_after_an_interrupt_are_the_kept_weights(generator, monkeypatch):
    from labkit import forgetting

    probe = forgetting.load_probe()[:8]
    monkeypatch.setattr(forgetting, "load_probe", lambda: probe)  # the whole probe is then the curve's 8 items
    stop = threading.Event()
    setup = LabSetup(num_questions=4, num_probe=8, every=4)
    train_config = lab_config(rank=4, lr=1e-2, num_steps=8)
    run = run_forgetting(generator, train_config, setup, progress=False,
                         on_point=lambda p: stop.set() if p["step"] >= 4 else None, stop=stop)
    scored_at_4 = run.result.history[-1]
    assert scored_at_4["step"] == 4
    run.result.history = run.result.history[:1]  # as after a Ctrl-C that came before the step-4 scores were recorded
    final = final_scores(generator, run, closed_book=False)
    assert final["steps_done"] == 4 and final["interrupted"]
    assert (final["mc_acc_after"], final["general_acc_after"]) == (scored_at_4["mc_acc"],
                                                                       scored_at_4["general_acc"])
    # final_scores' output carries its n, as the sweep's runs do
    assert final["n_probe"] == 8 and probe_change(final)["n"] == 8


def test_a_runs_points_print_with_their_intervals_and_a_table_not_a_dict():
    from types import SimpleNamespace

    from labkit.forgetting import ForgettingRun, LabSetup, history_markdown, point_text

    setup = LabSetup(num_questions=16, num_probe=24)
    point = {"step": 4, "loss": 2.31, "mc_acc": 0.5, "general_acc": 0.75}
    assert point_text(point, setup) == ("step   4 | loss 2.310 | mc_acc 0.50 [0.28, 0.72] (n=16) | "
                                        "general_acc 0.75 [0.55, 0.88] (n=24)")
    run = ForgettingRun(SimpleNamespace(history=[{**point, "step": 0, "loss": None}, point]), TrainConfig(), setup)
    table = history_markdown(run).splitlines()
    assert table[0] == "| step | loss | mc_acc | general_acc |" and table[2].startswith("| 0 | - | 0.50 [0.28, 0.72]")


def test_a_rerun_with_nothing_changed_is_the_run_itself():
    from types import SimpleNamespace

    from labkit.forgetting import ForgettingRun, LabSetup, rerun

    run = ForgettingRun(SimpleNamespace(history=[]), TrainConfig(rank=8, lr=2e-3), LabSetup())
    assert rerun(None, run, rank=8, lr=2e-3) is run  # nothing trains: the model is not even needed
