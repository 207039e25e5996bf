"""labkit.ask: `labkit ask`'s body, answering from a folder with sources, and refusing bad arguments."""

import json

import pytest

from labkit.ask import ASK_ANSWERABLE, ASK_EXTRACTIVE, ASK_RETRIEVER, run_ask
from labkit.corpus import CHUNK_OVERLAP, CHUNK_SIZE
from labkit.data import load_retrieval
from labkit.rag import is_abstention, is_empty_answer


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
    assert out["retriever"] == ASK_RETRIEVER
    assert out["skipped"][0]["path"] == "blob.txt" and out["warnings"][0]["path"] == "notes.txt"
    # the model's words, or where it wrote nothing usable the supporting quote, marked; never empty
    assert out["answer_kind"] in ("answer", "quote") and (out["model_answer"] is None) == (out["answer_kind"] ==
                                                                                          "answer")
    assert not is_empty_answer(out["answer"], out["question"])
    # the reading adapter copies its answer from what the sources showed (ASK_EXTRACTIVE): the span before its citation
    span = out["answer"].split(" [")[0]
    assert out["extractive"] is ASK_EXTRACTIVE is True and "reading adapter" in out["reader"]
    shown = "Grey Point Lighthouse: The Grey Point Lighthouse was built in 1871 by Ada Pell."
    assert out["answer_kind"] != "answer" or is_abstention(span) or span in shown
    # every term of the question is in the source, so the answerable rule (ASK_ANSWERABLE) never lets it abstain
    assert out["term_share"] == 1.0 >= ASK_ANSWERABLE.answer_from and not is_abstention(out["answer"])
    # citations.citation_check's
    assert out["citation_checked"] in (True, False, None) and isinstance(out["citation_missing"], list)
    assert out["store"] == "faiss"  # the default; --store qdrant:... copies the index in (test_qdrant_store)

@pytest.mark.parametrize("question,top_k,store", [("", 3, None), ("ok?", 0, None), ("ok?", 3, "chroma://x")])
def test_labkit_ask_bad_arguments(question, top_k, store):
    with pytest.raises(ValueError):  # before any model loads
        run_ask(question, top_k=top_k, store=store)


def test_labkit_store_from_the_environment_is_checked(monkeypatch, capsys):
    from labkit.cli import main

    monkeypatch.setenv("LABKIT_STORE", "qdrant:")
    assert main(["ask", "ok?"]) == 2
    assert "qdrant://host:port" in capsys.readouterr().err


def test_ask_uses_the_retrieval_and_chunking_the_benchmark_chose():
    record = load_retrieval()  # benchmarks/bench_retrieval.py's measurement and the rules' choices
    assert ASK_RETRIEVER == record["choice"]["retriever"]
    chunking = record["chunk_sweep"]["choice"]
    assert (chunking["chunk_size"], chunking["overlap"]) == (CHUNK_SIZE, CHUNK_OVERLAP)  # what index_folder uses
