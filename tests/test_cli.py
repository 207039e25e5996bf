"""labkit.cli: doctor, ask, finetune, sweep and compare as a user runs them."""

import json
import re
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


def test_labkit_ask_json_on_own_folder(tmp_path, fresh_cache, capsys):
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
    assert out["citation_checked"] in (True, False, None) and isinstance(out["citation_missing"], list)  # rag.citation_check's


@pytest.mark.parametrize("question,top_k", [("", 3), ("ok?", 0)])
def test_labkit_ask_bad_arguments(question, top_k):
    with pytest.raises(ValueError):
        run_ask(question, top_k=top_k)


@pytest.mark.parametrize("value", ["0", "-1", "101", "nan", "five"])
def test_labkit_ask_refuses_a_bad_max_file_mb_before_any_model_loads(value, monkeypatch, capsys):
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: pytest.fail("a model was loaded"))
    assert main(["ask", "Who is the CEO?", "--max-file-mb", value]) == 2
    err = capsys.readouterr().err
    assert "argument --max-file-mb: --max-file-mb" in err and "hours of embedding" in err  # the range and its reason (labkit.limits)


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
        [store] = [s for s in (json.loads(p.read_text()) for p in (tmp_path / "cache" / "indexes").glob("docs-*/chunks.json"))
                   if (len(s["report"]["settings"]) > 5) is options]
        return set(store["documents"]), {r["path"]: r["reason"] for r in store["report"]["skipped"]}

    assert main(["ask", "What does the kettle cost?", "--docs", str(docs)]) == 2
    assert "stopped before the generator" in capsys.readouterr().err
    documents, skipped = indexed(False)
    assert documents == {"good", "big"} and "--follow-links" in skipped["link.md"]
    assert main(["ask", "What does the kettle cost?", "--docs", str(docs), "--max-file-mb", "0.01", "--follow-links"]) == 2
    documents, skipped = indexed(True)  # other settings, so its own index: the one without them stays
    assert documents == {"good", "link"} and skipped["big.md"].startswith("too big: 20.0 KB, over the 10.0 KB cap")
    assert "labkit ask --max-file-mb 1" in skipped["big.md"]


@pytest.fixture
def small_lab(monkeypatch):
    """The forgetting lab scored on 4 questions and 4 probe items: these tests check the command's plumbing, not the curves."""
    from labkit import forgetting

    monkeypatch.setattr(forgetting, "default_setup", lambda quick=None: forgetting.LabSetup(num_questions=4, num_probe=4, every=4))
    probe = forgetting.load_probe()[:4]
    monkeypatch.setattr(forgetting, "load_probe", lambda: probe)  # the final whole-probe figure too


def test_finetune_command_json(capsys, fresh_cache, small_lab, monkeypatch):
    monkeypatch.setenv("LABKIT_QUICK", "1")
    assert main(["finetune", "--rank", "4", "--num-steps", "2", "--fact-statements", "0", "--json", "--save", "tiny"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["rank"] == 4 and out["config"]["num_steps"] == 2 and out["config"]["fact_statements"] == 0
    assert [h["step"] for h in out["history"]][0] == 0 and out["history"][-1]["step"] == 2
    assert out["final"]["steps_done"] == 2 and out["saved"]["name"] == "tiny" and (fresh_cache / "adapters" / "tiny" / "labkit.json").is_file()


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
    out = tmp_path / "sweep.json"
    assert main(["sweep", "--quick", "--out", str(out)]) == 0
    sweep = json.loads(out.read_text())
    assert [r["key"] for r in sweep["runs"]] == [forgetting.sweep_key(e) for e in forgetting.SWEEP_GRID[:2]]
    assert sweep["num_steps"] == 8 and sweep["runs"][0]["history"][-1]["step"] == 8
    assert [r["final"]["n_probe"] for r in sweep["runs"]] == [6, 6]  # each run's final forgetting figure, on the probe it was given
    assert f"wrote 2 runs to {out}" in capsys.readouterr().out


# ---------------------------------------------------------------- bad input and interruptions lose nothing


def test_finetune_refuses_to_replace_an_adapter_before_training(fresh_cache, capsys):
    keeper = fresh_cache / "adapters" / "keeper"
    keeper.mkdir(parents=True)
    (keeper / "labkit.json").write_text('{"kind": "lora", "steps_done": 60}')
    assert main(["finetune", "--save", "keeper", "--num-steps", "2"]) == 2
    assert "exists already" in capsys.readouterr().err and (keeper / "labkit.json").read_text() == '{"kind": "lora", "steps_done": 60}'


def test_an_interrupted_finetune_keeps_the_old_adapter_scores_what_it_kept_and_exits_130(fresh_cache, small_lab, monkeypatch, capsys):
    import labkit.cli as cli

    monkeypatch.setenv("LABKIT_QUICK", "1")
    keeper = fresh_cache / "adapters" / "keeper"
    keeper.mkdir(parents=True)
    (keeper / "labkit.json").write_text('{"kind": "lora", "steps_done": 60}')

    def ctrl_c_after_step_4(rec):
        if rec["step"] >= 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_print_point", ctrl_c_after_step_4)
    code = main(["finetune", "--rank", "4", "--num-steps", "12", "--save", "keeper", "--overwrite", "--save-partial"])
    out = capsys.readouterr().out
    assert code == 130
    assert (keeper / "labkit.json").read_text() == '{"kind": "lora", "steps_done": 60}'  # the good adapter is untouched
    partial = json.loads((fresh_cache / "adapters" / "keeper-partial" / "labkit.json").read_text())
    assert partial["steps_done"] == 4 and partial["interrupted"] is True
    assert re.search(r"^steps_done\s+4$", out, re.M) and re.search(r"^interrupted\s+True$", out, re.M)


def test_final_scores_after_an_interrupt_are_the_kept_weights(generator, monkeypatch):
    import threading

    from labkit import forgetting
    from labkit.forgetting import LabSetup, final_scores, lab_config, probe_change, run_forgetting

    probe = forgetting.load_probe()[:8]
    monkeypatch.setattr(forgetting, "load_probe", lambda: probe)  # the whole probe is then the curve's 8 items
    stop = threading.Event()
    setup = LabSetup(num_questions=4, num_probe=8, every=4)
    cfg = lab_config(rank=4, lr=1e-2, num_steps=8)
    run = run_forgetting(generator, cfg, setup, progress=False, on_point=lambda p: stop.set() if p["step"] >= 4 else None, stop=stop)
    scored_at_4 = run.result.history[-1]
    assert scored_at_4["step"] == 4
    run.result.history = run.result.history[:1]  # as after a Ctrl-C that came before the step-4 scores were recorded
    final = final_scores(generator, run, closed_book=False)
    assert final["steps_done"] == 4 and final["interrupted"]
    assert (final["domain_acc_after"], final["general_acc_after"]) == (scored_at_4["domain_acc"], scored_at_4["general_acc"])
    assert final["n_probe"] == 8 and probe_change(final)["n"] == 8  # final_scores' output carries its n, as the sweep's runs do


@pytest.mark.parametrize("make, message", [("file", "is a file"), ("report", "--overwrite"), ("under_file", "cannot write")])
def test_compare_checks_out_before_any_work(tmp_path, capsys, monkeypatch, make, message):
    monkeypatch.setenv("LABKIT_QUICK", "1")  # --quick sets it; restored after the test
    out = tmp_path / "reports"
    if make == "file":
        out.write_text("notes")
    elif make == "report":
        out.mkdir()
        (out / "report.md").write_text("# an earlier report")
    else:
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "reports"
    assert main(["compare", "--quick", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "index:" not in captured.out  # refused before the experiment started
    if make == "report":
        assert (out / "report.md").read_text() == "# an earlier report"


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
    assert main(["compare", "--out", str(tmp_path / "r"), "--set", "raft_steps=0"]) == 2
    assert "raft_steps must be at least 1" in capsys.readouterr().err and not seen


def test_a_quick_sweep_never_replaces_the_shipped_one(capsys):
    from labkit.data import SWEEP_PATH

    before = SWEEP_PATH.read_bytes()
    assert main(["sweep", "--quick", "--out", str(SWEEP_PATH)]) == 2
    assert "quick sweep would replace" in capsys.readouterr().err and SWEEP_PATH.read_bytes() == before


def test_sweep_writes_to_the_cache_by_default(tmp_path, monkeypatch):
    from labkit import cli

    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path))
    written = {}
    monkeypatch.setattr("labkit.forgetting.compute_sweep", lambda gen, path, **kw: written.setdefault("path", path) and {"runs": []})
    monkeypatch.setattr("labkit.models.load_generator", lambda name=None: None)
    assert cli.run_sweep(quick=True) == 0 and written["path"] == tmp_path / "forgetting_sweep.json"


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


def test_publish_refuses_a_quick_run_with_what_to_do(tmp_path, capsys):
    quick = tmp_path / "results.json"
    quick.write_text(json.dumps({"quick": True}))
    assert main(["publish", str(quick)]) == 2
    assert "quick-mode run; publish only a full run" in capsys.readouterr().err


def test_bundle_packs_the_model_and_the_kits_index_only_and_doctor_says_it_is_in_use(tmp_path, monkeypatch, capsys, embedder):
    """Issue 30: pack carried all of indexes/, whose chunks.json hold the full text of every folder asked with --docs."""
    import tarfile

    model = "smollm2-x-0123456789abcdef"
    warm = tmp_path / "warm"
    (warm / model).mkdir(parents=True)
    (warm / model / "model.safetensors").write_bytes(b"weights")
    (warm / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa").mkdir(parents=True)  # an index of a folder asked with --docs
    (warm / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa" / "chunks.json").write_text("my private diary")
    (warm / "adapters" / "mine").mkdir(parents=True)
    kb, notes = tmp_path / "kb", tmp_path / "course-notes"  # the kit's knowledge base (a small stand-in) and one folder to share
    for folder, text in ((kb, "The Brimble Kettle costs $89."), (notes, "Week one covers retrieval.")):
        folder.mkdir()
        (folder / "a.md").write_text(f"# {folder.name}\n\n{text}\n")
    monkeypatch.setattr("labkit.config.KB_DIR", kb)
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: embedder)
    monkeypatch.setenv("LABKIT_CACHE", str(warm))
    assert main(["bundle", "pack", str(tmp_path / "b.tar"), "--include-docs", str(notes)]) == 0
    out = capsys.readouterr().out
    with tarfile.open(tmp_path / "b.tar") as tar:
        names = tar.getnames()
        entries = json.loads(tar.extractfile("bundle.json").read())["entries"]
    kb_index = [e for e in entries if e.startswith("indexes/kb-")]
    notes_index = [e for e in entries if e.startswith("indexes/course-notes-")]
    assert len(kb_index) == len(notes_index) == 1 and entries == sorted([model, *kb_index, *notes_index])
    assert (warm / kb_index[0] / "chunks.json").is_file()  # the folder index_folder saved, named as it names it
    assert not [n for n in names if "diary" in n or "adapters" in n]
    for entry in entries:
        assert re.search(rf"^  {re.escape(entry)}  \d+\.\d MB$", out, flags=re.M)  # each entry is listed with its size
    assert "the indexes of 1 other folder(s)" in out and doctor_report(load=False)["bundle"].startswith("none")
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "laptop"))
    assert main(["bundle", "unpack", str(tmp_path / "b.tar")]) == 0
    assert (tmp_path / "laptop" / kb_index[0] / "chunks.json").is_file() and not (tmp_path / "laptop" / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa").exists()
    assert doctor_report(load=False)["bundle"].startswith("in use: unpacked from")
    assert main(["bundle", "unpack", str(tmp_path / "missing.tar")]) == 2
    assert "make one with `labkit bundle pack`" in capsys.readouterr().err


def test_bundle_unpack_of_a_hostile_or_broken_file_is_rc_2_and_touches_nothing(tmp_path, monkeypatch, capsys):
    """Issue 30: entries ["/some/dir"] emptied that folder with rc 0; a file that is no tar gave a traceback."""
    import io
    import tarfile

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    info = json.dumps({"created": "x", "entries": [str(victim)]}).encode()
    with tarfile.open(tmp_path / "evil.tar", "w") as tar:
        member = tarfile.TarInfo("bundle.json")
        member.size = len(info)
        tar.addfile(member, io.BytesIO(info))
    (tmp_path / "junk.tar").write_text("not a tar")
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    assert main(["bundle", "unpack", str(tmp_path / "evil.tar")]) == 2
    assert "is not one a bundle may hold" in capsys.readouterr().err and (victim / "keep.txt").read_text() == "keep"
    assert main(["bundle", "unpack", str(tmp_path / "junk.tar")]) == 2
    assert "it is not a tar file" in capsys.readouterr().err


def test_publish_of_a_bad_record_is_rc_2_naming_the_key_and_leaves_both_files(tmp_path, monkeypatch, capsys):
    import shutil

    from labkit import publish
    from labkit.config import REPO_ROOT
    from labkit.data import SHIPPED_PATH

    monkeypatch.setattr(publish, "SHIPPED_PATH", shutil.copy(SHIPPED_PATH, tmp_path / "shipped.json"))  # what publish writes over
    monkeypatch.setattr(publish, "REPO_ROOT", tmp_path)
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    before = (tmp_path / "README.md").read_bytes(), (tmp_path / "shipped.json").read_bytes()
    record = json.loads(SHIPPED_PATH.read_text())
    record["scoreboard"]["RAG"]["accuracy"]["mean"] = "lots"
    (tmp_path / "results.json").write_text(json.dumps(record))
    assert main(["publish", str(tmp_path / "results.json")]) == 2
    assert "['scoreboard']['RAG']['accuracy']['mean'] is \"lots\", but must be a rate" in capsys.readouterr().err
    (tmp_path / "results.json").write_text("[1, 2]")
    assert main(["publish", str(tmp_path / "results.json")]) == 2
    assert "not a results record" in capsys.readouterr().err
    assert ((tmp_path / "README.md").read_bytes(), (tmp_path / "shipped.json").read_bytes()) == before
