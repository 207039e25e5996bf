"""The forgetting lab: train LoRA or full fine-tuning and watch mc_acc and general_acc move, live or at once.

What it holds: `ForgettingLab(gen)`, a widget built as every UI of `labkit.widgets` is (`.widget`,
a plain method under every button, errors shown in `out`): the settings, Train/Stop, and the
curves as a PNG in an Image widget. Live mode trains in a thread (so Stop works; the picture is
drawn without pyplot, safe from a thread) and scores the whole general probe at the end;
instant mode shows the shipped sweep's nearest run (`instant_run`).

What it leaves out: training while scoring (`labkit.forgetting`), the figures
(`labkit.forgetting_plots`), and the other notebooks' widgets (`labkit.widgets`).
"""

from __future__ import annotations

import html
import re
import threading

from labkit.data import load_sweep
from labkit.finetune import TrainConfig
from labkit.forgetting import (
    change_text,
    default_setup,
    lab_config,
    nearest_run,
    probe_change,
    run_forgetting,
    whole_probe,
)
from labkit.forgetting_plots import curves_png
from labkit.widgets import _UI  # what every UI shares: displaying it, its text, errors shown

RANKS = [1, 2, 4, 8, 16, 32, 64]


def instant_run(method: str = "lora", rank: int = 16, lr: float = 2e-3, replay: float = 0.0,
                sweep: dict | None = None) -> dict:
    """The shipped sweep's run nearest to the settings, with a note saying which one it is.

    Example: instant_run("full", lr=2e-3)["key"] -> "full-lr0.002-rp0"
    """
    sweep = sweep or load_sweep()
    run = dict(nearest_run(sweep, method=method, rank=rank, lr=lr, replay=replay))
    run["note"] = (
        f"Precomputed run {run['key']} ({sweep['num_steps']} steps, computed by `labkit sweep`), nearest to your "
        "settings."
    )
    return run


class ForgettingLab(_UI):
    """The forgetting lab: settings, Train/Stop, a live plot of mc_acc and general_acc.
    Example: ForgettingLab(gen) (display it)."""

    def __init__(self, gen=None, setup=None):
        import ipywidgets as w

        self.gen = gen
        self.setup = setup or default_setup()
        self.history: list[dict] = []
        self.run = None
        # the last run's general_acc before/after on the whole probe (forgetting.whole_probe)
        self.final: dict | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        d = TrainConfig()
        self.mode = w.ToggleButtons(options=["live", "instant"], value="live", description="mode")
        self.method = w.ToggleButtons(options=["lora", "full"], value="lora", description="method")
        self.rank = w.SelectionSlider(options=RANKS, value=d.rank, description="rank")
        self.lr = w.FloatLogSlider(value=d.lr, base=10, min=-5, max=-1.5, step=0.25, description="lr",
                                   readout_format=".1e")
        self.num_steps = w.IntSlider(value=lab_config().num_steps, min=4, max=64, step=4, description="num_steps")
        self.replay = w.FloatSlider(value=0.0, min=0.0, max=0.75, step=0.25, description="replay")
        self.fact_statements = w.IntSlider(value=d.fact_statements, min=0, max=4, description="fact statements")
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.status = w.HTML("ready")
        self.plot = w.Image(format="png", value=curves_png([], ""), width=540)
        self.out = w.Output()
        self.train_button.on_click(lambda _: self.on_train())
        self.stop_button.on_click(lambda _: self.stop())
        self.mode.observe(lambda change: self.on_train() if change["new"] == "instant" else None, names="value")
        controls = w.VBox([self.mode, self.method, self.rank, self.lr, self.num_steps, self.replay,
                           self.fact_statements, w.HBox([self.train_button, self.stop_button]), self.status])
        self.widget = w.VBox([w.HBox([controls, self.plot]), self.out])

    def text(self) -> str:
        return (f"Forgetting lab, settings {self.settings()}; status: {re.sub('<[^>]+>', '', self.status.value)}. "
                "Widgets do not render here: call .train(threaded=False) or .show_instant() and read .history.")

    def settings(self) -> dict:
        """The current settings as a dict. Example: lab.settings()["method"] -> "lora"."""
        return {"method": self.method.value, "rank": self.rank.value, "lr": self.lr.value,
                "num_steps": self.num_steps.value,
                "replay": self.replay.value, "fact_statements": self.fact_statements.value}

    def show_instant(self) -> dict:
        """Draw the nearest precomputed sweep run. Example: lab.show_instant()["key"] -> "lora-r16-lr0.002-rp0"."""
        s = self.settings()
        run = instant_run(s["method"], s["rank"], s["lr"], s["replay"])
        self.history = run["history"]
        self.plot.value = curves_png(self.history, run["key"])
        self.status.value = run["note"]
        return run

    def on_train(self, threaded: bool = True):
        """What the Train button does: instant mode draws the sweep, live mode trains (in a thread by default)."""
        if self.mode.value == "instant":
            try:
                return self.show_instant()
            except FileNotFoundError as exc:
                self.status.value = html.escape(str(exc))
                return None
        return self.train(threaded=threaded)

    def train(self, threaded: bool = True):
        """Train with the current settings, updating the plot at every point.
        Example: lab.train(threaded=False).history[-1]."""
        if self._thread is not None and self._thread.is_alive():
            self.status.value = "already training: press Stop first"
            return None
        try:
            train_config = lab_config(**self.settings())
        except ValueError as exc:
            self.status.value = f"<b>error</b>: {html.escape(str(exc))}"
            self._show_error(exc)
            return None
        self.history, self.error = [], None
        self._stop.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        self.status.value = "loading the model ..." if self.gen is None else "scoring step 0 ..."
        if threaded:
            self._thread = threading.Thread(target=self._work, args=(train_config,), daemon=True)
            self._thread.start()
            return self._thread
        self._work(train_config)
        return self.run

    def stop(self) -> None:
        """Ask the run to end after the current step (the model keeps that step's weights)."""
        self._stop.set()
        self.status.value = "stopping after the current step ..."

    def wait(self, timeout: float | None = None) -> None:
        """Block until a threaded run ends. Example: lab.train(); lab.wait()."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _point(self, rec: dict, train_config: TrainConfig) -> None:
        self.history.append(rec)
        self.plot.value = curves_png(self.history, f"{train_config.method}, live")
        self.status.value = (f"step {rec['step']} of {train_config.num_steps}: mc_acc {rec['mc_acc']:.2f}, "
                             f"general_acc {rec['general_acc']:.2f} ({rec['seconds']:.0f} s)")

    def _work(self, train_config: TrainConfig) -> None:
        try:
            if self.gen is None:
                from labkit.models import load_generator

                self.gen = load_generator()
            self.run = run_forgetting(self.gen, train_config, self.setup,
                                      on_point=lambda rec: self._point(rec, train_config), stop=self._stop,
                                      progress=False)
            self.status.value = self.run.result.message + "; scoring the whole general probe ..."
            # the base model scored once, not every run
            before = self.final["general_acc_before"] if self.final else None
            # the curve's points use fewer items: the final figure uses all
            self.final = whole_probe(self.gen, self.run.result.gen, before=before)
            self.status.value = (
                f"{html.escape(self.run.result.message)}<br>final: {change_text(probe_change(self.final))}"
            )
        except Exception as exc:  # shown in the widget: a thread's error would otherwise vanish
            self.error = f"{type(exc).__name__}: {exc}"
            self.status.value = f"<b>error</b>: {html.escape(self.error)}"
            self.out.append_stderr(self.error + "\n")
        finally:
            self.train_button.disabled, self.stop_button.disabled = False, True
