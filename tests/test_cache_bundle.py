"""labkit.cache_bundle: a warm cache packed as one file unpacks whole or not at all, only into the folders a bundle
may hold."""

from pathlib import Path

import pytest

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

    from labkit.cache_bundle import bundle_info, pack_cache, unpack_cache

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
    from labkit.cache_bundle import unpack_cache

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
    from labkit.cache_bundle import unpack_cache

    cache = _warm(tmp_path / "cache")
    before = _tree(cache)
    with pytest.raises(ValueError, match=words):
        unpack_cache(_tar(tmp_path / "b.tar", info, files), cache)
    assert _tree(cache) == before


def test_a_damaged_or_non_tar_bundle_is_a_clear_error_and_the_cache_stays(tmp_path):
    from labkit.cache_bundle import pack_cache, unpack_cache

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
    from labkit.cache_bundle import unpack_cache

    cache = _warm(tmp_path / "cache")
    old = _tar(tmp_path / "old.tar", {"created": "x", "entries": ["indexes", MODEL]},
               {f"{KB}/index.faiss": b"new index", f"{MODEL}/model.safetensors": b"new weights"})
    assert unpack_cache(old, cache)["entries"] == [KB, MODEL]
    assert (cache / KB / "index.faiss").read_bytes() == b"new index"
    # not replaced
    assert (cache / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa" / "chunks.json").read_text() == "my private text"


def test_the_bundle_entry_shapes_are_the_names_the_kit_writes():
    from labkit.cache_bundle import MODEL_ENTRY, check_bundle_entry
    from labkit.model_cache import generator_cache_dir

    name = generator_cache_dir().name  # the embedded model's folder (an index's is checked in test_bundle's test)
    assert MODEL_ENTRY.fullmatch(name) and check_bundle_entry(name) == name


def test_unpack_on_a_disk_without_room_says_so_and_writes_nothing(tmp_path, monkeypatch):
    """Issue 30: room is checked whole before the first entry is written, like the names."""
    import shutil

    from labkit.cache_bundle import pack_cache, unpack_cache

    warm = _warm(tmp_path / "warm")
    pack_cache(warm, tmp_path / "b.tar", [MODEL, KB])
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with pytest.raises(ValueError, match="MB free on its disk.*Nothing was unpacked"):
        unpack_cache(tmp_path / "b.tar", fresh)
    assert list(fresh.iterdir()) == []
