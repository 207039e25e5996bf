"""labkit.storage: a directory is replaced whole or not at all; names are checked; sizes are measured."""

import pytest

from labkit.storage import atomic_dir, check_name, dir_size


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


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "Capital", ".hidden", "x" * 65, "finetune", "models", "labkit", "sp ace"])
def test_bad_adapter_names_are_rejected(name):
    with pytest.raises(ValueError):
        check_name(name)


@pytest.mark.parametrize("name", ["kettle-facts", "a", "r16_lr2e-3", "x" * 64])
def test_good_adapter_names_pass(name):
    assert check_name(name) == name


def test_dir_size_adds_every_file_below(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "sub" / "b.bin").write_bytes(b"y" * 5)
    assert dir_size(tmp_path) == 15
