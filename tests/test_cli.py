import json
import subprocess
import sys

from labkit.cli import doctor_report, format_doctor, main


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
