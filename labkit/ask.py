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

from labkit.answerable import AnswerableRule
from labkit.limits import check

# how `labkit ask` finds its sources: the retriever benchmarks/bench_retrieval.py chose by its rule (the "choice" of
# data/retrieval.json; tests/test_ask.py holds the two together: a measurement that chooses otherwise fails until this
# follows)
ASK_RETRIEVER = "hybrid"
# the reading adapter's answers copied from the sources token by token (`labkit.extractive`): on the validation
# questions (benchmarks/bench_reader_candidate.py --extractive) it lost no right answer and gained a few; the plain
# model, which answers in sentences of its own, always writes freely
ASK_EXTRACTIVE = True
# no second look at an abstention (`RAG(abstain_margin=...)`): on the validation questions, with unanswerable ones made
# by taking their documents out (benchmarks/bench_reader_candidate.py --abstain-margins), the abstention's lead over
# the best span was as large where the answer was shown as where it was not: every margin that gave back answers took
# more right abstentions with them
ASK_ABSTAIN_MARGIN = None
# where the reading adapter abstains or answers, decided by how much of the question the shown sources name
# (`labkit.answerable`): the thresholds chosen on the validation questions, answerable and made unanswerable
# (benchmarks/bench_reader_candidate.py --term-share; the figures are in that run's output and the closing note)
ASK_ANSWERABLE = AnswerableRule(answer_from=0.5, abstain_below=0.3)


def reads_extractively(answerer) -> bool:
    """Whether `labkit ask` copies this reader's answers from the sources: the reading adapter (load_reader marks its
    info with "reader") when ASK_EXTRACTIVE. Example: reads_extractively(load_generator()) -> False."""
    return ASK_EXTRACTIVE and "reader" in answerer.info


def reading_options(answerer) -> dict:
    """The RAG options `labkit ask` reads with for this answerer: extractive, the second look, the answerable rule
    (the last two only where it reads extractively: measured for the reading adapter only).

    Example: RAG(index, reader, quote_empty=True, **reading_options(reader)); reading_options(load_generator())
        -> {"extractive": False, "abstain_margin": None, "answerable": None}
    """
    extractive = reads_extractively(answerer)
    return {"extractive": extractive, "abstain_margin": ASK_ABSTAIN_MARGIN if extractive else None,
            "answerable": ASK_ANSWERABLE if extractive else None}


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
    from labkit.question_check import check_question

    question = check_question(question,
                              "The question is empty: type a question in quotes, e.g. labkit ask \"How long is the "
                              "return window?\"")
    top_k = check("top_k", top_k, "--top-k")
    asker = Asker(docs, generator=generator, reader=reader, max_file_mb=max_file_mb, follow_links=follow_links,
                  store=store, retriever=retriever)
    return asker.answer(question, top_k=top_k, as_json=as_json)


class Asker:
    """What `labkit ask` loads for one folder and its settings (the embedder, the reader, the folder's index), kept so
    that `answer` can be called again: the ask server (`labkit.ask_server`) holds one between questions.

    Example: asker = Asker("data/kb"); asker.answer("How long is the return window?") prints the answer, returns 0
    Settings are checked here, before any model loads. Before every answer the folder's files are hashed again
    (`folder_index.folder_key`): the index in memory is used only while it is the folder's current one.
    """

    def __init__(self, docs: str | None = None, generator: str | None = None, reader: str = "adapter",
                 max_file_mb: float | str | None = None, follow_links: bool = False, store: str | None = None,
                 retriever: str = ASK_RETRIEVER):
        from labkit.config import KB_DIR, check_device, get_config
        from labkit.documents import MAX_FILE_BYTES, max_bytes_from_mb
        from labkit.folder_walk import check_folder
        from labkit.light_embedder import LightEmbedder
        from labkit.qdrant_store import parse_store
        from labkit.retrieval import check_retriever

        # checked before any model loads
        self.max_bytes = MAX_FILE_BYTES if max_file_mb is None else max_bytes_from_mb(max_file_mb)
        self.store = store or get_config().store
        parse_store(self.store)
        check_retriever(retriever)
        self.folder = check_folder(docs or KB_DIR)
        self.generator, self.reader, self.follow_links, self.retriever = generator, reader, follow_links, retriever
        # the embedder without sentence-transformers, and the reading adapter merged without peft: the same vectors
        # and the same adapter, seconds less to start (benchmarks/bench_ask.py)
        self.embedder = LightEmbedder(device=check_device(get_config().device))
        self._index = None
        self._answerer = None

    def index(self, progress: bool = True):
        """The folder's index: the one in memory while no file changed since, else `index_folder`'s (cached on disk,
        or built). Example: Asker().index().from_cache -> True"""
        from labkit.corpus import CHUNK_OVERLAP, CHUNK_SIZE
        from labkit.folder_index import folder_key, index_folder
        from labkit.qdrant_store import in_qdrant

        if self._index is not None and self._index.folder_key == folder_key(
                self.folder, self.embedder, "flat", CHUNK_SIZE, CHUNK_OVERLAP, self.max_bytes, self.follow_links):
            self._index.from_cache = True
            return self._index
        index = index_folder(self.folder, self.embedder, progress=progress, max_bytes=self.max_bytes,
                             follow_links=self.follow_links, retriever=self.retriever)
        key = index.folder_key
        index = in_qdrant(index, self.store)  # the same index in a vector database, if one is named
        # a collection opened again searches as asked too (its BM25 is made from its chunks)
        index.retriever, index.folder_key = self.retriever, key
        self._index = index
        return index

    def answerer(self):
        """The model that reads the sources (loaded once) and the line that says which it is."""
        from labkit.models import load_generator
        from labkit.reader import reader_for

        if self._answerer is None:
            self._answerer = reader_for(load_generator(self.generator), self.reader, merged=True)
        return self._answerer

    def answer(self, question: str, top_k: int = 3, as_json: bool = False) -> int:
        """Print one question's answer (text, or JSON with sources and timings); returns the exit code, 0."""
        from labkit.citations import citation_check, format_answer
        from labkit.documents import skip_summary
        from labkit.rag import RAG

        start = time.perf_counter()
        index = self.index(progress=not as_json)
        index_s = time.perf_counter() - start
        report = index.report or {}
        if not as_json:
            for line in skip_summary(report.get("skipped", [])):
                print(line, file=sys.stderr)
            for line in skip_summary(report.get("warnings", [])):
                print(line.replace("skipped", "read with a warning", 1), file=sys.stderr)
        answerer, reader_line = self.answerer()
        # an answer with no content (a bare ".", a citation, the question echoed) is replaced by the supporting quote
        options = reading_options(answerer)
        extractive = options["extractive"]
        result = RAG(index, answerer, top_k=top_k, quote_empty=True, **options).answer(question)
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
                "extractive": extractive,  # the answer copied from the sources token by token (labkit.extractive)
                # how much of the question the sources name (labkit.answerable); null where no rule was applied
                "term_share": result.term_share,
                "retriever": index.retriever,
                "sources": [{"number": s.number, "path": s.path, "chunk_id": s.chunk_id, "doc_id": s.doc_id,
                             "score": round(s.score, 4)} for s in result.sources],
                "store": self.store,
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
