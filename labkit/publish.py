"""Publishing a full run: the shipped `data/results.json` and the README section made from it, checked whole first.

What it holds: `check_results` (a results record is checked whole, every key the README and the report read, every
number finite, before anything is written), `publish` (both new texts made in memory, then both files replaced
together, so a bad record or a failed write leaves both as they were).
What it leaves out: the Markdown itself (`labkit.report` makes the tables, `labkit.readme` the README's block and its
markers; this module only decides whether and how it is written over the shipped files).

Example: publish("reports/results.json", commit="207d7c0") -> PosixPath('data/results.json')
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from labkit.behaviour_facts import BEHAVIOUR_FACTS_APPROACHES
from labkit.config import REPO_ROOT
from labkit.data import SHIPPED_PATH
from labkit.keys import After, renamed
from labkit.readme import RESULTS, readme_markdown, replace_block
from labkit.report import (
    behaviour_facts_markdown,
    cost_markdown,
    cost_over_time_markdown,
    freshness_markdown,
    miss_split_markdown,
    scoreboard_markdown,
)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What a published record must hold, by kind: each a test and the words an error uses.
_OBJECT = (lambda v: isinstance(v, dict), "an object")
_NUMBER = (_number, "a number")
_COUNT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0, "a whole number above 0")
_RATE = (lambda v: _number(v) and 0 <= v <= 1, "a rate between 0 and 1")
_TEXT = (lambda v: isinstance(v, str), "text")
_MISSING = object()


def check_results(results, source: str = "the results") -> dict:
    """Return a results record if `publish` can ship it whole, else raise ValueError naming the bad key and value.

    Example: check_results(load_shipped()) -> {...}; check_results({"quick": False})
        -> ValueError: ...["config"] is missing
    Checks the whole record before anything is written: a full run (`quick` is false, not missing), every number
    finite, and every key the README section, the notebooks' conclusions and the report's tables read, of its type.
    """
    fix = "publish the results.json a full-mode `labkit compare` (`make report`) wrote, unedited"
    if not isinstance(results, dict):
        raise ValueError(f"{source} holds a JSON {type(results).__name__}, not a results record (an object): {fix}")
    if results.get("quick") is True:
        raise ValueError(f"{source} is a quick-mode run; publish only a full run (`make report` without LABKIT_QUICK)")

    def fail(path, value, want):
        where = "".join(f"[{k!r}]" for k in path)
        got = "missing" if value is _MISSING else f"{json.dumps(value, default=str)[:60]}"
        raise ValueError(f"{source}: {where} is {got}, but must be {want}; {fix}")

    def walk(value, path=()):  # a NaN or an infinity anywhere would be printed as a figure ("RAG answers nan")
        if isinstance(value, float) and not math.isfinite(value):
            fail(path, value, "a finite number")
        for key, item in (value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list)
                          else ()):
            walk(item, (*path, key))

    def need(obj, path, key, kind, optional=False):
        value = obj.get(key, _MISSING)
        if optional and value in (_MISSING, None):
            return None
        if value is _MISSING or not kind[0](value):
            fail((*path, key), value, kind[1])
        return value

    def stat(obj, path, key, rate=False, interval=False, optional=True):
        s = need(obj, path, key, _OBJECT, optional)
        if s is not None:
            interval = interval or "lo" in s or "hi" in s
            need(s, (*path, key), "mean", _RATE if rate or interval else _NUMBER)
            need(s, (*path, key), "spread", _NUMBER)
            need(s, (*path, key), "n", _COUNT, optional=not interval)
            if interval:
                need(s, (*path, key), "lo", _RATE)
                need(s, (*path, key), "hi", _RATE)
        return s

    walk(results)
    if results.get("quick", _MISSING) is not False:
        fail(("quick",), results.get("quick", _MISSING), "false (a full run)")
    run_config = need(results, (), "config", _OBJECT)
    need(run_config, ("config",), "seeds", (lambda v: isinstance(v, list) and v != [], "a non-empty list"))
    for key in ("rank", "num_steps", "top_k"):
        need(run_config, ("config",), key, _NUMBER)
    need(results, (), "seconds", (lambda v: _number(v) and v >= 0, "a number of seconds"))
    seeds = need(results, (), "seeds",
                 (lambda v: isinstance(v, list) and v != [] and all(isinstance(x, dict) for x in v),
                                        "a non-empty list of objects, one per seed"))
    need(seeds[0], ("seeds", 0), "n_questions", _COUNT)
    for key in ("train_precision", "answer_precision"):
        need(results, (), key, _TEXT, optional=True)
    need(results, (), "workers", _COUNT, optional=True)
    board = need(results, (), "scoreboard",
                 (lambda v: isinstance(v, dict) and v != {}, "an object with a row per approach"))
    for approach, row in board.items():
        need(board, ("scoreboard",), approach, _OBJECT)
        stat(row, ("scoreboard", approach), "accuracy", rate=True, optional=False)
        stat(row, ("scoreboard", approach), "multi_acc", interval=True)
        for metric in row:
            stat(row, ("scoreboard", approach), metric)
    for approach, d in (need(results, (), "differences", _OBJECT, optional=True) or {}).items():
        need(results["differences"], ("differences",), approach, _OBJECT)
        for key in ("diff", "lo", "hi"):
            need(d, ("differences", approach), key, _NUMBER)
        need(d, ("differences", approach), "n", _COUNT)
        need(d, ("differences", approach), "measurable", (lambda v: isinstance(v, bool), "true or false"))
    fr = need(results, (), "freshness", _OBJECT, optional=True)
    if fr is not None:
        for key in (After.RAG, After.STALE, After.RETRAINED):
            need(fr, ("freshness",), key, _OBJECT)
        for key, value in fr.items():
            if isinstance(value, dict) and "new" in value:
                stat(value, ("freshness", key), "new", rate=True, optional=False)
                stat(value, ("freshness", key), "old", rate=True, optional=False)
        for key in ("update_s", "retrain_s", "n_updates"):
            stat(fr, ("freshness",), key, optional=False)
        if fr.get("kept_acc_before"):
            for key in ("kept_acc_before", "kept_acc_after", "num_retrain_steps"):
                stat(fr, ("freshness",), key, optional=False)
    b = need(results, (), "behaviour", _OBJECT, optional=True)
    if b is not None:
        need(b, ("behaviour",), "num_test", _COUNT)
        for key in ("top_k", "num_steps"):
            need(b, ("behaviour",), key, _NUMBER)
        for name in ("zero_shot", "few_shot", "lora"):
            row = need(b, ("behaviour",), name, _OBJECT)
            for key in ("label_accuracy", "format_compliance", "priority_accuracy"):
                need(row, ("behaviour", name), key, _RATE)
            for key in ("prompt_tokens", "seconds_per_message"):
                need(row, ("behaviour", name), key, _NUMBER)
        h = need(b, ("behaviour",), "behaviour_facts", _OBJECT, optional=True)
        if h is not None:
            for key in ("num_messages", "num_changed"):
                need(h, ("behaviour", "behaviour_facts"), key, _COUNT)
            for when in ("before", "after"):
                for approach in BEHAVIOUR_FACTS_APPROACHES:
                    row = need(need(h, ("behaviour", "behaviour_facts"), when, _OBJECT),
                               ("behaviour", "behaviour_facts", when), approach, _OBJECT)
                    need(row, ("behaviour", "behaviour_facts", when, approach), "n", _COUNT)
                    for key in ("format_compliance", "label_accuracy", "fact_accuracy"):
                        need(row, ("behaviour", "behaviour_facts", when, approach), key, _RATE)
    cp = need(results, (), "cost_projection", _OBJECT, optional=True)
    if cp is not None:
        need(results, (), "train_tokens_per_s", _NUMBER)
        for key in ("train_tokens", "total_params"):
            need(cp, ("cost_projection",), key, _NUMBER)
        need(cp, ("cost_projection",), "rows", (lambda v: isinstance(v, list) and all(
            isinstance(r, dict)
            and all(isinstance(r.get(k), str) for k in ("model", "device", "train", "per_answer", "assumption"))
            for r in v), "a list of rows, each with text for model, device, train, per_answer and assumption"))
    try:  # what is not spelled out above (the costs' per-row seconds, say) is checked by making every text from it
        _ = [readme_markdown({**results, "published": {}}), scoreboard_markdown(board), miss_split_markdown(board),
                freshness_markdown(fr), *([cost_markdown(cp)] if cp else []),
                *([cost_over_time_markdown(results)] if fr else []),
                *([behaviour_facts_markdown(b["behaviour_facts"])] if b and b.get("behaviour_facts") else [])]
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"{source}: the README section or the report cannot be made from it ({type(exc).__name__}: "
                         f"{exc}); {fix}") from None
    return results


def _replace_together(texts: dict) -> None:
    """Give several files their new text together: each is written beside its target first, then all are renamed in; if
    a rename fails, the files already renamed get their old text back.
    Example: _replace_together({path: text})."""
    import os
    import shutil

    tmps, backups, done = {}, {}, []
    try:
        for path, text in texts.items():
            tmps[path] = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            tmps[path].write_text(text, encoding="utf-8")
            if path.exists():
                shutil.copymode(path, tmps[path])
                backups[path] = path.with_name(f".{path.name}.old-{os.getpid()}")
                shutil.copy2(path, backups[path])
        for path, tmp in tmps.items():
            os.replace(tmp, path)
            done.append(path)
    except BaseException:
        for path in reversed(done):
            if path in backups:
                os.replace(backups[path], path)
            else:
                path.unlink(missing_ok=True)
        raise
    finally:
        for leftover in [*tmps.values(), *backups.values()]:
            leftover.unlink(missing_ok=True)


def publish(results_path, commit: str = "", readme=None, shipped=None, note: str = "") -> Path:
    """Make a full-mode run's results the shipped ones: `data/results.json` and the README section made from them.

    Example: publish("reports/results.json", commit="207d7c0") -> PosixPath('data/results.json')
    The record is checked whole (`check_results`: a quick run is refused, its numbers are not the ones worth quoting)
    and both new texts are made in memory before either file is touched; then both are replaced together.
    """
    import datetime
    import os
    import platform

    # the defaults are read at call time, so a test can point them at copies
    readme, shipped = Path(readme or REPO_ROOT / "README.md"), Path(shipped or SHIPPED_PATH)
    path = Path(results_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no results file at {path}: `make report` writes reports/results.json (a full-mode "
                                "run)")
    try:
        results = renamed(json.loads(path.read_text(encoding="utf-8")))  # a record from before the keys' renames too
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValueError(
            f"{path} is not a JSON results file ({exc}); publish the results.json `make report` wrote") from None
    check_results(results, source=str(path))
    results["published"] = {"date": datetime.date.today().isoformat(), "commit": commit or "?",
                            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, CPU",
                            "note": note}
    new_readme = replace_block(readme.read_text(encoding="utf-8"), RESULTS, readme_markdown(results))
    new_results = json.dumps(results, indent=1, default=str, allow_nan=False) + "\n"
    _replace_together({shipped: new_results, readme: new_readme})
    return shipped
