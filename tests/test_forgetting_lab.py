"""labkit.forgetting_lab: the lab built, driven and read without a browser: instant mode, settings, a live run, errors
shown."""

import pytest

from labkit.forgetting import LabSetup
from labkit.forgetting_lab import ForgettingLab, instant_run


@pytest.mark.parametrize("method", ["lora", "full"])
def test_instant_mode_uses_the_shipped_sweep(method):
    run = instant_run(method, lr=2e-3)
    assert run["entry"]["method"] == method and "Precomputed" in run["note"]
    lab = ForgettingLab(gen=object())
    lab.method.value = method
    lab.mode.value = "instant"  # switching mode draws the sweep at once
    assert lab.history == run["history"] and lab.plot.value[:4] == b"\x89PNG" and "Precomputed" in lab.status.value


def test_lab_settings_follow_the_widgets():
    lab = ForgettingLab(gen=object())
    lab.method.value, lab.rank.value, lab.lr.value, lab.num_steps.value, lab.replay.value, lab.fact_statements.value = (
        "full",
        4,
        1e-4,
        8,
        0.25,
        2,
    )
    assert lab.settings() == {"method": "full", "rank": 4, "lr": 1e-4, "num_steps": 8, "replay": 0.25,
                              "fact_statements": 2}


def test_live_training_disables_train_and_draws_points(generator, monkeypatch):
    from labkit import forgetting

    probe = forgetting.load_probe()[:6]
    # "the whole probe" of the final figure: 6 items, for speed
    monkeypatch.setattr(forgetting, "load_probe", lambda: probe)
    lab = ForgettingLab(gen=generator, setup=LabSetup(num_questions=2, num_probe=2, every=1))
    lab.num_steps.value, lab.rank.value = 4, 4
    states, plots = [], []
    original = lab._point

    def spy(rec, train_config):
        states.append((lab.train_button.disabled, lab.stop_button.disabled))
        if rec["step"] == 1:
            lab.stop()  # as the Stop button does
        original(rec, train_config)
        plots.append(lab.plot.value)

    lab._point = spy
    run = lab.train(threaded=False)
    assert states and all(s == (True, False) for s in states)
    assert run.result.interrupted and run.result.steps_done == 1
    assert [p["step"] for p in lab.history] == [0, 1] and plots[0] != plots[1]  # the picture changed with the new point
    assert (
        not lab.train_button.disabled
        and lab.stop_button.disabled
        and lab.error is None
        and "Stopped after step 1" in lab.status.value
    )
    assert lab.final["n_probe"] == 6 and "6 items" in lab.status.value  # the final figure: the whole probe, with its n


def test_threaded_run_reports_errors_in_the_widget():
    lab = ForgettingLab(gen=object(), setup=LabSetup(num_questions=2, num_probe=2, every=1))
    lab.train(threaded=True)
    lab.wait(60)
    assert lab.error and "error" in lab.status.value and not lab.train_button.disabled
    assert lab.error in "".join(o.get("text", "") for o in lab.out.outputs)
