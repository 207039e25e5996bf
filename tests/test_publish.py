"""labkit.publish: a results record is checked whole before either shipped file is written, then both are replaced
together."""

import json

import pytest

from labkit import publish
from labkit.data import SHIPPED_PATH
from labkit.keys import OLD_NAMES
from labkit.readme import RESULTS, readme_markdown
from tests.test_report import make_tiny_results


@pytest.fixture
def tiny_results():
    """A hand-made results dict with every section the report draws (tests/test_report.py)."""
    return make_tiny_results()


def test_publish_refuses_a_quick_run_and_rewrites_only_the_readme_section(tiny_results, tmp_path):
    quick = tmp_path / "quick.json"
    quick.write_text(json.dumps(tiny_results))
    readme = tmp_path / "README.md"
    readme.write_text(f"# kit\nbefore\n{RESULTS.begin}\nold numbers 0.99\n{RESULTS.end}\nafter\n")
    with pytest.raises(ValueError, match="quick-mode run; publish only a full run"):  # and says what to do
        publish.publish(quick, readme=readme, shipped=tmp_path / "shipped.json")
    assert "old numbers 0.99" in readme.read_text() and not (tmp_path / "shipped.json").exists()  # nothing written
    full = tmp_path / "full.json"
    full.write_text(json.dumps({**tiny_results, "quick": False}))
    publish.publish(full, commit="abc1234", readme=readme, shipped=tmp_path / "shipped.json")
    text = readme.read_text()
    assert text.startswith("# kit\nbefore\n") and text.endswith(f"{RESULTS.end}\nafter\n") and "0.99" not in text
    shipped = json.loads((tmp_path / "shipped.json").read_text())
    assert shipped["published"]["commit"] == "abc1234"
    assert readme_markdown(shipped) in text


@pytest.fixture
def shipped_copy(tmp_path):
    """Copies of data/results.json (the valid record) and the README, for publish to write; returns (record, readme,
    shipped)."""
    import shutil

    from labkit.config import REPO_ROOT

    shutil.copy(SHIPPED_PATH, tmp_path / "shipped.json")
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    return json.loads(SHIPPED_PATH.read_text()), tmp_path / "README.md", tmp_path / "shipped.json"


def _set(record, path, value):
    *head, last = path
    for key in head:
        record = record[key]
    if value is _DELETE:
        del record[last]
    else:
        record[last] = value


_DELETE = object()


@pytest.mark.parametrize("path, value, words", [
    ((), {"quick": False}, r"\['config'\] is missing"),  # was a KeyError with data/results.json cut to a stub
    (("seeds",), [], r"\['seeds'\] is \[\]"),  # was an IndexError with results.json half gone
    (("scoreboard", "RAG", "accuracy", "mean"), "lots",
     r"\['scoreboard'\]\['RAG'\]\['accuracy'\]\['mean'\] is \"lots\""),
    (("scoreboard", "RAG", "accuracy", "mean"), float("nan"),
     r"\['accuracy'\]\['mean'\] is NaN, but must be a finite number"),
    (("freshness", "retrain_s", "mean"), float("inf"), r"\['retrain_s'\]\['mean'\] is Infinity"),
    (("quick",), _DELETE, r"\['quick'\] is missing, but must be false"),  # a quick run with its key deleted published
    (("quick",), "false", r"\['quick'\] is \"false\""),
    ((), [1, 2], "holds a JSON list, not a results record"),  # was an AttributeError
    (("config", "seeds"), [], r"\['config'\]\['seeds'\] is \[\]"),
    (("differences", "RAFT + RAG", "measurable"), "yes", "must be true or false"),
    (("behaviour", "lora", "label_accuracy"), 1.5, "a rate between 0 and 1"),
    (("scoreboard", "RAG", "multi_acc", "lo"), _DELETE, r"\['multi_acc'\]\['lo'\] is missing"),
    (("behaviour", "behaviour_facts", "before", "behaviour LoRA", "n"), _DELETE,
     r"\['before'\]\['behaviour LoRA'\]\['n'\] is missing"),
    # the cost curves read it
    (("scoreboard", "RAG", "index_build_s"), _DELETE, "cannot be made from it .KeyError: 'index_build_s'"),
])
def test_publish_checks_the_whole_record_before_writing_either_file(shipped_copy, tmp_path, path, value, words):
    """Issue 30: publish wrote data/results.json before it could fail, and shipped NaN and key-less quick runs."""
    record, readme, shipped = shipped_copy
    if path:
        _set(record, path, value)
    else:
        record = value
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(record))
    before = readme.read_bytes(), shipped.read_bytes()
    with pytest.raises(ValueError, match=words):
        publish.publish(bad, readme=readme, shipped=shipped)
    assert (readme.read_bytes(), shipped.read_bytes()) == before


def test_publish_accepts_the_shipped_record_and_replaces_both_files(shipped_copy, tmp_path):
    record, readme, shipped = shipped_copy
    assert publish.check_results(record) is record
    readme.chmod(0o644)
    full = tmp_path / "results.json"
    full.write_text(json.dumps(record))
    publish.publish(full, commit="abc1234", note="a note", readme=readme, shipped=shipped)
    written = json.loads(shipped.read_text())
    assert written["published"]["commit"] == "abc1234" and written["published"]["note"] == "a note"
    assert {k: v for k, v in written.items() if k != "published"} == {k: v for k, v in record.items() if k
                                                                      != "published"}
    assert readme_markdown(written) in readme.read_text() and readme.stat().st_mode & 0o777 == 0o644
    # no temporary left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "results.json", "shipped.json"]


def test_publish_reads_a_record_written_under_the_keys_former_names(shipped_copy, tmp_path):
    record, readme, shipped = shipped_copy
    old = {v: k for k, v in OLD_NAMES.items()}
    config = {old.get(k, k): v for k, v in record["config"].items()}
    older = {**record, "config": config, "behaviour": {old.get(k, k): v for k, v in record["behaviour"].items()}}
    assert "raft_steps" in older["config"] and "hybrid" in older["behaviour"]  # as a run before the renames wrote it
    (tmp_path / "old.json").write_text(json.dumps(older))
    publish.publish(tmp_path / "old.json", readme=readme, shipped=shipped)
    written = json.loads(shipped.read_text())
    assert written["config"] == record["config"] and written["behaviour"] == record["behaviour"]


def test_publish_puts_the_results_back_when_the_readme_cannot_be_replaced(shipped_copy, tmp_path, monkeypatch):
    import os

    record, readme, shipped = shipped_copy
    full = tmp_path / "results.json"
    full.write_text(json.dumps(record))
    before = readme.read_bytes(), shipped.read_bytes()
    replace = os.replace

    def failing(src, dst):
        if str(dst) == str(readme):
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="No space left"):
        publish.publish(full, commit="abc1234", readme=readme, shipped=shipped)
    assert (readme.read_bytes(), shipped.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "results.json", "shipped.json"]
