"""labkit.cli: every command as a user runs it: parsing, dispatch to its body, exit codes, refusals before any work.

The bodies called directly are tested in test_doctor, test_ask, test_train_commands, test_experiment_commands and
test_bundle.
"""

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from labkit.cli import main


def test_doctor_without_loading_lists_model_files(capsys):
    assert main(["doctor", "--no-load", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["generator_file"].endswith(".gguf")
    assert report["embedder_dir"].endswith("model")
    assert report["offline"] is True and report["problems"] == []


def test_console_script_runs_offline():
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "doctor", "--no-load"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "problems: none" in out.stdout


@pytest.mark.parametrize("value", ["0", "-1", "101", "nan", "five"])
def test_labkit_ask_refuses_a_bad_max_file_mb_before_any_model_loads(value, monkeypatch, capsys):
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: pytest.fail("a model was loaded"))
    assert main(["ask", "Who is the CEO?", "--max-file-mb", value]) == 2
    err = capsys.readouterr().err
    # the range and its reason (labkit.limits)
    assert "argument --max-file-mb: --max-file-mb" in err and "hours of embedding" in err


def test_labkit_ask_passes_max_file_mb_and_follow_links_to_the_folder(tmp_path, monkeypatch, embedder, capsys):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: embedder)

    def no_generator(*a, **k):
        raise RuntimeError("stopped before the generator: the folder is what this test reads")

    monkeypatch.setattr("labkit.models.load_generator", no_generator)
    (tmp_path / "outside.md").write_text("# Outside\n\nThe code is 4417.\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Good\n\nThe kettle costs $89.\n")
    (docs / "big.md").write_text("# Big\n\n" + "word " * 4000)  # 20 KB: under the default 5 MB cap
    (docs / "link.md").symlink_to(tmp_path / "outside.md")

    def indexed(options: bool):  # the folder index run_ask built, as saved in the cache (with or without the options)
        [store] = [s for s
                   in (json.loads(p.read_text()) for p in (tmp_path / "cache" / "indexes").glob("docs-*/chunks.json"))
                   if (len(s["report"]["settings"]) > 5) is options]
        return set(store["documents"]), {r["path"]: r["reason"] for r in store["report"]["skipped"]}

    assert main(["ask", "What does the kettle cost?", "--docs", str(docs)]) == 2
    assert "stopped before the generator" in capsys.readouterr().err
    documents, skipped = indexed(False)
    assert documents == {"good", "big"} and "--follow-links" in skipped["link.md"]
    assert main(["ask", "What does the kettle cost?", "--docs", str(docs), "--max-file-mb", "0.01",
                 "--follow-links"]) == 2
    documents, skipped = indexed(True)  # other settings, so its own index: the one without them stays
    assert documents == {"good", "link"} and skipped["big.md"].startswith("too big: 20.0 KB, over the 10.0 KB cap")
    assert "labkit ask --max-file-mb 1" in skipped["big.md"]


@pytest.fixture
def small_lab(monkeypatch):
    """The forgetting lab scored on 4 questions and 4 probe items: these tests check the command's plumbing, not the
    curves."""
    from labkit import forgetting

    monkeypatch.setattr(forgetting, "default_setup",
                        lambda quick=None: forgetting.LabSetup(num_questions=4, num_probe=4, every=4))
    probe = forgetting.load_probe()[:4]
    monkeypatch.setattr(forgetting, "load_probe", lambda: probe)  # the final whole-probe figure too


def test_finetune_command_json(capsys, fresh_cache, small_lab, monkeypatch):
    monkeypatch.setenv("LABKIT_QUICK", "1")
    assert main(["finetune", "--rank", "4", "--num-steps", "2", "--fact-statements", "0", "--json", "--save",
                 "tiny"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["rank"] == 4 and out["config"]["num_steps"] == 2 and out["config"]["fact_statements"] == 0
    assert [h["step"] for h in out["history"]][0] == 0 and out["history"][-1]["step"] == 2
    assert out["final"]["steps_done"] == 2 and out["saved"]["name"] == "tiny" and (fresh_cache / "adapters" / "tiny"
                                                                                   / "labkit.json").is_file()


@pytest.mark.parametrize("argv, message", [(["finetune", "--rank", "0"], "rank"), (["finetune", "--lr", "0"], "lr"),
                                          (["finetune", "--save", "../x"], "not allowed")])
def test_finetune_command_rejects_bad_values_before_training(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_sweep_command_writes_where_asked(tmp_path, capsys, monkeypatch):
    from labkit import forgetting

    monkeypatch.setattr(forgetting, "SWEEP_SETUP", forgetting.LabSetup(num_questions=2, num_probe=2, every=4))
    probe = forgetting.load_probe()[:6]  # the whole-probe scoring is test_forgetting's; here 6 items stand for the 120
    monkeypatch.setattr(forgetting, "load_probe", lambda: probe)
    sweep_config = forgetting.sweep_config  # 2 examples a step, not 8: what is tested is the file, not the training
    monkeypatch.setattr(forgetting, "sweep_config", lambda e, n: replace(sweep_config(e, n), batch_size=2))
    out = tmp_path / "sweep.json"
    assert main(["sweep", "--quick", "--out", str(out)]) == 0
    sweep = json.loads(out.read_text())
    assert [r["key"] for r in sweep["runs"]] == [forgetting.sweep_key(e) for e in forgetting.SWEEP_GRID[:2]]
    assert sweep["num_steps"] == 8 and sweep["runs"][0]["history"][-1]["step"] == 8
    # each run's final forgetting figure, on the probe it was given
    assert [r["final"]["n_probe"] for r in sweep["runs"]] == [6, 6]
    assert f"wrote 2 runs to {out}" in capsys.readouterr().out


# ---------------------------------------------------------------- bad input and interruptions lose nothing


def test_finetune_refuses_to_replace_an_adapter_before_training(fresh_cache, capsys):
    keeper = fresh_cache / "adapters" / "keeper"
    keeper.mkdir(parents=True)
    (keeper / "labkit.json").write_text('{"kind": "lora", "steps_done": 60}')
    assert main(["finetune", "--save", "keeper", "--num-steps", "2"]) == 2
    assert "exists already" in capsys.readouterr().err and (keeper
                                                            / "labkit.json").read_text(
                                                                ) == '{"kind": "lora", "steps_done": 60}'


def test_an_interrupted_finetune_keeps_the_old_adapter_scores_what_it_kept_and_exits_130(fresh_cache, small_lab,
                                                                                         monkeypatch, capsys):
    from labkit import train_commands

    monkeypatch.setenv("LABKIT_QUICK", "1")
    keeper = fresh_cache / "adapters" / "keeper"
    keeper.mkdir(parents=True)
    (keeper / "labkit.json").write_text('{"kind": "lora", "steps_done": 60}')

    def ctrl_c_after_step_4(rec):
        if rec["step"] >= 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_commands, "_print_point", ctrl_c_after_step_4)
    code = main(["finetune", "--rank", "4", "--num-steps", "12", "--save", "keeper", "--overwrite", "--save-partial"])
    out = capsys.readouterr().out
    assert code == 130
    assert (keeper / "labkit.json").read_text() == '{"kind": "lora", "steps_done": 60}'  # the good adapter is untouched
    partial = json.loads((fresh_cache / "adapters" / "keeper-partial" / "labkit.json").read_text())
    assert partial["steps_done"] == 4 and partial["interrupted"] is True
    assert re.search(r"^steps_done\s+4$", out, re.M) and re.search(r"^interrupted\s+True$", out, re.M)


def test_compare_sizes_can_be_set_and_a_wrong_one_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    from labkit import cli

    seen = {}
    monkeypatch.setattr(cli, "run_compare", lambda **kw: seen.update(kw) or 0)
    assert main(["compare", "--out", str(tmp_path / "r"), "--set", "num_steps=96", "--set", "multi_document=false",
                 "--set", "num_questions=all"]) == 0
    assert (seen["num_steps"], seen["multi_document"], seen["num_questions"]) == (96, False, None)
    seen.clear()
    assert main(["compare", "--out", str(tmp_path / "r"), "--set", "num_step=96"]) == 2
    err = capsys.readouterr().err
    assert "--set 'num_step=96'" in err and "num_steps" in err and not seen  # says what would do; nothing ran
    assert main(["compare", "--out", str(tmp_path / "r"), "--set", "num_raft_steps=0"]) == 2
    assert "num_raft_steps must be at least 1" in capsys.readouterr().err and not seen


def test_doctor_reports_an_unusable_cache(tmp_path, monkeypatch, capsys):
    afile = tmp_path / "cache-file"
    afile.write_text("x")
    monkeypatch.setenv("LABKIT_CACHE", str(afile))
    assert main(["doctor", "--no-load"]) == 1
    assert "is a file, not a folder" in capsys.readouterr().out


def test_doctor_names_the_precision_and_a_bad_one(monkeypatch, capsys):
    from labkit.models import resolve_precision

    assert main(["doctor", "--no-load"]) == 0
    assert re.search(rf"^precision\W+{resolve_precision('auto')}$", capsys.readouterr().out, re.M)
    monkeypatch.setenv("LABKIT_PRECISION", "fp8")
    assert main(["doctor", "--no-load"]) == 1
    assert "LABKIT_PRECISION" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["ask", "Who is the CEO?", "--generator", "/nonexistent/model"],
                                  ["finetune", "--num-steps", "1", "--generator", "no-such-org/no-such-model"]])
def test_generator_option_gives_the_clear_error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Cannot load generator" in err or "No model directory" in err


# ---------------------------------------------------------------- ask's output, and full or read-only disks


@pytest.fixture
def linked_cache(tmp_path, monkeypatch):
    """A fresh LABKIT_CACHE that links the converted model if this machine has it (no model is loaded here)."""
    from labkit.model_cache import generator_cache_dir

    cache = tmp_path / "cache"
    cache.mkdir()
    if generator_cache_dir().is_dir():
        (cache / generator_cache_dir().name).symlink_to(generator_cache_dir(), target_is_directory=True)
    monkeypatch.setenv("LABKIT_CACHE", str(cache))
    return cache


def test_ask_keeps_library_progress_bars_and_warnings_out_of_its_output(tmp_path, linked_cache):
    """`labkit ask` used to print two "Loading weights" bars and a transformers FutureWarning before every answer.
    One load only (the model's): --verbose, which lets them through, is tested on quiet_libraries in test_models."""
    import os

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs
     / "returns.md").write_text("# Returns\n\nYou can return any item within 45 days of delivery for a full refund.\n")
    out = subprocess.run([sys.executable, "-m", "labkit.cli", "ask", "How long is the return window?", "--docs",
                          str(docs)],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    assert "45 days" in out.stdout and "reader: the reading adapter" in out.stdout
    assert "Loading weights" not in out.stderr and "Warning" not in out.stderr, out.stderr


def test_ask_takes_verbose(capsys):
    assert main(["ask", "  ", "--verbose"]) == 2  # refused on the empty question, after the flag was read
    assert "The question is empty" in capsys.readouterr().err


class RefusingModel:
    """A stand-in for a trained LoRA model whose save fails, as safetensors reports a full disk, inside `refuse`."""

    peft_config = {"default": None}

    def __init__(self, refuse):
        import torch

        self.refuse, self.weight = refuse, torch.ones(2, 4)

    def named_parameters(self):
        yield "lora_A.default.weight", self.weight

    def save_pretrained(self, folder, safe_serialization=True):
        from pathlib import Path

        from safetensors import SafetensorError
        from safetensors.torch import save_file

        if Path(folder).is_relative_to(self.refuse):
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        save_file({"lora_A": self.weight}, str(Path(folder) / "adapter_model.safetensors"))
        (Path(folder) / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 4}')


def _no_model_load(monkeypatch):
    monkeypatch.setattr("labkit.models.load_generator", lambda *a, **k: pytest.fail("loaded a model before refusing"))


def test_finetune_save_where_the_cache_cannot_be_written_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    """It used to train and score first, then die with an OSError traceback, nothing saved. (Tests run as root, where a
    chmod 0o500 folder is still writable: a cache under a file is the read-only stand-in.)"""
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "afile" / "cache"))
    _no_model_load(monkeypatch)
    assert main(["finetune", "--save", "tiny", "--num-steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot be written" in err and "LABKIT_CACHE" in err


def test_finetune_save_on_a_disk_without_room_is_refused_before_any_work(linked_cache, monkeypatch, capsys):
    import shutil

    usage = shutil.disk_usage(linked_cache)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=500_000))  # 0.5 MB left on the disk
    _no_model_load(monkeypatch)
    assert main(["finetune", "--save", "tiny", "--rank", "4", "--num-steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "0 MB free" in err and "MB are needed" in err and "LABKIT_CACHE" in err
    assert not (linked_cache / "adapters" / "tiny").exists()


def test_train_reader_out_where_it_cannot_write_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    (tmp_path / "afile").write_text("x")
    _no_model_load(monkeypatch)
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: pytest.fail("loaded a model before refusing"))
    assert main(["train-reader", "--out", str(tmp_path / "afile" / "reader"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot be written" in err and "--out" in err


@pytest.mark.parametrize("share", ["1", "-0.1", "1.5"])
def test_train_reader_abstain_share_outside_0_to_1_is_refused_before_any_work(share, tmp_path, monkeypatch, capsys):
    _no_model_load(monkeypatch)
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: pytest.fail("loaded a model before refusing"))
    assert main(["train-reader", "--out", str(tmp_path / "reader"), "--abstain-share", share, "--no-eval"]) == 2
    err = capsys.readouterr().err
    assert "--abstain-share" in err and "abstention" in err and not (tmp_path / "reader").exists()


def test_a_trained_adapter_the_disk_refuses_is_kept_in_a_named_folder(linked_cache, tmp_path, monkeypatch, capsys):
    """The room check passed but the save failed anyway (the disk filled meanwhile): the training is not lost."""
    import tempfile
    from types import SimpleNamespace

    from labkit.finetune import TrainConfig

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    gen = SimpleNamespace(model=RefusingModel(linked_cache), tokenizer=None, name="smollm2-135m-instruct")
    result = SimpleNamespace(gen=gen, config=TrainConfig(rank=4, num_steps=2), steps_done=2, interrupted=False,
                             message="trained 2 steps", trainable_params=8, total_params=8)
    run = SimpleNamespace(result=result, history=[{"step": 0}, {"step": 2}])
    monkeypatch.setattr("labkit.models.load_generator", lambda *a, **k: SimpleNamespace(model=None, name="base"))
    monkeypatch.setattr("labkit.forgetting.run_forgetting", lambda *a, **k: run)
    monkeypatch.setattr("labkit.forgetting.final_scores", lambda *a, **k: {"steps_done": 2})
    assert main(["finetune", "--save", "tiny", "--rank", "4", "--num-steps", "2", "--json"]) == 1
    captured = capsys.readouterr()
    saved = json.loads(captured.out)["saved"]
    rescued = tmp_path / "tmp" / "labkit-rescued"
    assert saved["path"].startswith(str(rescued)) and saved["name"] == "tiny"
    assert {p.name for p in Path(saved["path"]).iterdir()} == {"adapter_model.safetensors", "adapter_config.json",
                                                               "labkit.json"}
    assert "No space left on device" in captured.err and saved["path"] in captured.err and "mv " in captured.err
    assert not (linked_cache / "adapters" / "tiny").exists()


@pytest.mark.parametrize("argv", [
    ["sweep", "--out", "{bad}/sweep.json"],
    ["compare", "--quick", "--out", "{bad}/reports"],
    ["bundle", "pack", "{bad}/labkit-bundle.tar"],
])
def test_every_command_that_writes_checks_its_destination_before_any_model_loads(argv, linked_cache, tmp_path,
                                                                                 monkeypatch, capsys):
    """Issue 30: sweep, compare and bundle pack learned of an unwritable destination only after their work (or
    never)."""
    (tmp_path / "afile").write_text("x")
    # a folder under a file: root cannot write there either
    argv = [a.replace("{bad}", str(tmp_path / "afile")) for a in argv]
    _no_model_load(monkeypatch)
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: pytest.fail("the embedder was loaded"))
    assert main(argv) == 2
    assert "cannot be written" in capsys.readouterr().err


def test_a_report_folder_on_a_full_disk_is_refused_before_the_run(linked_cache, tmp_path, monkeypatch, capsys):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=2_000_000))
    _no_model_load(monkeypatch)
    assert main(["compare", "--quick", "--out", str(tmp_path / "reports")]) == 2
    assert "2 MB free on its disk" in capsys.readouterr().err


def test_labkit_sheet_writes_the_results_sheet_into_docs(tmp_path, monkeypatch, capsys):
    import labkit.sheet

    monkeypatch.setattr(labkit.sheet, "DOCS_DIR", tmp_path)  # not the repository's docs/
    monkeypatch.setattr(labkit.sheet, "sheet_markdown", lambda *records: "# Sheet\n\n- a figure\n")
    assert main(["sheet"]) == 0
    assert (tmp_path / "results_sheet.md").read_text() == "# Sheet\n\n- a figure\n"
    assert "<li>a figure</li>" in (tmp_path / "results_sheet.html").read_text()
    assert f"wrote {tmp_path / 'results_sheet.md'}" in capsys.readouterr().out


def test_labkit_render_refuses_a_name_that_is_no_notebook_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "copies"
    assert main(["render", "../../etc/passwd", "--out", str(out)]) == 2
    assert "no notebook '../../etc/passwd': name one of 00_start_here" in capsys.readouterr().err
    assert not out.exists()  # nothing written


def test_compare_on_a_device_this_machine_lacks_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: benchmarks/bench_gpu.py runs compare there")
    monkeypatch.delenv("LABKIT_DEVICE", raising=False)
    assert main(["compare", "--device", "cuda", "--out", str(tmp_path / "out")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert "LABKIT_DEVICE" not in __import__("os").environ
