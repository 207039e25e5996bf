"""The forgetting lab widget: train LoRA or full fine-tuning and watch both curves live.

`ForgettingLab` holds explicit ipywidgets (method, rank, lr, steps, replay, paraphrases, a
Train button that disables itself while it runs, a Stop button, a live plot and an Output
for messages and errors), wired with `observe`/`on_click`. Training runs in a background
thread so that Stop works; each new history point redraws the plot (a PNG in an Image
widget, which is safe to update from a thread). The instant mode shows the nearest run of
the shipped sweep (data/forgetting_sweep.json) without training.

Underneath are plain functions a test calls without a browser: `lab_config`,
`instant_run`, and `ForgettingLab.train(threaded=False)`. What is left out: the RAG
widgets (labkit.widgets) and the training code itself (labkit.forgetting, labkit.finetune).
"""

from __future__ import annotations

import io
import threading

from labkit.finetune import TrainConfig
from labkit.forgetting import default_config, default_setup, load_sweep, nearest_run, run_forgetting

RANKS = [1, 2, 4, 8, 16, 32, 64]


def lab_config(method: str = "lora", rank: int = 16, lr: float = 2e-3, steps: int = 24, replay: float = 0.0, paraphrases: int = 1) -> TrainConfig:
    """The training config of the lab's settings. Example: lab_config("full", lr=1e-4).method -> "full"."""
    return default_config(method=method, rank=int(rank), lr=float(lr), num_steps=int(steps), replay=float(replay), paraphrases=int(paraphrases))


def instant_run(method: str = "lora", rank: int = 16, lr: float = 2e-3, replay: float = 0.0, sweep: dict | None = None) -> dict:
    """The shipped sweep's run nearest to the settings, with a note saying which one it is.

    Example: instant_run("full", lr=2e-3)["key"] -> "full-lr0.002-rp0"
    """
    sweep = sweep or load_sweep()
    run = dict(nearest_run(sweep, method=method, rank=rank, lr=lr, replay=replay))
    run["note"] = f"Precomputed run {run['key']} ({sweep['num_steps']} steps, computed by `labkit sweep`), nearest to your settings."
    return run


def figure_png(history: list[dict], title: str) -> bytes:
    """The two curves as PNG bytes. Example: figure_png(run.history, "lora")[:4] -> b"\\x89PNG"."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from labkit.curves import plot_curves

    fig = Figure(figsize=(6, 3.6), dpi=90)
    ax = fig.subplots()
    if history:
        plot_curves(history, ax=ax, title=title)
    else:
        ax.set_title("press Train (live) or pick instant mode")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class ForgettingLab:
    """The forgetting lab: settings, Train/Stop, a live plot. Example: ForgettingLab().widget (display it in a notebook)."""

    def __init__(self, gen=None, setup=None):
        import ipywidgets as w

        self.gen = gen
        self.setup = setup or default_setup()
        self.history: list[dict] = []
        self.run = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        d = TrainConfig()
        self.mode = w.ToggleButtons(options=["live", "instant"], value="live", description="mode")
        self.method = w.ToggleButtons(options=["lora", "full"], value="lora", description="method")
        self.rank = w.SelectionSlider(options=RANKS, value=d.rank, description="rank")
        self.lr = w.FloatLogSlider(value=d.lr, base=10, min=-5, max=-1.5, step=0.25, description="lr", readout_format=".1e")
        self.steps = w.IntSlider(value=default_config().num_steps, min=4, max=64, step=4, description="steps")
        self.replay = w.FloatSlider(value=0.0, min=0.0, max=0.75, step=0.25, description="replay")
        self.paraphrases = w.IntSlider(value=d.paraphrases, min=0, max=4, description="paraphrases")
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.status = w.HTML("ready")
        self.plot = w.Image(format="png", value=figure_png([], ""), width=540)
        self.out = w.Output()
        self.train_button.on_click(lambda _: self.on_train())
        self.stop_button.on_click(lambda _: self.stop())
        self.mode.observe(lambda change: self.on_train() if change["new"] == "instant" else None, names="value")
        controls = w.VBox([self.mode, self.method, self.rank, self.lr, self.steps, self.replay, self.paraphrases,
                           w.HBox([self.train_button, self.stop_button]), self.status])
        self.widget = w.VBox([w.HBox([controls, self.plot]), self.out])

    # ------------------------------------------------------------ plain methods (tests call these)

    def settings(self) -> dict:
        """The current settings as a dict. Example: lab.settings()["method"] -> "lora"."""
        return {"method": self.method.value, "rank": self.rank.value, "lr": self.lr.value, "steps": self.steps.value,
                "replay": self.replay.value, "paraphrases": self.paraphrases.value}

    def show_instant(self) -> dict:
        """Draw the nearest precomputed sweep run. Example: lab.show_instant()["key"] -> "lora-r16-lr0.002-rp0"."""
        s = self.settings()
        run = instant_run(s["method"], s["rank"], s["lr"], s["replay"])
        self.history = run["history"]
        self.plot.value = figure_png(self.history, run["key"])
        self.status.value = run["note"]
        return run

    def on_train(self, threaded: bool = True):
        """What the Train button does: instant mode draws the sweep, live mode trains (in a thread by default)."""
        if self.mode.value == "instant":
            try:
                return self.show_instant()
            except FileNotFoundError as exc:
                self.status.value = str(exc)
                return None
        return self.train(threaded=threaded)

    def train(self, threaded: bool = True):
        """Train with the current settings, updating the plot at every point. Example: lab.train(threaded=False).history[-1]."""
        if self._thread is not None and self._thread.is_alive():
            self.status.value = "already training: press Stop first"
            return None
        cfg = lab_config(**self.settings())
        self.history, self.error = [], None
        self._stop.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        self.status.value = "loading the model ..." if self.gen is None else "scoring step 0 ..."
        if threaded:
            self._thread = threading.Thread(target=self._work, args=(cfg,), daemon=True)
            self._thread.start()
            return self._thread
        self._work(cfg)
        return self.run

    def stop(self) -> None:
        """Ask the run to end after the current step (the model keeps that step's weights)."""
        self._stop.set()
        self.status.value = "stopping after the current step ..."

    def wait(self, timeout: float | None = None) -> None:
        """Block until a threaded run ends. Example: lab.train(); lab.wait()."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _point(self, rec: dict, cfg: TrainConfig) -> None:
        self.history.append(rec)
        self.plot.value = figure_png(self.history, f"{cfg.method}, live")
        self.status.value = (f"step {rec['step']} of {cfg.num_steps}: domain_acc {rec['domain_acc']:.2f}, "
                             f"general_acc {rec['general_acc']:.2f} ({rec['seconds']:.0f} s)")

    def _work(self, cfg: TrainConfig) -> None:
        try:
            if self.gen is None:
                from labkit.models import load_generator

                self.gen = load_generator()
            self.run = run_forgetting(self.gen, cfg, self.setup, on_point=lambda rec: self._point(rec, cfg), stop=self._stop, progress=False)
            self.status.value = self.run.result.message
        except Exception as exc:  # shown in the widget: a thread's error would otherwise vanish
            self.error = f"{type(exc).__name__}: {exc}"
            self.status.value = f"<b>error</b>: {self.error}"
            self.out.append_stderr(self.error + "\n")
        finally:
            self.train_button.disabled, self.stop_button.disabled = False, True
