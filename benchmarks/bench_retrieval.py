"""Dense, BM25 and hybrid retrieval measured on the kit's knowledge base and every foreign corpus; the chunk-size sweep.

For each corpus (data/kb with the first held-out paraphrase of each question in data/qa.jsonl; every folder of
data/foreign with its questions.jsonl, answerable questions only), one index at the kit's chunking is searched by each
retriever (`retrieval.RETRIEVERS`): recall@1/3/5 and MRR (documents), a gold document among the 3 sources, and the
answer among what the prompt shows of them (`rag.format_source`: heading path and the first 120 words). Differences
from dense are paired bootstraps over questions. Then, on the foreign corpora pooled, chunk_size x overlap is swept
with the retriever chosen. The rules that choose `labkit ask`'s retriever and `--docs` chunking from these figures are
`choose_retriever` and `choose_chunking` below, and the record says what they chose. Writes data/retrieval.json and the
README's retrieval block (`readme.retrieval_markdown`); prints the figures. Asserts nothing.

Usage: nice -n 10 python benchmarks/bench_retrieval.py [--no-write]   (about 5 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import time

from labkit.config import KB_DIR, REPO_ROOT
from labkit.corpus import CHUNK_OVERLAP, CHUNK_SIZE
from labkit.data import FOREIGN_CORPORA, RETRIEVAL_PATH, foreign_items, load_qa
from labkit.documents import load_folder
from labkit.evaluate import answer_variants, evaluate_retrieval, shows_answer
from labkit.keyword_index import RRF_K
from labkit.models import load_embedder
from labkit.rag import format_source, sources_from_hits
from labkit.readme import README, RETRIEVAL, retrieval_markdown, write_block
from labkit.retrieval import FUSE_DEPTH, RETRIEVERS, build_index
from labkit.stats import paired_bootstrap, wilson_interval

TOP_K = 3  # sources per prompt, as `labkit ask` shows them
METRICS = ("recall@1", "recall@3", "recall@5", "mrr", "gold_in_sources", "answer_in_sources")
SIZES = (64, 96, 128, 160, 192)  # chunk_size (words) swept on the foreign corpora
OVERLAPS = (0, 24, 48)


def corpora() -> list[tuple[str, str, list[dict]]]:
    """(name, documents folder, questions) of the kit's knowledge base and each foreign corpus."""
    kb = [{**q, "id": f"{q['id']}/0", "asked": q["paraphrases"][0]} for q in load_qa()]
    out = [("kb", str(KB_DIR.relative_to(REPO_ROOT)), kb)]
    for folder in FOREIGN_CORPORA:
        items = [q for q in foreign_items(folder) if q.get("doc_ids") and q.get("answer")]
        out.append((folder.name, str((folder / "docs").relative_to(REPO_ROOT)), items))
    return out


def holds_answer(shown: str, item: dict) -> bool:
    """Whether shown text holds an accepted answer, as the reader comparison's "gold passage shown" counts it
    (`evaluate.shows_answer`: as the kit scores answers, or verbatim)."""
    return shows_answer(shown, answer_variants(item))


def per_question(index, items: list[dict]) -> dict[str, list[float]]:
    """Each metric, one value per question, for the index's retriever."""
    records = evaluate_retrieval(index, items, top_k=TOP_K)["records"]  # items carry "asked": asked as they are
    values = {m: [float(r[m if m != "mrr" else "rr"]) for r in records] for m in METRICS[:5]}
    hits = index.search_many([it["asked"] for it in items], TOP_K)
    values["answer_in_sources"] = [float(any(holds_answer(format_source(s), it) for s in sources_from_hits(row)))
                                   for it, row in zip(items, hits, strict=True)]
    return values


def summary(values: dict[str, list[float]]) -> dict:
    """Means with 95% intervals: Wilson for the shares, a bootstrap of the mean for MRR (not a share)."""
    n = len(values["mrr"])
    out = {"n": n}
    for m, xs in values.items():
        mean = sum(xs) / n
        lo, hi = wilson_interval(mean, n) if m != "mrr" else (lambda b: (b["lo"], b["hi"]))(
            paired_bootstrap(xs, [0.0] * n))  # against zeros: the bootstrap interval of the mean itself
        out[m] = {"rate": round(mean, 4), "lo": lo, "hi": hi}
    return out


def choose_retriever(per: dict, corpus_names: list[str]) -> dict:
    """The best retriever by MRR over every question pooled, if measurably ahead of dense there and measurably behind
    it on no corpus (MRR or a gold document among the sources); dense otherwise."""
    pooled = {r: sum((per[c][r]["mrr"] for c in corpus_names), []) for r in RETRIEVERS}
    best = max(RETRIEVERS, key=lambda r: sum(pooled[r]))
    diff = paired_bootstrap(pooled[best], pooled["dense"]) if best != "dense" else None
    worse = [c for c in corpus_names for m in ("mrr", "gold_in_sources")
             if best != "dense" and paired_bootstrap(per[c][best][m], per[c]["dense"][m])["hi"] < 0]
    chosen = best if diff and diff["measurable"] and diff["diff"] > 0 and not worse else "dense"
    return {"retriever": chosen, "best_by_mrr": best, "pooled_mrr_vs_dense": diff, "measurably_worse_on": worse,
            "rule": "the best retriever by MRR over every corpus's questions pooled, if measurably ahead of dense "
                    "there (paired bootstrap) and measurably behind it on no corpus (MRR, a gold document among the "
                    "sources); dense otherwise"}


def choose_chunking(sweep: list[dict], values: dict) -> dict:
    """The swept chunking with the answer most often among the sources (then MRR), if measurably ahead of the kit's
    128/24 on the same questions; the kit's setting otherwise."""
    best = max(sweep, key=lambda row: (row["answer_in_sources"]["rate"], row["mrr"]["rate"]))
    key = (best["chunk_size"], best["overlap"])
    diff = paired_bootstrap(values[key], values[(CHUNK_SIZE, CHUNK_OVERLAP)]) if key != (CHUNK_SIZE,
                                                                                          CHUNK_OVERLAP) else None
    keep = diff is None or not (diff["measurable"] and diff["diff"] > 0)
    return {"chunk_size": CHUNK_SIZE if keep else key[0], "overlap": CHUNK_OVERLAP if keep else key[1],
            "best": {"chunk_size": key[0], "overlap": key[1]}, "answer_in_sources_vs_kit": diff,
            "rule": "the chunking with the answer most often among the 3 sources shown (then MRR), if measurably ahead "
                    f"of the kit's {CHUNK_SIZE}/{CHUNK_OVERLAP} on the same questions (paired bootstrap); the kit's "
                    "setting otherwise"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-write", action="store_true", help="print only; leave data/retrieval.json and the README")
    args = parser.parse_args()
    start = time.perf_counter()
    embedder = load_embedder()
    sets = corpora()
    record = {"corpora": {}, "settings": {"chunk_size": CHUNK_SIZE, "overlap": CHUNK_OVERLAP, "top_k": TOP_K,
                                          "fuse": f"reciprocal rank fusion, k={RRF_K}, {FUSE_DEPTH} chunks of each"}}
    per: dict = {}
    for name, folder, items in sets:
        index = build_index(load_folder(REPO_ROOT / folder), embedder, progress=False)
        per[name], rows = {}, {}
        for retriever in RETRIEVERS:
            index.retriever = retriever
            per[name][retriever] = per_question(index, items)
            rows[retriever] = summary(per[name][retriever])
            print(f"{name:16s} {retriever:7s} n={rows[retriever]['n']:4d} " + " ".join(
                f"{m}={rows[retriever][m]['rate']:.3f}" for m in METRICS))
        vs_dense = {r: {m: paired_bootstrap(per[name][r][m], per[name]["dense"][m]) for m in METRICS}
                    for r in RETRIEVERS if r != "dense"}
        record["corpora"][name] = {"folder": folder, "documents": len(index.documents), "chunks": len(index),
                                   "retrievers": rows, "vs_dense": vs_dense}
    names = [name for name, _, _ in sets]
    record["choice"] = choose_retriever(per, names)
    chosen = record["choice"]["retriever"]
    print("retriever:", json.dumps(record["choice"]))

    foreign = [(name, folder, items) for name, folder, items in sets if name != "kb"]
    sweep, values = [], {}
    for size in SIZES:
        for overlap in (o for o in OVERLAPS if o < size // 2):
            pooled: dict[str, list[float]] = {m: [] for m in METRICS}
            chunks = 0
            for _, folder, items in foreign:
                index = build_index(load_folder(REPO_ROOT / folder), embedder, chunk_size=size, overlap=overlap,
                                    progress=False, retriever=chosen)
                chunks += len(index)
                for m, xs in per_question(index, items).items():
                    pooled[m] += xs
            values[(size, overlap)] = pooled["answer_in_sources"]
            sweep.append({"chunk_size": size, "overlap": overlap, "chunks": chunks, **summary(pooled)})
            print(f"sweep {size:4d}/{overlap:2d}: {chunks} chunks " + " ".join(
                f"{m}={sweep[-1][m]['rate']:.3f}" for m in ("answer_in_sources", "gold_in_sources", "mrr")))
    record["chunk_sweep"] = {"corpora": [name for name, _, _ in foreign], "retriever": chosen, "rows": sweep,
                             "choice": choose_chunking(sweep, values)}
    print("chunking:", json.dumps(record["chunk_sweep"]["choice"]))
    record.update(seconds=round(time.perf_counter() - start, 1),
                  machine=f"{platform.system()} {platform.machine()}",
                  date=datetime.date.today().isoformat(),
                  commit=subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                        cwd=REPO_ROOT).stdout.strip())
    print(f"{record['seconds']:.0f} s")
    if not args.no_write:
        RETRIEVAL_PATH.write_text(json.dumps(record, indent=1) + "\n")
        write_block(README, RETRIEVAL, retrieval_markdown(record))
        print(f"wrote {RETRIEVAL_PATH.relative_to(REPO_ROOT)} and the README's retrieval block")


if __name__ == "__main__":
    main()
