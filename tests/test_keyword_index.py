"""labkit.keyword_index: search terms that keep identifiers, BM25 over chunks, saved files checked, rank fusion."""

import json

import pytest

from labkit.keyword_index import KeywordIndex, files_sha256, fuse, keywords

TEXTS = ["Pass --isolated-context to tab-new for a separate browser context.",
         "The Brimble Kettle costs $89 and boils in three minutes.",
         "Use el.className inside eval to read every CSS class of an element."]


@pytest.mark.parametrize("text,expected", [
    ("Pass --isolated-context", ["pass", "isolated-context", "isolated", "context"]),
    ("read el.className", ["read", "el.classname", "el", "classname"]),
    ("What is the price of the kettle?", ["what", "price", "kettle"]),  # stop words out (the library's short list)
    ("PLAYWRIGHT_HTML_OPEN=never", ["playwright_html_open", "playwright", "html", "open", "never"]),
    ("a b c", []),
])
def test_keywords_keep_identifiers_whole_and_in_parts(text, expected):
    assert keywords(text) == expected


def test_fuse_sums_reciprocal_ranks():
    fused = fuse([["a", "b", "c"], ["c", "d"]], k=1)
    assert [item for item, _ in fused] == ["c", "a", "b", "d"]  # c: 1/4 + 1/2; a: 1/2; b: 1/3; d: 1/3 (after b)
    assert fused[0][1] == pytest.approx(1 / 4 + 1 / 2)


def test_search_finds_the_chunk_that_names_the_identifier():
    index = KeywordIndex([10, 11, 12], TEXTS)
    hits = index.search(["Which flag isolates the context of tab-new?", "what does el.className give?",
                         "the and of"], 3)
    assert hits[0][0][0] == 10 and hits[1][0][0] == 12
    assert hits[2] == []  # nothing but stop words: no chunk shares a term, none is returned
    assert all(score > 0 for row in hits for _, score in row)


def test_saved_index_loads_and_refuses_other_files(tmp_path):
    index = KeywordIndex([10, 11, 12], TEXTS)
    sha = index.save(tmp_path / "kw")
    assert KeywordIndex.load(tmp_path / "kw", sha, [10, 11, 12]).search(["kettle"], 2) == index.search(["kettle"], 2)
    with pytest.raises(ValueError, match="does not cover"):
        KeywordIndex.load(tmp_path / "kw", sha, [10, 11])
    (tmp_path / "kw" / "ids.json").write_text(json.dumps([1, 2, 3]))  # another store's ids
    assert files_sha256(tmp_path / "kw") != sha
    with pytest.raises(ValueError, match="rebuild"):
        KeywordIndex.load(tmp_path / "kw", sha, [1, 2, 3])


def test_an_empty_index_finds_nothing():
    assert KeywordIndex([], []).search(["kettle"], 3) == [[]]
    with pytest.raises(ValueError, match="pair up"):
        KeywordIndex([1], [])
