import pytest

from labkit.config import get_config, set_seed


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_quick_mode_read_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv("LABKIT_QUICK", value)
    kit = get_config()
    assert kit.quick is expected
    assert kit.pick("q", "f") == ("q" if expected else "f")


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "c"))
    assert get_config().cache_dir == tmp_path / "c"


def test_set_seed_repeats_torch_draws():
    import torch

    set_seed(3)
    a = torch.rand(3)
    set_seed(3)
    assert torch.equal(a, torch.rand(3))


@pytest.mark.parametrize("value, expected",
                         [("1", True), ("YES", True), (" on ", True), ("0", False), ("no", False), ("", False)])
def test_env_flag_is_the_one_parser(monkeypatch, value, expected):
    from labkit.config import env_flag

    monkeypatch.setenv("LABKIT_SOME_FLAG", value)
    assert env_flag("LABKIT_SOME_FLAG") is expected


@pytest.mark.parametrize("online, hub_offline, expected", [("", None, "1"), ("", "0", "1"), ("1", None, None)])
def test_a_fresh_interpreter_importing_labkit_is_offline_unless_asked(online, hub_offline, expected):
    """Run in a new interpreter: in this one conftest has imported labkit already, so a re-import would prove nothing.
    An HF_HUB_OFFLINE=0 left in the shell must not switch the offline default off."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if
           not k.startswith(("HF_", "TRANSFORMERS_"))} | {"LABKIT_ONLINE": online}
    if hub_offline is not None:
        env["HF_HUB_OFFLINE"] = hub_offline
    code = "import os, labkit; print(os.environ.get('HF_HUB_OFFLINE'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(expected)


def test_cache_problem_names_a_file_and_an_unwritable_place(tmp_path):
    from labkit.config import cache_problem

    afile = tmp_path / "cache-is-a-file"
    afile.write_text("x")
    assert "is a file" in cache_problem(afile)
    assert "not writable" in cache_problem(afile / "sub")  # a folder cannot be made inside a file
    assert cache_problem(tmp_path / "fine") is None and (tmp_path / "fine").is_dir()


@pytest.mark.parametrize(("live", "quick", "expected"), [
    (None, "1", True), (None, None, False),  # unset: quick runs live, full mode shows the shipped run
    ("1", None, True), ("0", "1", False), ("", "1", True),
])
def test_live_follows_its_flag_then_quick_mode(monkeypatch, live, quick, expected):
    for name, value in (("LABKIT_LIVE", live), ("LABKIT_QUICK", quick)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert get_config().live is expected


def test_an_unknown_flag_value_warns_once_naming_it_and_reads_false(monkeypatch, capsys):
    """LABKIT_QUICK=maybe used to be read as false without a word: the user thought quick mode was on."""
    monkeypatch.setenv("LABKIT_QUICK", "maybe")
    assert get_config().quick is False
    err = capsys.readouterr().err
    assert "LABKIT_QUICK" in err and "'maybe'" in err and "1/true/yes/on" in err and "0/false/no/off" in err
    assert get_config().quick is False and capsys.readouterr().err == ""  # once per process, not at every get_config
    monkeypatch.setenv("LABKIT_QUICK", "Off")
    assert get_config().quick is False and capsys.readouterr().err == ""  # a known value says nothing
