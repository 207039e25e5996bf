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


MODEL = "smollm2-x-0123456789abcdef"  # a model cache folder's shape: <gguf stem>-<16 hex>
KB = "indexes/kb-0123456789abcdef0123"  # a saved index's: indexes/<folder name>-<20 hex>


def _warm(root):
    """A cache with a model, the kit's index, another folder's index (private text) and an adapter."""
    (root / MODEL).mkdir(parents=True)
    (root / MODEL / "model.safetensors").write_bytes(b"weights")
    (root / KB).mkdir(parents=True)
    (root / KB / "index.faiss").write_bytes(b"index")
    (root / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa").mkdir()
    (root / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa" / "chunks.json").write_text("my private text")
    (root / "adapters" / "mine").mkdir(parents=True)
    (root / "adapters" / "mine" / "adapter.safetensors").write_bytes(b"mine")
    return root


def _tar(path, info, files=None):
    """A tar holding bundle.json = info (JSON-dumped unless bytes) and some files {name: bytes}."""
    import io
    import json
    import tarfile

    with tarfile.open(path, "w") as tar:
        for name, data in {**(files or {}),
                           "bundle.json": info if isinstance(info, bytes) else json.dumps(info).encode()}.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def _tree(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob("*")) if p.is_file()}


def test_a_bundle_carries_the_entries_it_is_given_and_unpacks_beside_what_is_there(tmp_path):
    import tarfile

    from labkit.storage import bundle_info, pack_cache, unpack_cache

    warm = _warm(tmp_path / "warm")
    assert pack_cache(warm, tmp_path / "models.tar")["entries"] == [MODEL]  # by default the model folders only
    info = pack_cache(warm, tmp_path / "b.tar", [MODEL, KB], about={"labkit": "0.1.0"})
    assert info["entries"] == [KB, MODEL] and info["bytes"] > 0 and info["sizes"] == {KB: 5, MODEL: 7}
    with tarfile.open(tmp_path / "b.tar") as tar:
        assert not [n for n in tar.getnames() if "diary" in n or "adapters" in n]
    fresh = tmp_path / "fresh"
    (fresh / "indexes" / "notes-bbbbbbbbbbbbbbbbbbbb").mkdir(parents=True)  # the learner's own index stays
    (fresh / "indexes" / "notes-bbbbbbbbbbbbbbbbbbbb" / "chunks.json").write_text("theirs")
    assert bundle_info(fresh) is None
    assert unpack_cache(tmp_path / "b.tar", fresh)["entries"] == [KB, MODEL]
    assert (fresh / MODEL / "model.safetensors").read_bytes() == b"weights" and (fresh / KB
                                                                                 / "index.faiss").read_bytes(
                                                                                     ) == b"index"
    assert (fresh / "indexes" / "notes-bbbbbbbbbbbbbbbbbbbb" / "chunks.json").read_text() == "theirs"
    assert bundle_info(fresh)["unpacked_from"] == str(tmp_path / "b.tar")
    with pytest.raises(ValueError, match="adapters are never carried"):
        pack_cache(warm, tmp_path / "x.tar", ["adapters"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no model yet"):
        pack_cache(tmp_path / "empty", tmp_path / "x.tar")


@pytest.mark.parametrize("entries",
                         [["VICTIM"], ["."], [".."], ["adapters"], ["adapters/mine"], ["indexes"],
                          ["indexes/../adapters"],
                                     [f"{MODEL}/../adapters"], ["indexes/.kb-0123456789abcdef0123"], [MODEL, "/"]])
def test_unpack_refuses_an_entry_outside_what_a_bundle_holds_and_touches_nothing(tmp_path, entries):
    """Issue 30: each entry went to atomic_dir(cache / name), so "/some/dir", ".." or "." was replaced by an empty
    folder."""
    from labkit.storage import unpack_cache

    cache, victim = _warm(tmp_path / "cache"), tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    entries = [str(victim) if e == "VICTIM" else e for e in entries]
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match="not one a bundle may hold|lists no folder"):
        unpack_cache(_tar(tmp_path / "evil.tar", {"created": "x", "entries": entries}), cache)
    after = _tree(tmp_path)
    after.pop("evil.tar")
    assert after == before  # the victim, the cache, the learner's adapters: byte for byte as they were


@pytest.mark.parametrize("info, files, words", [
    ({"created": "x", "entries": [MODEL]}, {}, "does not hold"),  # used to replace the model folder with an empty one
    (["x"], {}, "must be an object"), ({"entries": MODEL}, {}, "must be an object"),
    ({"entries": [1]}, {}, "must be an object"),
    ({"entries": []}, {}, "must be an object"), (b"\xff not json", {}, "not JSON"),
    ({"entries": [MODEL]}, {MODEL: b"a file"}, "is a file, not a folder"),
    ({"entries": [MODEL]}, {f"{MODEL}/w": b"w", "adapters/mine/adapter.safetensors": b"evil"}, "outside the entries"),
])
def test_unpack_refuses_a_malformed_bundle_json_before_writing(tmp_path, info, files, words):
    from labkit.storage import unpack_cache

    cache = _warm(tmp_path / "cache")
    before = _tree(cache)
    with pytest.raises(ValueError, match=words):
        unpack_cache(_tar(tmp_path / "b.tar", info, files), cache)
    assert _tree(cache) == before


def test_a_damaged_or_non_tar_bundle_is_a_clear_error_and_the_cache_stays(tmp_path):
    from labkit.storage import pack_cache, unpack_cache

    cache = _warm(tmp_path / "cache")
    before = _tree(cache)
    (tmp_path / "notes.tar").write_text("not a tar at all")
    with pytest.raises(ValueError, match="not a tar file"):
        unpack_cache(tmp_path / "notes.tar", cache)
    (cache / MODEL / "model.safetensors").write_bytes(b"w" * 20_000)
    whole = pack_cache(cache, tmp_path / "b.tar", [MODEL])["bytes"]
    (cache / MODEL / "model.safetensors").write_bytes(b"weights")
    with open(tmp_path / "b.tar", "r+b") as f:  # a copy cut short by a full USB stick
        f.truncate(whole // 2)
    with pytest.raises(ValueError, match="damaged|not a tar file|no bundle.json"):
        unpack_cache(tmp_path / "b.tar", cache)
    assert _tree(cache) == before


def test_an_older_bundle_holding_the_whole_indexes_folder_unpacks_index_by_index(tmp_path):
    from labkit.storage import unpack_cache

    cache = _warm(tmp_path / "cache")
    old = _tar(tmp_path / "old.tar", {"created": "x", "entries": ["indexes", MODEL]},
               {f"{KB}/index.faiss": b"new index", f"{MODEL}/model.safetensors": b"new weights"})
    assert unpack_cache(old, cache)["entries"] == [KB, MODEL]
    assert (cache / KB / "index.faiss").read_bytes() == b"new index"
    # not replaced
    assert (cache / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa" / "chunks.json").read_text() == "my private text"


def test_the_bundle_entry_shapes_are_the_names_the_kit_writes():
    from labkit.model_cache import generator_cache_dir
    from labkit.storage import MODEL_ENTRY, check_bundle_entry

    name = generator_cache_dir().name  # the embedded model's folder (an index's is checked in test_bundle's test)
    assert MODEL_ENTRY.fullmatch(name) and check_bundle_entry(name) == name


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


def test_unpack_on_a_disk_without_room_says_so_and_writes_nothing(tmp_path, monkeypatch):
    """Issue 30: room is checked whole before the first entry is written, like the names."""
    import shutil

    from labkit.storage import pack_cache, unpack_cache

    warm = _warm(tmp_path / "warm")
    pack_cache(warm, tmp_path / "b.tar", [MODEL, KB])
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with pytest.raises(ValueError, match="MB free on its disk.*Nothing was unpacked"):
        unpack_cache(tmp_path / "b.tar", fresh)
    assert list(fresh.iterdir()) == []
