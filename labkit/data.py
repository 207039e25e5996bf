"""The kit's shipped data: question sets, fact updates, the general probe, the behaviour task.

Only reading and light checking lives here; the documents themselves are read by
`labkit.corpus`. Each loader returns plain dicts (one per JSONL line) so learners can
look at them directly. See data/README.md for every schema.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.config import DATA_DIR


def load_jsonl(path) -> list[dict]:
    """Read a JSON-lines file, one dict a line. Example: load_jsonl("data/qa.jsonl")[0]["id"] -> "q001"."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; run from a checkout of labkit or pass the right path.")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number} is not valid JSON ({exc.msg}); fix or remove that line.") from None
    return rows


def load_qa(limit: int | None = None) -> list[dict]:
    """The domain questions (data/qa.jsonl). Example: load_qa(2) -> [{"id": "q001", ...}, {"id": "q002", ...}]."""
    return load_jsonl(DATA_DIR / "qa.jsonl")[:limit]


def load_updates() -> list[dict]:
    """The fact changes of the freshness experiment (data/updates.jsonl). Example: load_updates()[0]["doc_id"]."""
    return load_jsonl(DATA_DIR / "updates.jsonl")


def load_probe(limit: int | None = None) -> list[dict]:
    """The general-knowledge multiple-choice probe (data/general_probe.jsonl). Example: load_probe(1)[0]["choices"]."""
    return load_jsonl(DATA_DIR / "general_probe.jsonl")[:limit]


def spread(rows: list[dict], n: int | None) -> list[dict]:
    """An evenly spaced subset of n rows (all rows if n is None), so quick mode still covers every document.

    Example: spread(list(range(10)), 3) -> [0, 3, 6]
    """
    if n is None or n >= len(rows):
        return list(rows)
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]
