"""labkit.folder_walk: a Sphinx site's copies, names that are not UTF-8 and links leaving the folder are left out and
reported with their reason (through load_folder, as a learner meets them)."""

import json
import os

from labkit.documents import load_folder, skip_summary


def test_a_built_sphinx_site_is_read_once_as_html(tmp_path):
    site = tmp_path / "html"
    (site / "_sources" / "library").mkdir(parents=True)
    (site / "library").mkdir()
    (site / "searchindex.js").write_text("Search.setIndex({})")
    (site / "library"
     / "os.html").write_text("<html><title>os</title><body><p>os.getcwd() returns the current "
                             "directory.</p></body></html>")
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


def test_a_file_name_that_is_not_utf8_is_skipped_and_named(tmp_path):
    (tmp_path / "good.md").write_text("# Good\n\nThe kettle costs $89.\n")
    (tmp_path / "sub").mkdir()
    for folder in (tmp_path, tmp_path / "sub"):
        # a Latin-1 name, as a Windows zip leaves it
        with open(os.path.join(os.fsencode(folder), b"caf\xe9.md"), "wb") as f:
            f.write(b"# Cafe\n\nThe cafe opens at nine.\n")
    os.mkdir(os.path.join(os.fsencode(tmp_path), b"d\xe9p\xf4t"))
    corpus = load_folder(tmp_path)
    assert [d.id for d in corpus.documents] == ["good"]
    reasons = {r["path"]: r["reason"] for r in corpus.skipped}
    # printable, JSON-safe, the bad byte shown
    assert set(reasons) == {"caf\\xe9.md", "sub/caf\\xe9.md", "d\\xe9p\\xf4t"}
    assert (
        "b'caf\\xe9.md'" in reasons["caf\\xe9.md"]
        and "not valid UTF-8" in reasons["caf\\xe9.md"]
        and "rename" in reasons["caf\\xe9.md"]
    )
    assert "folder name b'd\\xe9p\\xf4t'" in reasons["d\\xe9p\\xf4t"]
    json.dumps(corpus.skipped, ensure_ascii=False).encode("utf-8")  # the report can be printed and saved
    lines = skip_summary(corpus.skipped)
    assert len(lines) == 2 and any(line.endswith("(caf\\xe9.md, sub/caf\\xe9.md)") for line in lines)


def test_a_link_leaving_the_folder_is_not_followed_unless_asked(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("The root password is hunter2.")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Good\n\nThe kettle costs $89.\n")
    (docs / "inner.md").write_text("# Inner\n\nThe lamp has a warranty.\n")
    (docs / "secret.txt").symlink_to(outside / "secret.txt")
    (docs / "zlink.md").symlink_to(docs / "inner.md")  # stays inside: read as today (then a duplicate)
    corpus = load_folder(docs)
    assert [d.id for d in corpus.documents] == ["good", "inner"]
    assert all("hunter2" not in d.text for d in corpus.documents)
    reasons = {r["path"]: r["reason"] for r in corpus.skipped}
    assert reasons["secret.txt"].startswith("link to a file outside the folder: not followed")
    assert "--follow-links" in reasons["secret.txt"] and "follow_links=True" in reasons["secret.txt"]
    assert reasons["zlink.md"] == "duplicate of inner.md (same text)"
    followed = load_folder(docs, follow_links=True)
    assert "secret" in {d.id for d in followed.documents} and "secret.txt" not in {r["path"] for r in followed.skipped}
