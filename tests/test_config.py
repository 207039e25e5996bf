import pytest

from labkit.config import get_config, set_seed


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick_mode_read_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv("LABKIT_QUICK", value)
    cfg = get_config()
    assert cfg.quick is expected
    assert cfg.pick("q", "f") == ("q" if expected else "f")


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "c"))
    assert get_config().cache_dir == tmp_path / "c"


def test_set_seed_repeats_torch_draws():
    import torch

    set_seed(3)
    a = torch.rand(3)
    set_seed(3)
    assert torch.equal(a, torch.rand(3))


def test_importing_labkit_sets_offline():
    import os

    import labkit  # noqa: F401

    assert os.environ.get("HF_HUB_OFFLINE") == "1"
