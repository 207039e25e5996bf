"""The house rule: labkit's modules, in the README's order, import only modules above them (data flows one way)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_order() -> list[str]:
    table = ROOT.joinpath("README.md").read_text().split("| module | holds |", 1)[1]
    return re.findall(r"^\| `(\w+)` \|", table, flags=re.M)


def labkit_imports(module: str) -> set[str]:
    """Every labkit module a module imports, at the top or inside a function."""
    tree = ast.parse(ROOT.joinpath("labkit", f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("labkit."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "labkit":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("labkit."))
    return found - {module}


def test_the_readme_lists_every_module_once():
    modules = sorted(p.stem for p in ROOT.joinpath("labkit").glob("*.py") if p.stem != "__init__")
    order = readme_order()
    assert sorted(order) == modules and len(order) == len(set(order))


def test_every_module_imports_only_modules_above_it():
    order = readme_order()
    upward = {m: sorted(i for i in labkit_imports(m) if order.index(i) > order.index(m)) for m in order}
    assert {m: bad for m, bad in upward.items() if bad} == {}
