"""`labkit ask`: answer one question from the kit's knowledge base or a folder of your own documents, citing sources.

`run_ask` indexes the folder (cached, so only the first question about a folder embeds it), reads the sources with the
reading adapter (or the plain model), and prints the answer with its sources and whether the cited source holds its
words; where the model wrote nothing usable (a bare ".", a citation alone) the answer is the supporting quote, marked
as such (`"answer_kind": "quote"`); --json prints all of it with timings. What it
leaves out: the pieces it calls (`folder_index.index_folder`, `rag.RAG`, `reader.reader_for`) and argument parsing
(`labkit.cli`).
"""

from __future__ import annotations

import json
import sys
import time

from labkit.limits import check

# how `labkit ask` finds its sources: the retriever benchmarks/bench_retrieval.py chose by its rule (the "choice" of
# data/retrieval.json; tests/test_ask.py holds the two together: a measurement that chooses otherwise fails until this
# follows)
ASK_RETRIEVER = "hybrid"


def run_ask(question: str, docs: str | None = None, top_k: int = 3, as_json: bool = False, generator: str | None = None,
            reader: str = "adapter", max_file_mb: float | str | None = None, follow_links: bool = False,
            store: str | None = None, retriever: str = ASK_RETRIEVER) -> int:
    """The `labkit ask` command: answer from the kit's knowledge base or a folder of documents; returns an exit code.

    Example: run_ask("How long is the return window?") prints "You can return ... within 45 days [1]." and returns 0
    The folder's index is cached (LABKIT_CACHE), so only the first question about a folder embeds it.
    max_file_mb raises (or lowers) the size cap on a file; follow_links reads links to files outside the folder;
    retriever is the index's ("dense", "bm25" or "hybrid"; the cached index serves each).
    The answer says whether the source it cites holds its words (citations.citation_check).
    store (default LABKIT_STORE, else "faiss") keeps the vectors in Qdrant instead: the cached FAISS index is copied
    into a collection named for its content once, and searched there (qdrant_store.in_qdrant).
    """
    from labkit.citations import citation_check, format_answer
    from labkit.config import KB_DIR, check_device, get_config
    from labkit.documents import MAX_FILE_BYTES, max_bytes_from_mb, skip_summary
    from labkit.folder_index import index_folder
    from labkit.light_embedder import LightEmbedder
    from labkit.models import load_generator
    from labkit.qdrant_store import in_qdrant, parse_store
    from labkit.question_check import check_question
    from labkit.rag import RAG
    from labkit.reader import reader_for

    question = check_question(question,
                              "The question is empty: type a question in quotes, e.g. labkit ask \"How long is the "
                              "return window?\"")
    top_k = check("top_k", top_k, "--top-k")
    # checked before any model loads
    max_bytes = MAX_FILE_BYTES if max_file_mb is None else max_bytes_from_mb(max_file_mb)
    store = store or get_config().store
    parse_store(store)
    folder = docs or KB_DIR
    start = time.perf_counter()
    # the embedder without sentence-transformers, and the reading adapter merged without peft: the same vectors and the
    # same adapter, seconds less to start (benchmarks/bench_ask.py)
    embedder = LightEmbedder(device=check_device(get_config().device))
    index = index_folder(folder, embedder, progress=not as_json, max_bytes=max_bytes, follow_links=follow_links,
                         retriever=retriever)
    index = in_qdrant(index, store)  # the same index in a vector database, if one is named
    index.retriever = retriever  # a collection opened again searches as asked too (its BM25 is made from its chunks)
    index_s = time.perf_counter() - start
    report = index.report or {}
    if not as_json:
        for line in skip_summary(report.get("skipped", [])):
            print(line, file=sys.stderr)
        for line in skip_summary(report.get("warnings", [])):
            print(line.replace("skipped", "read with a warning", 1), file=sys.stderr)
    answerer, reader_line = reader_for(load_generator(generator), reader, merged=True)
    # an answer with no content (a bare ".", a citation, the question echoed) is replaced by the supporting quote
    result = RAG(index, answerer, top_k=top_k, quote_empty=True).answer(question)
    cite = citation_check(result)
    if as_json:
        out = {
            "question": result.question,
            "answer": result.answer,
            "answer_kind": result.answer_kind,  # "answer": the model's words; "quote": a source's sentence
            "model_answer": result.model_answer or None,  # what the model wrote when a quote replaced it
            "cited": result.cited,
            "cited_by": result.cited_by,
            "citation_checked": cite["checked"],  # null: nothing to check (no citation, no content words)
            "citation_missing": cite["missing"],
            "reader": reader_line,
            "retriever": index.retriever,
            "sources": [{"number": s.number, "path": s.path, "chunk_id": s.chunk_id, "doc_id": s.doc_id,
                         "score": round(s.score, 4)} for s in result.sources],
            "store": store,
            "timings": {"index_s": round(index_s, 3), "index_from_cache": index.from_cache,
                        "retrieve_s": round(result.retrieve_s, 4), "generate_s": round(result.generate_s, 3)},
            "prompt_tokens": result.prompt_tokens,
            "question_cut": result.question_cut,
            "documents": len(index.documents),
            "skipped": report.get("skipped", []),
            "warnings": report.get("warnings", []),
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(format_answer(result))
        print(reader_line)
    return 0
