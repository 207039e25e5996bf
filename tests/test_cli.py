"""labkit.cli: doctor, ask, finetune, sweep and compare as a user runs them."""

import json
import subprocess
import sys

import pytest

from labkit.cli import doctor_report, format_doctor, main, run_ask


def test_doctor_without_loading_lists_model_files(capsys):
    assert main(["doctor", "--no-load", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["generator_file"].endswith(".gguf")
    assert report["embedder_dir"].endswith("model")
    assert report["offline"] is True and report["problems"] == []


def test_doctor_loads_models(generator):
    report = doctor_report(load=True)
    assert report["generator_loaded_from"] == "safetensors cache"
    assert report["embedding_dim"] == 384
    assert "generator_load_s" in format_doctor(report)


def test_console_script_runs_offline():
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "doctor", "--no-load"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "problems: none" in out.stdout


def test_labkit_ask_json_on_own_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text("# Grey Point Lighthouse\n\nThe Grey Point Lighthouse was built in 1871 by Ada Pell.\n")
    (docs / "notes.txt").write_bytes("Le caf\xe9 ferme \xe0 midi.".encode("latin-1"))
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02")
    assert run_ask("When was the Grey Point Lighthouse built?", docs=str(docs), top_k=2, as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sources"][0]["path"].endswith("lighthouse.md") and out["sources"][0]["chunk_id"] == "lighthouse#0"
    assert {"retrieve_s", "generate_s"} <= set(out["timings"]) and out["documents"] == 2
    assert out["skipped"][0]["path"] == "blob.txt" and out["warnings"][0]["path"] == "notes.txt"


@pytest.mark.parametrize("question,top_k", [("", 3), ("ok?", 0)])
def test_labkit_ask_bad_arguments(question, top_k):
    with pytest.raises(ValueError):
        run_ask(question, top_k=top_k)


def test_finetune_command_json(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("LABKIT_QUICK", "1")
    assert main(["finetune", "--rank", "4", "--num-steps", "2", "--fact-statements", "0", "--json", "--save", "tiny"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["rank"] == 4 and out["config"]["num_steps"] == 2 and out["config"]["fact_statements"] == 0
    assert [h["step"] for h in out["history"]][0] == 0 and out["history"][-1]["step"] == 2
    assert out["final"]["steps_done"] == 2 and out["saved"]["name"] == "tiny" and (tmp_path / "adapters" / "tiny" / "labkit.json").is_file()


@pytest.mark.parametrize("argv, message", [(["finetune", "--rank", "0"], "rank"), (["finetune", "--lr", "0"], "lr"),
                                          (["finetune", "--save", "../x"], "not allowed")])
def test_finetune_command_rejects_bad_values_before_training(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_sweep_command_writes_where_asked(tmp_path, capsys, monkeypatch):
    from labkit import forgetting

    monkeypatch.setattr(forgetting, "SWEEP_SETUP", forgetting.LabSetup(num_questions=2, num_probe=2, every=4))
    out = tmp_path / "sweep.json"
    assert main(["sweep", "--quick", "--out", str(out)]) == 0
    sweep = json.loads(out.read_text())
    assert [r["key"] for r in sweep["runs"]] == [forgetting.sweep_key(e) for e in forgetting.SWEEP_GRID[:2]]
    assert sweep["num_steps"] == 8 and sweep["runs"][0]["history"][-1]["step"] == 8
    assert f"wrote 2 runs to {out}" in capsys.readouterr().out
