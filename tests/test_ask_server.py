"""labkit.ask_server: `labkit ask` through a background process that keeps the model and the folder's index loaded
answers as a new call would, sees a changed file, refuses a bad request, and stops when told; and where it could not be
kept safely, nothing is started."""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from labkit import ask_server
from labkit.cli import main
from labkit.config import KB_DIR


@pytest.mark.parametrize("raw,minutes", [("", 10.0), ("0", 0.0), ("2.5", 2.5)])
def test_how_long_it_stays_loaded_comes_from_the_environment(raw, minutes):
    assert ask_server.idle_minutes({"LABKIT_KEEP_LOADED": raw}) == minutes


@pytest.mark.parametrize("raw", ["x", "-1", "100000"])
def test_a_bad_keep_loaded_value_says_what_to_give(raw):
    with pytest.raises(ValueError, match="LABKIT_KEEP_LOADED .*keeps the model and the folder's index loaded"):
        ask_server.idle_minutes({"LABKIT_KEEP_LOADED": raw})


def test_no_server_where_others_could_reach_its_socket(tmp_path):
    folder = tmp_path / f"labkit-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # mkdir's mode is masked by the umask
    assert ask_server.server_dir(str(tmp_path)) is None
    folder.chmod(0o700)
    assert ask_server.server_dir(str(tmp_path)) == folder
    other = tmp_path / "other"
    other.mkdir()
    (other / f"labkit-{os.getuid()}").symlink_to(folder)  # a link someone planted: not followed
    assert ask_server.server_dir(str(other)) is None


@pytest.fixture
def short_tmp(monkeypatch):
    """A short temporary folder for the sockets (a Unix socket's path has at most ~107 bytes), removed after."""
    base = tempfile.mkdtemp(prefix="lk")
    monkeypatch.setattr(tempfile, "tempdir", base)
    monkeypatch.setenv("TMPDIR", base)  # the server process finds the same folder
    yield Path(base)
    ask_server.stop_servers(ask_server.server_dir(base))
    shutil.rmtree(base, ignore_errors=True)


def test_a_later_question_is_answered_by_the_loaded_process(tmp_path, fresh_cache, short_tmp, monkeypatch, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in sorted(os.listdir(KB_DIR))[:2]:
        shutil.copy(KB_DIR / name, docs / name)
    question = "What is this document about?"
    args = ["ask", question, "--docs", str(docs), "--json", "--reader", "plain", "--keep-loaded", "2"]
    assert main(args) == 0  # answered here, then the server starts
    captured = capsys.readouterr()
    here = json.loads(captured.out)
    assert "keeping the model and this folder's index loaded for 2 minutes" in captured.err
    folder = ask_server.server_dir()
    deadline = time.monotonic() + 120
    while ask_server.running_servers(folder) == 0:
        # the server's log says why it never came up
        assert time.monotonic() < deadline, "\n".join(p.read_text() for p in folder.glob("*.log"))
        time.sleep(1)

    def not_here(*a, **k):
        raise AssertionError("answered in this process, not by the server")

    monkeypatch.setattr("labkit.cli.run_ask", not_here)
    assert main(args) == 0
    served = json.loads(capsys.readouterr().out)
    same = ("answer", "answer_kind", "sources", "reader", "retriever", "documents", "cited")
    assert {k: served[k] for k in same} == {k: here[k] for k in same}
    assert served["timings"]["index_from_cache"] is True
    # a file changed: the server indexes the folder again before answering, as a new call would
    (docs / "new.md").write_text("# The Harbour Clock\n\nThe Harbour Clock was wound by Ivo Brand until 1903.\n")
    assert main(["ask", "Who wound the Harbour Clock?", *args[2:]]) == 0
    changed = json.loads(capsys.readouterr().out)
    assert changed["documents"] == here["documents"] + 1 and changed["timings"]["index_from_cache"] is False
    assert changed["sources"][0]["path"].endswith("new.md")
    # a bad request is refused with the command's own error, and the server goes on
    path = next(folder.glob("*.sock"))
    refused = ask_server._exchange(path, {"question": "  ", "top_k": 3}, 30)
    assert refused["code"] == 2 and "empty" in refused["stderr"]
    assert ask_server._exchange(path, {"question": "ok?", "top_k": 0}, 30)["code"] == 2
    assert main(["unload"]) == 0 and "stopped 1" in capsys.readouterr().out
    assert not path.exists() and ask_server.running_servers(folder) == 0


def test_doctor_says_how_long_ask_keeps_the_model_loaded(monkeypatch, short_tmp):
    from labkit.doctor import doctor_report

    monkeypatch.setenv("LABKIT_KEEP_LOADED", "7")
    assert doctor_report(load=False)["ask_kept_loaded"].startswith("7 minutes after a question (LABKIT_KEEP_LOADED); "
                                                                   "0 running now")
    monkeypatch.setenv("LABKIT_KEEP_LOADED", "0")
    assert doctor_report(load=False)["ask_kept_loaded"].startswith("off: every labkit ask loads")
    monkeypatch.setenv("LABKIT_KEEP_LOADED", "soon")
    report = doctor_report(load=False)
    assert "ask_kept_loaded" not in report and any("LABKIT_KEEP_LOADED" in p for p in report["problems"])
