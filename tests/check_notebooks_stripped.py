"""Fail if any notebook is committed with outputs or execution counts (run by `make test`).

Usage: python tests/check_notebooks_stripped.py notebooks
"""

import json
import sys
from pathlib import Path


def unstripped(folder: Path) -> list[str]:
    bad = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                bad.append(str(path))
                break
    return bad


if __name__ == "__main__":
    bad = unstripped(Path(sys.argv[1] if len(sys.argv) > 1 else "notebooks"))
    if bad:
        print("Notebooks committed with outputs; strip them (jupyter nbconvert --clear-output --inplace):", *bad,
              sep="\n  ")
        sys.exit(1)
    print("notebooks stripped: ok")
