"""A candidate reading adapter against the shipped one, on validation questions only: never the evaluation corpora.

Which adapter ships is decided here, so the foreign corpora (`data/foreign`, what bench_readers.py reports) stay a test
nobody tuned on. The validation sets are the questions of documents both adapters were kept from: the knowledge base's
held-out third (`held-out documents`, as bench_readers.py asks it) and the held-out third of each style of
data/reader_mix (`reader_mix.mix_split`: no question of theirs trained on, no chunk of them shown in training).
Both adapters answer as `labkit ask` does (merged weights, hybrid retrieval, top 3, a quote where the model wrote
nothing usable); per set it prints each one's right answers and abstentions with the gold passage shown, and the
paired difference (candidate minus shipped) with its 95% bootstrap interval over questions. Asserts nothing, writes
nothing. About 6 minutes on 2 cores.

Usage: python benchmarks/bench_reader_candidate.py /tmp/reader-mix [--shipped data/reader]
       python benchmarks/bench_reader_candidate.py --extractive   (the shipped adapter, its answers copied or not)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench_readers import KIT_SET, ask_index_options, question_sets

from labkit.data import READER_DIR
from labkit.models import load_embedder, load_generator
from labkit.reader import compare_readers, load_reader
from labkit.reader_mix import MIX_DIR, MIX_STYLES, mix_items, mix_split
from labkit.stats import paired_bootstrap


def validation_sets() -> dict:
    """name -> (folder, items): the kit's held-out documents, then each mix style's held-out third (its whole folder
    indexed, so the other documents of the style are the distractors)."""
    sets = {KIT_SET: question_sets()[KIT_SET]}
    for style in MIX_STYLES:
        docs = MIX_DIR / style / "docs"
        held = set(mix_split([p.stem for p in docs.iterdir() if p.is_file()])[1])
        sets[f"{style} (held out)"] = (docs, [{**q, "asked": q["question"]} for q in mix_items(MIX_DIR / style)
                                              if q["doc_ids"][0] in held])
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidate", type=Path, nargs="?", default=READER_DIR,
                        help="the candidate adapter's folder (what train-reader --out wrote; default: the shipped one)")
    parser.add_argument("--shipped", type=Path, default=READER_DIR, help="the adapter to compare with (data/reader)")
    parser.add_argument("--extractive", action="store_true",
                        help="the candidate's answers copied from the sources (labkit.extractive), the shipped's not")
    args = parser.parse_args()
    gen = load_generator()
    shipped = load_reader(gen, args.shipped, merged=True)
    candidate = shipped if args.candidate == args.shipped else load_reader(gen, args.candidate, merged=True)
    readers = {"shipped": shipped, "candidate": (candidate, {"extractive": args.extractive})}
    result = compare_readers(readers, load_embedder(), validation_sets(), index_options=ask_index_options(),
                             log=lambda *_: None)
    print(f"candidate {args.candidate} against shipped {args.shipped}: right answers (of the answerable), abstentions "
          "with the gold passage shown, candidate minus shipped paired over questions")
    for name, entry in result.items():
        shipped, candidate = (entry["readers"][r] for r in ("shipped", "candidate"))
        before = {r["id"]: bool(r["match"]) for r in shipped["records"] if r["match"] is not None}
        after = {r["id"]: bool(r["match"]) for r in candidate["records"] if r["match"] is not None}
        ids = sorted(before)
        d = paired_bootstrap([float(after[i]) for i in ids], [float(before[i]) for i in ids])
        verdict = "measurable" if d["measurable"] else "no measurable difference"
        print(f"{name:<32} shipped {shipped['right']}/{shipped['n']}, candidate {candidate['right']}/{candidate['n']}: "
              f"{d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}] ({verdict}); abstains with the gold shown "
              f"{shipped['abstain_gold_shown']['hits']}/{shipped['abstain_gold_shown']['n']} -> "
              f"{candidate['abstain_gold_shown']['hits']}/{candidate['abstain_gold_shown']['n']}")


if __name__ == "__main__":
    main()
