"""labkit.storage: a directory is replaced whole or not at all; names are checked; sizes are measured."""

from pathlib import Path

import pytest

from labkit.storage import atomic_dir, check_name, dir_size, recover


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


@pytest.mark.parametrize("name",
                         ["../escape", "a/b", "", "Capital", ".hidden", "x" * 65, "finetune", "models", "labkit",
                          "sp ace"])
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


def test_a_name_with_a_trailing_newline_is_rejected():
    with pytest.raises(ValueError):
        check_name("keeper\n")  # re.match with "$" let this through


def test_recover_restores_a_target_moved_aside_by_a_killed_writer(tmp_path):
    target = tmp_path / "keeper"
    aside = tmp_path / ".keeper.old-999999999-ab12"  # pid 999999999: no such process
    (aside / "dir").mkdir(parents=True)
    (aside / "dir" / "labkit.json").write_text('{"num_steps": 60}')
    half = tmp_path / ".keeper.tmp-999999999-cd34"
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes(b"x" * 100)
    done = recover(target)
    assert (target / "labkit.json").read_text() == '{"num_steps": 60}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keeper"] and len(done) == 2


def test_recover_leaves_a_running_writer_alone(tmp_path):
    import os

    live = tmp_path / f".keeper.tmp-{os.getppid()}-ef56"  # our parent process is alive
    live.mkdir()
    assert recover(tmp_path / "keeper") == [] and live.is_dir()


def test_atomic_dir_cleans_what_a_killed_writer_left(tmp_path):
    stale = tmp_path / ".idx.tmp-999999999-zz"
    stale.mkdir()
    with atomic_dir(tmp_path / "idx") as tmp:
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_two_writers_racing_for_one_target_both_finish_and_the_last_stays(tmp_path, monkeypatch):
    """Another writer (a second test worker building the same index) puts its copy in place between our two renames."""
    target = tmp_path / "index"
    real_rename = Path.rename
    raced = []

    def rename(self, dest):
        if Path(dest) == target and not raced:  # the other writer wins the gap once
            raced.append(True)
            target.mkdir()
            (target / "who").write_text("other")
        return real_rename(self, dest)

    monkeypatch.setattr(Path, "rename", rename)
    with atomic_dir(target) as tmp:
        (tmp / "who").write_text("mine")
    assert raced and (target / "who").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # no temporary or set-aside folder left


def test_room_problem_says_when_a_folder_cannot_take_a_write(tmp_path, monkeypatch):
    import shutil

    from labkit.storage import room_problem

    assert room_problem(tmp_path / "new", 1000) is None and (tmp_path / "new").is_dir()
    (tmp_path / "afile").write_text("x")
    # root ignores chmod: a folder under a file
    assert "cannot be written" in room_problem(tmp_path / "afile" / "sub", 1)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=3_000_000))
    assert "3 MB free" in room_problem(tmp_path, 10_000_000) and room_problem(tmp_path, 1000) is None
