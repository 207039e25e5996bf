"""How long each notebook takes, per mode: runs them, writes data/run_times.json and the README's run-time table.

Each notebook runs top to bottom in a fresh kernel (nbclient, as nbval does) with the mode's
environment (`readme.RUN_MODES`: default = full mode with 06/07 showing the shipped run;
quick = LABKIT_QUICK=1, as CI). The model cache should be warm (run `labkit doctor` once),
as on a learner's second day. Timings of modes not run this time are kept from the file. Every code cell's
seconds are kept too, by cell id (a cell over 30 s in default mode prints a warning from them before its work), with
whether the machine ran bf16 matmuls (labkit doctor tells a learner's CPU apart from it).
Prints the figures; asserts nothing.

Writes data/run_times.json, the README's table and the results sheet (docs/, `labkit sheet`), unless --no-write.

Usage: python benchmarks/bench_notebooks.py [--modes default,quick] [--only 02,03] [--cells 3] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

from labkit.config import REPO_ROOT
from labkit.data import RUN_TIMES_PATH, load_run_times
from labkit.models import resolve_precision
from labkit.readme import README, RUN_MODES, RUN_TIMES, run_times_markdown, write_block
from labkit.rendered import execute
from labkit.sheet import write_sheet

NOTEBOOKS = REPO_ROOT / "notebooks"


def cell_seconds(nb) -> list[tuple[float, int, str]]:
    """(seconds, cell index, first line) of each executed code cell, slowest first, from nbclient's timing metadata."""
    out = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            start, end = (datetime.datetime.fromisoformat(timing[k].replace("Z", "+00:00")) for k
                          in ("iopub.execute_input", "shell.execute_reply"))
            out.append(((end - start).total_seconds(), i, cell.source.splitlines()[0] if cell.source else ""))
    return sorted(out, reverse=True)


def run_notebook(path: Path, env: dict, cells: int = 0, per_cell: dict | None = None) -> float:
    """Wall seconds to execute one notebook in a fresh kernel with these environment variables set (errors raise).

    With `cells`, also prints that many of its slowest cells (the issue's limit is per cell too); `per_cell` is filled
    with every code cell's seconds by its id (a slow cell's warning reads them: labkit.data.cell_time_note)."""
    nb, seconds = execute(path, env, timeout=7200)  # LABKIT_QUICK and LABKIT_LIVE removed first: the mode is env's
    timed = cell_seconds(nb)
    for cell_s, index, first in timed[:cells]:
        print(f"    cell {index:3d} {cell_s:7.1f} s  {first[:70]}")
    if per_cell is not None:
        per_cell.update({nb.cells[index].id: round(cell_s, 1) for cell_s, index, _ in timed})
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default=",".join(RUN_MODES), help=f"comma-separated, of {', '.join(RUN_MODES)}")
    parser.add_argument("--only", default="", help="comma-separated notebook number prefixes, e.g. 02,03")
    parser.add_argument("--cells", type=int, default=3, help="print this many of each notebook's slowest cells")
    parser.add_argument("--no-write", action="store_true",
                        help="print only; leave data/run_times.json and the README alone")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(RUN_MODES)
    if unknown:
        raise SystemExit(f"unknown mode(s) {', '.join(sorted(unknown))}; choose from {', '.join(RUN_MODES)}")
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name.split("_")[0] in args.only.split(",")]

    print(f"cpu_count={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}")
    times = load_run_times() if RUN_TIMES_PATH.exists() else {"notebooks": {}}
    for path in paths:
        row = times["notebooks"].setdefault(path.stem, {})
        for mode in modes:
            per_cell: dict = {}
            seconds = run_notebook(path, RUN_MODES[mode][0], args.cells, per_cell)
            row[mode] = round(seconds, 1)
            times.setdefault("cells", {}).setdefault(path.stem, {})[mode] = per_cell
            print(f"{path.stem:32s} {mode:8s} {seconds:7.1f} s", flush=True)
    times["notebooks"] = {p.stem: times["notebooks"].get(p.stem, {}) for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO_ROOT).stdout.strip()
    times["cells"] = {p.stem: times.get("cells", {}).get(p.stem, {}) for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
    times.update(machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, CPU",
                 date=datetime.date.today().isoformat(), commit=commit or "unknown",
                 precision=resolve_precision("auto"))  # bf16 matmuls or not: labkit doctor compares a learner's CPU
    print("\n" + run_times_markdown(times))
    if not args.no_write:
        RUN_TIMES_PATH.write_text(json.dumps(times, indent=1) + "\n")
        write_block(README, RUN_TIMES, run_times_markdown(times))
        sheet = write_sheet()  # the results sheet's headings quote these times
        print(f"wrote {RUN_TIMES_PATH}, the README's run-time table and {', '.join(p.name for p in sheet)}")


if __name__ == "__main__":
    main()
