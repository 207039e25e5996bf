"""The notebooks' rendered copies: each notebook run as a learner opens it, as HTML with its outputs, to compare with.

What it holds:
- `source_sha256`: a notebook's cells without outputs, hashed (what a copy was made from);
- `execute`: one notebook top to bottom in a fresh kernel, with only the given mode variables set (LABKIT_QUICK and
  LABKIT_LIVE removed otherwise: default mode, as a learner opens it); benchmarks/bench_notebooks.py times with it;
- `export_html`: an executed notebook as one HTML page that fetches nothing when opened (nbconvert's lab template
  without its scripts from a CDN; widgets say they are widgets), under a banner saying how it was made;
- `render` (`labkit render`, `make rendered`): execute, export, and record each copy in `manifest.json` (the
  notebook's `source_sha256`, the commit, the committed records' sha256), one notebook at a time;
- `stale`: every way the copies are behind the notebooks or the records, each a sentence that says `make rendered`.

What it leaves out: the notebooks' content, how long they take (benchmarks/bench_notebooks.py, data/run_times.json),
and the network guard (`make rendered` runs under tests/netguard, as `make test` does).

Example: stale() -> [] when every copy in rendered/ matches its notebook and the records
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from labkit.config import DATA_DIR, REPO_ROOT

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
RENDERED_DIR = REPO_ROOT / "rendered"
MANIFEST = "manifest.json"
INDEX = "README.md"
MODE_VARIABLES = ("LABKIT_QUICK", "LABKIT_LIVE")  # unset: default mode, notebooks 06 and 07 show the shipped run
# the committed records a notebook shows in default mode (02, 03, 05, 06, 07 and 00's run-time table read them)
RECORDS = tuple(DATA_DIR / name for name in ("results.json", "forgetting_sweep.json", "reader/labkit.json",
                                             "run_times.json", "reader_comparison.json", "retrieval.json",
                                             "corpus_size.json"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "[a widget (a control or a progress bar): it shows when you run the notebook]"  # a copy has no kernel
# nbconvert's lab template, less the scripts it would fetch from a CDN when the page is opened
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


def source_sha256(path) -> str:
    """The sha256 of a notebook's cells (kind and source), outputs, execution counts and metadata left out.

    Example: source_sha256("notebooks/00_start_here.ipynb")[:12] -> "3f2a..." (the same before and after a run)
    """
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    text = json.dumps([[c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"]]
                       for c in cells], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_hashes(records=RECORDS) -> dict:
    """Each committed record's sha256, by its path in the repository.
    Example: record_hashes()["data/results.json"][:8] -> "9c1e0b7a"."""
    return {str(Path(p).relative_to(REPO_ROOT)) if Path(p).is_relative_to(REPO_ROOT) else str(p):
            hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in records}


def notebook_paths(names=None, notebooks_dir=NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks named (by file stem or number: "01"), or all; ValueError naming the choices for any other name.
    Example: notebook_paths(["01"]) -> [PosixPath('notebooks/01_closed_book_baseline.ipynb')]."""
    every = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        found = [p for p in every if name in (p.stem, p.name, p.stem.split("_")[0])]
        if not found:
            raise ValueError(f"no notebook {name!r}: name one of {', '.join(p.stem for p in every)} (or its number)")
        chosen += [p for p in found if p not in chosen]
    return chosen


def execute(path, env: dict | None = None, timeout: int = 3600):
    """Run a notebook top to bottom in a fresh kernel (cwd: its folder) with MODE_VARIABLES removed, then `env` set;
    returns (the executed notebook, wall seconds). A failing cell raises nbclient's CellExecutionError.

    Example: nb, seconds = execute("notebooks/00_start_here.ipynb")  # default mode, as a learner opens it
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    kernel_env = {k: v for k, v in os.environ.items() if k not in MODE_VARIABLES} | dict(env or {})
    nb = nbformat.read(path, as_version=4)
    # store_widget_state=True: nbclient's Output-widget hook writes into that state when a progress bar clears its
    # output (with False it raised KeyError on notebook 02); the state itself is dropped, a copy shows no live widgets
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env=kernel_env)
    nb.metadata.pop("widgets", None)
    return nb, time.perf_counter() - start


def export_html(nb, banner: str) -> str:
    """An executed notebook as one HTML page (outputs and images inline, nothing fetched when opened), `banner`
    (Markdown) first; a widget's output becomes a line saying to run the notebook for it.

    Example: "<html" in export_html(nb, "*Rendered by `make rendered`.*") -> True
    """
    import copy

    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                out["data"] = {"text/plain": WIDGET_NOTE}
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(banner))
    exporter = HTMLExporter(template_name="lab", template_file="offline.html.j2",
                            extra_loaders=[jinja2.DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})])
    return exporter.from_notebook_node(nb)[0]


def _git(*args) -> str:
    out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO_ROOT)
    return out.stdout.strip() if out.returncode == 0 else ""


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def load_manifest(out=RENDERED_DIR) -> dict | None:
    """The copies' manifest, or None where there is none yet. Example: load_manifest()["notebooks"]["00_start_here"]."""
    path = Path(out) / MANIFEST
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def index_markdown(manifest: dict) -> str:
    """The rendered folder's README: what the copies are and one line per copy.
    Example: index_markdown(load_manifest()).splitlines()[0] -> "# Expected outputs: every notebook, run"."""
    lines = ["# Expected outputs: every notebook, run", "",
             "Each notebook executed top to bottom as a learner opens it (default mode: `LABKIT_QUICK` and "
             "`LABKIT_LIVE` unset; 06 and 07 show the shipped full run), as HTML with its outputs: open a copy in "
             "your browser beside your own run (GitHub shows HTML as source: clone or download the file). Made by "
             "`make rendered`; `manifest.json` records, for each copy, the sha256 of the notebook it was made from "
             "and of the committed results, and the commit; a test fails when a notebook or a record changed after "
             "its copy. Your numbers can differ in detail on another machine (INSTRUCTOR.md, \"When a laptop's "
             "numbers differ\").", "", "| notebook | copy | commit | date | run time here |", "|---|---|---|---|---|"]
    for stem, entry in sorted(manifest["notebooks"].items()):
        lines.append(f"| `{stem}` | [{entry['html']}]({entry['html']}) | {entry['commit']} | {entry['date']} | "
                     f"{entry['seconds']:.0f} s |")
    return "\n".join(lines) + "\n"


def render(names=None, out=RENDERED_DIR, notebooks_dir=NOTEBOOKS_DIR, timeout: int = 3600, log=print) -> int:
    """`labkit render`: execute each notebook in default mode, write `<name>.html` into `out` and its entry into the
    manifest (and the folder's README), one notebook at a time; returns how many failed (their old copies are kept).

    Example: render(["01"], out="/tmp/rendered") -> 0  # /tmp/rendered/01_closed_book_baseline.html, manifest.json
    """
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    paths = notebook_paths(names, notebooks_dir)  # a bad name is refused before anything runs or is written
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    clean = not _git("status", "--porcelain", "--", "notebooks", "labkit", "data")
    if not clean:
        log("render: notebooks/, labkit/ or data/ has uncommitted changes: the copies will name a commit that did not "
            "make them; commit first for copies to ship")
    manifest = load_manifest(out) or {"notebooks": {}}
    failed = 0
    for path in paths:
        source = source_sha256(path)
        try:
            nb, seconds = execute(path, timeout=timeout)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:  # a failed cell, or an OOM-killed kernel
            failed += 1
            log(f"render: {path.name} failed, its copy is left as it was:\n{str(exc)[-800:]}")
            continue
        machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
        date = datetime.date.today().isoformat()
        banner = (f"*Rendered copy, not the notebook: `{path.name}` run top to bottom by `make rendered` in default "
                  f"mode at commit {commit}{'' if clean else ' (with uncommitted changes)'} on {machine}, {date}, in "
                  f"{seconds:.0f} s. Open `notebooks/{path.name}` to run it yourself; your numbers can differ in "
                  "detail on another machine.*")
        html_name = f"{path.stem}.html"
        _write(out / html_name, export_html(nb, banner))
        manifest["notebooks"][path.stem] = {"html": html_name, "source_sha256": source, "commit": commit,
                                            "clean": clean, "date": date, "machine": machine,
                                            "seconds": round(seconds, 1), "records": record_hashes()}
        _write(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        _write(out / INDEX, index_markdown(manifest))
        log(f"render: {html_name} ({seconds:.0f} s)")
    return failed


def stale(notebooks_dir=NOTEBOOKS_DIR, out=RENDERED_DIR, records=RECORDS) -> list[str]:
    """Every way the rendered copies are behind: a notebook without a copy, changed since its copy, a copy missing or
    of a notebook no longer there, a committed record changed since; one sentence each, saying `make rendered`.

    Example: stale() -> ["03_rag_freshness_and_tuning changed after its rendered copy (...): run `make rendered`"]
    """
    manifest = load_manifest(out) or {"notebooks": {}}
    copies, now, problems = manifest["notebooks"], record_hashes(records), []
    fix = "run `make rendered` (or `labkit render NAME` for one notebook) and commit rendered/"
    for path in sorted(Path(notebooks_dir).glob("*.ipynb")):
        entry = copies.get(path.stem)
        if entry is None:
            problems.append(f"{path.stem} has no rendered copy: {fix}")
            continue
        if entry["source_sha256"] != source_sha256(path):
            problems.append(f"{path.stem} changed after its rendered copy (made at commit {entry['commit']}): {fix}")
        if not (Path(out) / entry["html"]).is_file():
            problems.append(f"{path.stem}'s rendered copy {entry['html']} is missing: {fix}")
        changed = sorted(k for k in now if entry.get("records", {}).get(k) != now[k])
        if changed:
            problems.append(f"{path.stem}'s rendered copy shows {', '.join(changed)} as it was before it changed: "
                            f"{fix}")
    gone = sorted(set(copies) - {p.stem for p in Path(notebooks_dir).glob("*.ipynb")})
    problems += [f"rendered/ holds a copy of {stem}, which is no longer a notebook: {fix}" for stem in gone]
    return problems
