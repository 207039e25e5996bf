"""The experiment's commands: `labkit compare` runs the side-by-side experiment and writes its report, `labkit publish`
makes a full run's results the shipped ones.

`run_compare` checks the report folder (`check_report_dir`) before the experiment starts, and keeps the results in
the cache before the report is written, so a failing write loses nothing. `run_publish` hands a full run's
results.json to `labkit.publish` with the commit it was made at. What it leaves out: the experiment
(`compare.run_experiment`), the report (`report`), checking and writing the published record (`publish`), and
argument parsing (`labkit.cli`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from labkit.config import get_config
from labkit.limits import check

REPORT_BYTES = 20_000_000  # report.md, results.json and about ten PNG charts: a few MB, asked for with room to spare


def check_report_dir(out, overwrite: bool = False) -> Path:
    """The report folder, checked before any work: it must be a folder we can write, and not an earlier report unless
    overwrite.

    Example: check_report_dir("reports") -> PosixPath("reports"); check_report_dir("notes.txt") -> ValueError
    """
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} is a file; name a folder for the report (it will hold report.md, charts and "
                         "results.json)")
    if path.is_dir() and ((path / "report.md").exists() or (path / "results.json").exists()) and not overwrite:
        raise ValueError(f"{path} holds an earlier report; add --overwrite to replace it, or choose another --out")
    from labkit.storage import room_problem

    if (why := room_problem(path, REPORT_BYTES)) is not None:
        raise ValueError(f"cannot write the report: {why}; choose a folder you can write (--out), or free some space")
    return path


def run_compare(seeds: int | None = None, out: str = "reports", overwrite: bool = False, generator: str | None = None,
                workers: int = 1, quick: bool | None = None, **overrides) -> int:
    """`labkit compare`: run the experiment and write the report.
    Example: run_compare(seeds=1, out="/tmp/r", quick=True) -> 0.

    The report folder is checked before the experiment starts; the results are saved in the
    cache (`report.save_latest`) before the report is written, so a failing write loses nothing.
    quick: the quick sizes (`--quick`); None: $LABKIT_QUICK says.
    """
    import math

    from labkit.compare import default_compare_config, run_experiment
    from labkit.models import load_generator
    from labkit.report import latest_path, save_latest, scoreboard_markdown, write_report

    quick = get_config().quick if quick is None else quick
    ccfg = default_compare_config(quick=quick, seeds=seeds, **overrides)
    workers = check("workers", workers, "--workers")
    check_report_dir(out, overwrite)
    taught, untaught = (n if n is not None else "all" for n in (ccfg.num_questions, ccfg.num_untaught))
    print(f"labkit compare: {len(ccfg.seeds)} seed(s), {taught} taught and {untaught} untaught questions, "
          f"{ccfg.num_steps} steps ({'quick' if quick else 'full'} mode)", flush=True)
    results = run_experiment(ccfg, gen=load_generator(generator) if generator else None,
                             log=lambda s: print(s, flush=True), workers=int(workers), quick=quick)
    save_latest(results)
    try:
        path = write_report(results, out)
    except OSError as exc:
        print(f"labkit compare: could not write the report in {out} ({exc}); the results are kept in {latest_path()}",
              file=sys.stderr)
        return 1
    print(scoreboard_markdown(results["scoreboard"]))
    print(f"\nwrote {path} and charts in {path.parent} ({results['seconds']:.0f} s)")
    return 0 if all(not math.isnan(v["accuracy"]["mean"]) for v in results["scoreboard"].values()) else 1


def run_publish(results: str, note: str = "") -> int:
    """`labkit publish`: data/results.json and the README section from a full run.
    Example: run_publish("reports/results.json") -> 0."""
    import subprocess

    from labkit.config import REPO_ROOT
    from labkit.publish import publish

    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    path = publish(results, commit=commit, note=note)
    print(f"labkit publish: wrote {path} and the README's results section (commit {commit or 'unknown'})")
    return 0
