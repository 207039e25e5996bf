"""atomic_dir: a directory is replaced whole or not at all."""

import pytest

from labkit.storage import atomic_dir


def test_new_directory_appears_with_its_files(tmp_path):
    target = tmp_path / "idx"
    with atomic_dir(target) as tmp:
        assert tmp != target and not target.exists()  # nothing visible until the writer is done
        (tmp / "a.json").write_text("{}")
    assert sorted(p.name for p in target.iterdir()) == ["a.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no temporary left behind


def test_existing_directory_is_replaced_whole(tmp_path):
    target = tmp_path / "idx"
    target.mkdir()
    (target / "old.json").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "new.json").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_error_midway_keeps_the_old_version(tmp_path):
    target = tmp_path / "idx"
    target.mkdir()
    (target / "old.json").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(target) as tmp:
            (tmp / "half.json").write_text("half")
            raise KeyboardInterrupt  # a learner pressing Ctrl-C mid-save
    assert (target / "old.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]
