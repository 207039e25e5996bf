"""labkit.corpus: loading folders (and every kind of bad file), chunking, ids."""

import pytest

from labkit.config import KB_DIR
from labkit.corpus import Document, chunk_document, load_folder, split_sections, word_count


@pytest.fixture(scope="module")
def kb():
    return load_folder(KB_DIR)


def test_kb_loads_with_titles(kb):
    assert len(kb) >= 40 and not kb.skipped and not kb.warnings
    doc = next(d for d in kb.documents if d.id == "policy-returns")
    assert doc.title == "Returns Policy" and doc.path.endswith("policy-returns.md")


def test_sections_keep_heading_path():
    sections = split_sections("# A\nx\n\n## B\ny\n### C\nz\n## D\nw")
    assert sections == [("A", "x"), ("A > B", "y"), ("A > B > C", "z"), ("A > D", "w")]


@pytest.mark.parametrize("chunk_size,overlap", [(16, 0), (32, 8), (128, 24)])
def test_chunks_respect_budget_and_ids(kb, chunk_size, overlap):
    for doc in kb.documents[:10]:
        chunks = chunk_document(doc, chunk_size, overlap)
        assert [c.id for c in chunks] == [f"{doc.id}#{i}" for i in range(len(chunks))]
        assert all(word_count(c.text) <= chunk_size and c.doc_id == doc.id and c.heading for c in chunks)
    # the same input gives the same chunks: ids are stable
    assert [c.to_dict() for c in chunk_document(kb.documents[0], chunk_size, overlap)] == [c.to_dict() for c in chunk_document(kb.documents[0], chunk_size, overlap)]


def test_overlap_repeats_text():
    text = "# T\n\n" + " ".join(f"Sentence number {i} is here." for i in range(20))
    chunks = chunk_document(Document("t", "T", "t.md", text), chunk_size=20, overlap=5)
    assert len(chunks) > 2
    assert chunks[1].text.split("\n\n")[0].split()[-1] in chunks[0].text  # the first unit of chunk 1 ends chunk 0


@pytest.mark.parametrize("chunk_size,overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_chunk_parameters(chunk_size, overlap):
    with pytest.raises(ValueError):
        chunk_document(Document("t", "T", "t.md", "hello"), chunk_size, overlap)


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
    (tmp_path / "page.html").write_text("<html><title>Page</title><body><nav>menu</nav><h1>Head</h1><p>Body text.</p><script>x()</script></body></html>")
    corpus = load_folder(tmp_path, max_bytes=10_000)
    ids = {d.id for d in corpus.documents}
    assert ids == {"good", "latin1", "page"}
    reasons = {r["path"]: r["reason"] for r in corpus.skipped}
    assert "duplicate of good.md" in reasons["sub/copy.md"]
    assert "binary" in reasons["blob.txt"] and "empty" in reasons["empty.md"] and "too big" in reasons["big.md"]
    assert "PDF" in reasons["broken.pdf"] and "unsupported" in reasons["image.png"]
    assert corpus.warnings == [{"path": "latin1.txt", "reason": "not valid UTF-8: undecodable bytes were replaced with \ufffd"}]
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
    from labkit.corpus import skip_summary

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


def test_a_built_sphinx_site_is_read_once_as_html(tmp_path):
    site = tmp_path / "html"
    (site / "_sources" / "library").mkdir(parents=True)
    (site / "library").mkdir()
    (site / "searchindex.js").write_text("Search.setIndex({})")
    (site / "library" / "os.html").write_text("<html><title>os</title><body><p>os.getcwd() returns the current directory.</p></body></html>")
    (site / "_sources" / "library" / "os.rst.txt").write_text("os.getcwd() returns the current directory.")
    (site / "genindex-A.html").write_text("<html><body><a href='x'>abs()</a></body></html>")
    corpus = load_folder(site)
    assert [d.id for d in corpus.documents] == ["library/os"]
    reasons = {r["path"]: r["reason"] for r in corpus.skipped}
    assert "indexed once" in reasons["_sources"] and "index page" in reasons["genindex-A.html"]
    plain = tmp_path / "notes"  # without searchindex.js an _sources folder is just a folder
    (plain / "_sources").mkdir(parents=True)
    (plain / "_sources" / "a.txt").write_text("A note.")
    assert [d.id for d in load_folder(plain).documents] == ["_sources/a"]
