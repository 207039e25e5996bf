"""labkit.bundle: `labkit bundle pack|unpack` carrying a warm cache, and only what it should, to another laptop."""

import json
import re

import pytest

from labkit.bundle import run_bundle
from labkit.doctor import doctor_report


def test_bundle_packs_the_model_and_the_kits_index_only_and_doctor_says_it_is_in_use(tmp_path, monkeypatch, capsys,
                                                                                     embedder):
    """Issue 30: pack carried all of indexes/, whose chunks.json hold the full text of every folder asked with
    --docs."""
    import tarfile

    model = "smollm2-x-0123456789abcdef"
    warm = tmp_path / "warm"
    (warm / model).mkdir(parents=True)
    (warm / model / "model.safetensors").write_bytes(b"weights")
    (warm / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa").mkdir(parents=True)  # an index of a folder asked with --docs
    (warm / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa" / "chunks.json").write_text("my private diary")
    (warm / "adapters" / "mine").mkdir(parents=True)
    # the kit's knowledge base (a small stand-in) and one folder to share
    kb, notes = tmp_path / "kb", tmp_path / "course-notes"
    for folder, text in ((kb, "The Brimble Kettle costs $89."), (notes, "Week one covers retrieval.")):
        folder.mkdir()
        (folder / "a.md").write_text(f"# {folder.name}\n\n{text}\n")
    monkeypatch.setattr("labkit.config.KB_DIR", kb)
    monkeypatch.setattr("labkit.models.load_embedder", lambda *a, **k: embedder)
    monkeypatch.setenv("LABKIT_CACHE", str(warm))
    assert run_bundle("pack", str(tmp_path / "b.tar"), include_docs=[str(notes)]) == 0
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
    assert run_bundle("unpack", str(tmp_path / "b.tar")) == 0
    assert (tmp_path / "laptop" / kb_index[0] / "chunks.json").is_file() and not (
        tmp_path / "laptop" / "indexes" / "diary-aaaaaaaaaaaaaaaaaaaa"
    ).exists()
    assert doctor_report(load=False)["bundle"].startswith("in use: unpacked from")
    # `labkit bundle` exits 2 with it
    with pytest.raises(FileNotFoundError, match="make one with `labkit bundle pack`"):
        run_bundle("unpack", str(tmp_path / "missing.tar"))
