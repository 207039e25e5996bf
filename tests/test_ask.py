"""labkit.ask: `labkit ask`'s body, answering from a folder with sources, and refusing bad arguments."""

import json

import pytest

from labkit.ask import run_ask
from labkit.rag import is_empty_answer


def test_labkit_ask_json_on_own_folder(tmp_path, fresh_cache, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs
     / "lighthouse.md").write_text("# Grey Point Lighthouse\n\nThe Grey Point Lighthouse was built in 1871 by Ada "
                                   "Pell.\n")
    (docs / "notes.txt").write_bytes("Le caf\xe9 ferme \xe0 midi.".encode("latin-1"))
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02")
    assert run_ask("When was the Grey Point Lighthouse built?", docs=str(docs), top_k=2, as_json=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sources"][0]["path"].endswith("lighthouse.md") and out["sources"][0]["chunk_id"] == "lighthouse#0"
    assert {"retrieve_s", "generate_s"} <= set(out["timings"]) and out["documents"] == 2
    assert out["skipped"][0]["path"] == "blob.txt" and out["warnings"][0]["path"] == "notes.txt"
    # the model's words, or where it wrote nothing usable the supporting quote, marked; never empty
    assert out["answer_kind"] in ("answer", "quote") and (out["model_answer"] is None) == (out["answer_kind"] ==
                                                                                          "answer")
    assert not is_empty_answer(out["answer"], out["question"])
    # citations.citation_check's
    assert out["citation_checked"] in (True, False, None) and isinstance(out["citation_missing"], list)


@pytest.mark.parametrize("question,top_k", [("", 3), ("ok?", 0)])
def test_labkit_ask_bad_arguments(question, top_k):
    with pytest.raises(ValueError):
        run_ask(question, top_k=top_k)
