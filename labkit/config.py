"""Configuration: paths, cache directory, quick mode, seeds, device and threads.

Everything a notebook or the command line may want to tune globally lives in one
dataclass, `Config`, read from the environment by `get_config()`. Nothing here loads a
model; that is `labkit.models`. Importing `labkit` sets the Hugging Face offline
variables (see `labkit/__init__.py`) so that no code path of the defaults reaches a hub.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
KB_DIR = DATA_DIR / "kb"


FLAG_TRUE = ("1", "true", "yes", "on")
FLAG_FALSE = ("0", "false", "no", "off", "")


def env_flag(name: str) -> bool:
    """True when an environment variable is set to a truthy value (the kit's one flag parser).

    Example: with LABKIT_QUICK=1, env_flag("LABKIT_QUICK") -> True; "0", "" or unset -> False
    Any other value (LABKIT_QUICK=maybe) reads as false and warns once, naming the values it takes:
    a typo must not silently run a 40-minute full run instead of the quick one.
    """
    value = os.environ.get(name, "").strip().lower()
    if value not in FLAG_TRUE + FLAG_FALSE:
        warn_once(f"{name}={os.environ[name]!r} is not a value labkit knows, so it reads as off: use "
                  f"{'/'.join(FLAG_TRUE)} to turn it on, {'/'.join(FLAG_FALSE[:-1])} or empty to turn it off")
    return value in FLAG_TRUE


def progress_bars(wanted: bool = True) -> bool:
    """Whether to draw progress bars: as asked, unless TQDM_DISABLE is set (tqdm's own switch; compare's worker
    processes set it, since bars from two processes would draw over each other). Example: progress_bars(True) -> True
    """
    return bool(wanted) and not env_flag("TQDM_DISABLE")


def cache_dir() -> Path:
    """Where dequantised weights, indexes and adapters are cached: $LABKIT_CACHE, else ~/.cache/labkit; without
    importing torch (Config's device does), for `labkit ask`'s quick path to a kept-loaded process.
    Example: cache_dir() -> PosixPath("/home/me/.cache/labkit")"""
    return Path(os.environ.get("LABKIT_CACHE", Path.home() / ".cache" / "labkit")).expanduser()


def _default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    return "cpu"


def check_device(device: str) -> str:
    """The device if this machine has it, else a ValueError that says what to do.

    Example: check_device("cpu") -> "cpu"; check_device("cuda") on a machine without a GPU -> ValueError
    """
    import torch

    kind = str(device).split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"LABKIT_DEVICE={device!r} is not a device labkit knows: use cpu, cuda or mps (or leave it "
                         "unset).")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"LABKIT_DEVICE={device!r} but PyTorch sees no CUDA GPU here (torch {torch.__version__}). "
            "Unset LABKIT_DEVICE (labkit picks the CPU) or install a CUDA build of torch on a GPU machine."
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"LABKIT_DEVICE={device!r} but this machine has no Apple GPU (MPS). Unset LABKIT_DEVICE to "
                         "use the CPU.")
    return device


def writable_dir(path) -> str | None:
    """Make a folder if missing and check that a file can be written in it: None if so, else why not.

    Example: writable_dir("/tmp/x") -> None; writable_dir("/etc/passwd/x") -> "Not a directory"
    """
    try:
        path = Path(path).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".labkit-write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return str(exc.strerror or exc)
    return None


def cache_problem(cache_dir) -> str | None:
    """Why the cache folder cannot be used, or None when it can (created if missing).

    Example: cache_problem("/tmp/labkit-cache") -> None; cache_problem("/etc/passwd")
        -> "... is a file, not a folder ..."
    An unusable cache costs time, not results: every run dequantises and embeds again.
    """
    path = Path(cache_dir).expanduser()
    if path.exists() and not path.is_dir():
        return (f"the cache {path} is a file, not a folder: point LABKIT_CACHE at a folder (every run re-dequantises "
                "and re-embeds until then)")
    why = writable_dir(path)
    return None if why is None else f"the cache {path} is not writable ({why}): point LABKIT_CACHE at a writable folder"


_WARNED: set = set()


def warn_once(message: str) -> None:
    """Print a warning to stderr once per process.
    Example: warn_once("cache not writable") prints it the first time only."""
    import sys

    if message not in _WARNED:
        _WARNED.add(message)
        print(f"labkit: warning: {message}", file=sys.stderr, flush=True)


@dataclass
class Config:
    # where dequantised weights, indexes and adapters are cached ($LABKIT_CACHE overrides)
    cache_dir: Path = field(default_factory=lambda: cache_dir())
    # quick mode ($LABKIT_QUICK=1): fewer questions and training steps, for CI and a first look
    quick: bool = field(default_factory=lambda: env_flag("LABKIT_QUICK"))
    # run the notebooks' long experiments here ($LABKIT_LIVE=1) or show the shipped full run at once (0);
    # unset: quick mode runs live (minutes), full mode shows the shipped run (a full live run takes most of an hour)
    live: bool = field(default_factory=lambda: env_flag("LABKIT_LIVE") if os.environ.get("LABKIT_LIVE", "").strip()
                       else env_flag("LABKIT_QUICK"))
    # base seed; experiments that run several seeds use seed, seed + 1, ...
    seed: int = 0
    # "cpu" or "cuda"; the embedded default runs on the CPU in minutes
    device: str = field(default_factory=lambda: os.environ.get("LABKIT_DEVICE") or _default_device())
    # prompts longer than this many tokens are truncated (keeps CPU latency bounded)
    max_prompt_tokens: int = 1536
    # hard ceiling on new tokens for any generation
    max_new_tokens_limit: int = 256
    # matmul precision when answering and scoring ($LABKIT_PRECISION): "auto" is bfloat16 where the hardware has bf16
    # matmuls (2-2.8x faster answers here, a few greedy answers differ: benchmarks/bench_generate.py), else float32
    precision: str = field(default_factory=lambda: os.environ.get("LABKIT_PRECISION", "auto").strip() or "auto")
    # where `labkit ask` keeps the index's vectors ($LABKIT_STORE): "faiss" (in the process), "qdrant:memory",
    # "qdrant:FOLDER" or "qdrant://host:port" (labkit.qdrant_store.parse_store checks it)
    store: str = field(default_factory=lambda: os.environ.get("LABKIT_STORE", "faiss").strip() or "faiss")

    def pick(self, quick_value, full_value):
        """The quick-mode value or the full-mode value. Example: kit.pick(20, 160) -> 20 when quick."""
        return quick_value if self.quick else full_value


def get_config(**overrides) -> Config:
    """A fresh Config from the environment, with optional overrides. Example: get_config(quick=True).quick -> True."""
    kit = Config(**overrides)
    kit.cache_dir = Path(kit.cache_dir).expanduser()
    return kit


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so that runs repeat. Example: set_seed(0)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
