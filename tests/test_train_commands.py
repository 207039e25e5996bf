"""labkit.train_commands: the bodies of `labkit finetune`, `train-reader` and `sweep` called directly.

The commands as a user runs them (parsing, exit codes, refusals before any work) are in test_cli.
"""

from labkit.train_commands import run_sweep


def test_sweep_writes_to_the_cache_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path))
    written = {}
    monkeypatch.setattr("labkit.forgetting.compute_sweep", lambda gen, path,
                        **kw: written.setdefault("path", path) and {"runs": []})
    monkeypatch.setattr("labkit.models.load_generator", lambda name=None: None)
    assert run_sweep(quick=True) == 0 and written["path"] == tmp_path / "forgetting_sweep.json"
