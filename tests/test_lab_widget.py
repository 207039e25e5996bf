"""Tests of labkit.lab_widget without a browser: settings, instant mode, a short live run, Stop."""

import pytest

from labkit.forgetting import LabSetup
from labkit.lab_widget import ForgettingLab, figure_png, instant_run, lab_config


@pytest.mark.parametrize("method", ["lora", "full"])
def test_instant_mode_uses_the_shipped_sweep(method):
    run = instant_run(method, lr=2e-3)
    assert run["entry"]["method"] == method and "Precomputed" in run["note"]
    lab = ForgettingLab(gen=object())
    lab.method.value = method
    lab.mode.value = "instant"  # switching mode draws the sweep at once
    assert lab.history and lab.history[-1]["step"] > 0
    assert lab.plot.value[:4] == b"\x89PNG"


def test_lab_config_follows_the_settings():
    cfg = lab_config("full", rank=4, lr=1e-4, steps=8, replay=0.25, paraphrases=2)
    assert (cfg.method, cfg.lr, cfg.num_steps, cfg.replay, cfg.paraphrases) == ("full", 1e-4, 8, 0.25, 2)


def test_live_training_disables_train_and_draws_points(generator):
    lab = ForgettingLab(gen=generator, setup=LabSetup(questions=2, probe=2, every=1))
    lab.steps.value, lab.rank.value = 4, 4
    states = []
    lab._point_orig = lab._point

    def spy(rec, cfg):
        states.append((lab.train_button.disabled, lab.stop_button.disabled))
        if rec["step"] == 1:
            lab.stop()  # as the Stop button does
        lab._point_orig(rec, cfg)

    lab._point = spy
    run = lab.train(threaded=False)
    assert states and all(s == (True, False) for s in states)
    assert run.result.interrupted and run.result.steps_done == 1
    assert [p["step"] for p in lab.history] == [0, 1]
    assert not lab.train_button.disabled and lab.stop_button.disabled and lab.error is None


def test_threaded_run_reports_errors_in_the_widget():
    lab = ForgettingLab(gen=object(), setup=LabSetup(questions=2, probe=2, every=1))
    lab.train(threaded=True)
    lab.wait(60)
    assert lab.error and "error" in lab.status.value and not lab.train_button.disabled


def test_empty_figure_renders():
    assert figure_png([], "")[:4] == b"\x89PNG"
