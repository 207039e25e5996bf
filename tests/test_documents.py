"""labkit.documents: loading folders, and every kind of file that is skipped, with a reason that tells the truth."""

import os
from pathlib import Path

import pytest

from labkit.config import KB_DIR
from labkit.documents import load_folder, max_bytes_from_mb, read_document, read_regular, skip_summary, too_big_reason


def test_kb_loads_with_titles():
    kb = load_folder(KB_DIR)
    assert len(kb) >= 40 and not kb.skipped and not kb.warnings
    doc = next(d for d in kb.documents if d.id == "policy-returns")
    assert doc.title == "Returns Policy" and doc.path.endswith("policy-returns.md")


def test_bad_files_are_reported(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "good.md").write_text("# Good\n\nThe kettle costs $89.\n")
    (tmp_path / "sub" / "copy.md").write_text("# Good\n\nThe kettle costs $89.\n")  # duplicate
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9 opens at nine.".encode("latin-1"))
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "empty.md").write_text("  \n")
    (tmp_path / "big.md").write_text("word " * 5000)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    (tmp_path
     / "page.html").write_text("<html><title>Page</title><body><nav>menu</nav><h1>Head</h1><p>Body "
                               "text.</p><script>x()</script></body></html>")
    corpus = load_folder(tmp_path, max_bytes=10_000)
    ids = {d.id for d in corpus.documents}
    assert ids == {"good", "latin1", "page"}
    reasons = {r["path"]: r["reason"] for r in corpus.skipped}
    assert "duplicate of good.md" in reasons["sub/copy.md"]
    assert "binary" in reasons["blob.txt"] and "empty" in reasons["empty.md"] and "too big" in reasons["big.md"]
    assert "PDF" in reasons["broken.pdf"] and "unsupported" in reasons["image.png"]
    assert corpus.warnings == [{"path": "latin1.txt",
                                "reason": "not valid UTF-8: undecodable bytes were replaced with \ufffd"}]
    page = next(d for d in corpus.documents if d.id == "page")
    assert page.title == "Page" and "Body text." in page.text and "menu" not in page.text and "x()" not in page.text
    assert "skipped" in corpus.report()


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(ValueError, match="No documents found"):
        load_folder(tmp_path)
    (tmp_path / "x.bin").write_bytes(b"\x00\x01")
    with pytest.raises(ValueError, match="Put .md"):
        load_folder(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_folder(tmp_path / "nope")


def test_every_skip_is_reported_with_counts(tmp_path):
    from labkit.documents import skip_summary

    (tmp_path / "good.md").write_text("# Good\n\nA document.\n")
    for i in range(12):
        (tmp_path / f"letter{i:02d}.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "loop").symlink_to(tmp_path)  # a link back up: following it would never end
    (tmp_path / "gone.md").symlink_to(tmp_path / "missing.md")
    corpus = load_folder(tmp_path)
    reasons = [r["reason"] for r in corpus.skipped]
    assert len(corpus.documents) == 1
    assert sum(r.startswith("unsupported file type .docx") for r in reasons) == 12
    assert any("link to a folder" in r for r in reasons) and any("broken link" in r for r in reasons)
    lines = skip_summary(corpus.skipped)
    docx = next(line for line in lines if ".docx" in line)
    assert docx.startswith("skipped 12 files: unsupported file type .docx") and docx.endswith("and 9 more)")
    assert len(lines) == 3


def test_fifos_devices_and_too_big_files_are_reported_truthfully(tmp_path):
    (tmp_path / "good.md").write_text("# Good\n\nThe kettle costs $89.\n")
    os.mkfifo(tmp_path / "pipe.md")  # opening it to read would wait for a writer forever
    (tmp_path / "zero.md").symlink_to("/dev/zero")  # reading it would never end
    (tmp_path / "big.md").write_text("word " * 5000)  # 25,000 bytes
    (tmp_path / "bigger.txt").write_text("word " * 7000)  # 35,000 bytes
    corpus = load_folder(tmp_path, max_bytes=1000)
    assert [d.id for d in corpus.documents] == ["good"]
    reasons = {r["path"]: r["reason"] for r in corpus.skipped}
    assert reasons["pipe.md"].startswith("a FIFO (named pipe), not a document: never opened")
    assert reasons["zero.md"].startswith("link to a device file, not a document: never opened")
    assert reasons["big.md"] == ("too big: 25.0 KB, over the 1.0 KB cap; split it, or raise the cap: labkit ask "
                                 "--max-file-mb 1 "
                                 "(max_bytes=1000000 in load_folder / index_folder)")
    lines = skip_summary(corpus.skipped)
    big = next(line for line in lines if "too big" in line)
    assert big == ("skipped 2 files: too big, over the 1.0 KB cap; split them, or raise the cap: labkit ask "
                   "--max-file-mb 1 "
                   "(max_bytes=1000000 in load_folder / index_folder) (big.md (25.0 KB), bigger.txt (35.0 KB))")
    assert len(lines) == 3 and not any("broken link" in line for line in lines)
    # not "5.0 MB over 5.0 MB"
    assert "too big: 5,000,001 bytes, over the 5,000,000 bytes cap" in too_big_reason(5_000_001, 5_000_000)
    assert "split it: labkit reads files of up to 100 MB" in too_big_reason(250_000_000, 5_000_000)


def test_a_fifo_is_never_opened_even_when_named_directly(tmp_path):
    os.mkfifo(tmp_path / "pipe.md")
    doc, reason, _ = read_document(tmp_path / "pipe.md", tmp_path)  # would block for ever if it opened the FIFO
    assert doc is None and reason.startswith("a FIFO")
    with pytest.raises(OSError, match="not a regular file"):
        read_regular(Path("/dev/zero"), 10)


@pytest.mark.parametrize("value,expected", [("20", 20_000_000), (0.5, 500_000), ("100", 100_000_000)])
def test_max_file_mb_is_checked(value, expected):
    assert max_bytes_from_mb(value) == expected


@pytest.mark.parametrize("value", ["0", "-3", "101", "nan", "inf", "lots", None])
def test_max_file_mb_refuses_what_is_not_a_sane_size(value):
    with pytest.raises(ValueError, match=r"--max-file-mb (must be|takes a number).*hours of embedding"):
        max_bytes_from_mb(value)
