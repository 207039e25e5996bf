"""A candidate reading adapter against the shipped one, on validation questions only: never the evaluation corpora.

Which adapter ships is decided here, so the foreign corpora (`data/foreign`, what bench_readers.py reports) stay a test
nobody tuned on. The validation sets are the questions of documents both adapters were kept from: the knowledge base's
held-out third (`held-out documents`, as bench_readers.py asks it) and the held-out third of each style of
data/reader_mix (`reader_mix.mix_split`: no question of theirs trained on, no chunk of them shown in training).
Both adapters answer as `labkit ask` does (merged weights, hybrid retrieval, top 3, answers copied from the sources
as `ask.ASK_EXTRACTIVE` says, a quote where the model wrote nothing usable); per set it prints each one's right answers
and abstentions with the gold passage shown, and the paired difference (candidate minus shipped) with its 95%
bootstrap interval over questions. The same held-out questions are also asked with their documents taken out of the
folder (`gold_removed_sets`: unanswerable by construction), where an abstention is right: a candidate that abstains
less where the answer is shown must not simply abstain less everywhere. Asserts nothing, writes nothing. About 10
minutes on 2 cores.

Usage: python benchmarks/bench_reader_candidate.py /tmp/reader-mix [--shipped data/reader]
       python benchmarks/bench_reader_candidate.py --extractive   (the shipped adapter decoding freely against the
           same adapter copying its answers)
       python benchmarks/bench_reader_candidate.py --abstain-margins 0,1,2,4,8   (the shipped adapter as ask reads,
           each margin of RAG.abstain_margin; adds, per mix style, its held-out questions asked with their documents
           taken out of the folder: unanswerable by construction, where abstaining is right)
       python benchmarks/bench_reader_candidate.py --term-share 0.5:0.3,0.6:0   (the shipped adapter as ask reads, each
           answerable rule answer_from:abstain_below of labkit.answerable, on the same sets as the margins)
The margins are swept from one run: each answer records its abstention lead (`RAGAnswer.abstain_lead`), and an
answer abstains under margin m exactly where greedy decoding abstained and the lead is at least m. So are the rules:
each answer records its term share, and abstains under a rule where greedy decoding abstained and the term share is
below answer_from, or wherever it is below abstain_below.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

from bench_readers import KIT_SET, ask_index_options, question_sets

from labkit import ask
from labkit.answerable import AnswerableRule
from labkit.data import READER_DIR
from labkit.models import load_embedder, load_generator
from labkit.reader import load_reader
from labkit.reader_mix import MIX_DIR, MIX_STYLES, mix_items, mix_split
from labkit.reader_sets import compare_readers, fraction
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
    parser.add_argument("--abstain-margins", default="",
                        help="comma-separated margins (nats) of the second look to sweep, e.g. 0,1,2,4,8")
    parser.add_argument("--term-share", default="",
                        help="answerable rules to sweep, comma-separated answer_from:abstain_below pairs, e.g. "
                             "0.5:0.3,0.6:0 (labkit.answerable)")
    args = parser.parse_args()
    if args.term_share:
        rules = [tuple(float(x) for x in pair.split(":")) for pair in args.term_share.split(",")]
        sweep_term_share(rules, args.shipped)
        return
    if args.abstain_margins:
        sweep_margins([float(m) for m in args.abstain_margins.split(",")], args.shipped)
        return
    gen = load_generator()
    shipped = load_reader(gen, args.shipped, merged=True)
    candidate = shipped if args.candidate == args.shipped else load_reader(gen, args.candidate, merged=True)
    # --extractive: the shipped adapter decoding freely against the same adapter copying its answers
    readers = {"shipped": (shipped, {} if args.extractive else ask.reading_options(shipped)),
               "candidate": (candidate, {"extractive": True} if args.extractive else ask.reading_options(candidate))}
    with tempfile.TemporaryDirectory(prefix="labkit-candidate-") as tmp:
        result = compare_readers(readers, load_embedder(), {**validation_sets(), **gold_removed_sets(Path(tmp))},
                                 index_options=ask_index_options(), log=lambda *_: None)
    print(f"candidate {args.candidate} against shipped {args.shipped}: right answers (of the answerable), abstentions "
          "with the gold passage shown, candidate minus shipped paired over questions; on the sets with the gold "
          "documents removed, abstentions (right there)")
    for name, entry in result.items():
        shipped, candidate = (entry["readers"][r] for r in ("shipped", "candidate"))
        if not shipped["n"]:
            print(f"{name:<32} abstains on unanswerable {fraction(shipped['abstain_unanswerable'])} -> "
                  f"{fraction(candidate['abstain_unanswerable'])}")
            continue
        before = {r["id"]: bool(r["match"]) for r in shipped["records"] if r["answerable"]}
        after = {r["id"]: bool(r["match"]) for r in candidate["records"] if r["answerable"]}
        ids = sorted(before)
        d = paired_bootstrap([float(after[i]) for i in ids], [float(before[i]) for i in ids])
        verdict = "measurable" if d["measurable"] else "no measurable difference"
        print(f"{name:<32} shipped {shipped['right']}/{shipped['n']}, candidate {candidate['right']}/{candidate['n']}: "
              f"{d['diff']:+.2f} [{d['lo']:+.2f}, {d['hi']:+.2f}] ({verdict}); abstains with the gold shown "
              f"{fraction(shipped['abstain_gold_shown'])} -> {fraction(candidate['abstain_gold_shown'])}")


def gold_removed_sets(tmp: Path) -> dict:
    """name -> (folder, items): per mix style, its held-out questions over the style's folder without their documents
    (copied to `tmp`), each marked unanswerable (answer None). A question another document also answers counts as one
    that should be abstained on: the sweep errs towards abstaining."""
    sets = {}
    for style in MIX_STYLES:
        docs = MIX_DIR / style / "docs"
        held = set(mix_split([p.stem for p in docs.iterdir() if p.is_file()])[1])
        folder = tmp / style
        folder.mkdir()
        for p in docs.iterdir():
            if p.is_file() and p.stem not in held:
                shutil.copy(p, folder / p.name)
        sets[f"{style} (gold removed)"] = (folder, [{**q, "asked": q["question"], "answer": None}
                                                    for q in mix_items(MIX_DIR / style) if q["doc_ids"][0] in held])
    return sets


def under_margin(records: list[dict], margin: float) -> list[dict]:
    """The records as they would be under `margin`: a second-look answer whose abstention lead reaches it abstains."""
    return [{**r, "match": False, "abstained": True} if r["abstain_lead"] is not None and r["abstain_lead"] >= margin
            else r for r in records]


def sweep_margins(margins: list[float], adapter: Path) -> None:
    """The shipped adapter as `labkit ask` reads (extractive), every abstention second-looked: per set and margin,
    right answers and abstentions (with the gold shown; on unanswerable questions)."""
    gen = load_generator()
    reader = load_reader(gen, adapter, merged=True)
    with tempfile.TemporaryDirectory(prefix="labkit-margins-") as tmp:
        sets = {**validation_sets(), **gold_removed_sets(Path(tmp))}
        result = compare_readers({"second look": (reader, {"extractive": True, "abstain_margin": math.inf})},
                                 load_embedder(), sets, index_options=ask_index_options(), log=lambda *_: None)
    print(f"{adapter}, extractive: right answers (of the answerable); abstentions with the gold shown; abstentions on "
          "unanswerable questions. Margin -inf: greedy decoding's own abstentions; inf: never abstains")
    total: dict = {}
    for name, entry in result.items():
        records = entry["readers"]["second look"]["records"]
        cells = []
        for m in [-math.inf, *margins, math.inf]:
            rs = under_margin(records, m)
            answerable = [r for r in rs if r["answerable"]]
            shown = [r for r in answerable if r["gold_shown"]]
            none = [r for r in rs if not r["answerable"]]
            right, gold_ab, none_ab = (sum(r["match"] for r in answerable), sum(r["abstained"] for r in shown),
                                       sum(r["abstained"] for r in none))
            t = total.setdefault(m, [0, 0, 0, 0, 0, 0])
            for k, v in enumerate((right, len(answerable), gold_ab, len(shown), none_ab, len(none))):
                t[k] += v
            cells.append(f"m={m:g}: " + (f"right {right}/{len(answerable)}, abstain(gold) {gold_ab}/{len(shown)}"
                                         if answerable else f"abstain {none_ab}/{len(none)}"))
        print(f"{name:<32} " + "; ".join(cells))
    leads = {kind: sorted(r["abstain_lead"] for entry in result.values()
                          for r in entry["readers"]["second look"]["records"]
                          if r["abstain_lead"] is not None and r["answerable"] == (kind == "answerable"))
             for kind in ("answerable", "unanswerable")}
    for kind, values in leads.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"abstention leads (nats) where greedy abstained, {kind} questions: {shown}")
    for m, (right, n, gold_ab, n_shown, none_ab, n_none) in total.items():
        print(f"all sets, margin {m:g}: right {right}/{n} = {right / n:.2f}; abstains with the gold shown "
              f"{gold_ab}/{n_shown} = {gold_ab / n_shown:.2f}; abstains on unanswerable {none_ab}/{n_none} = "
              f"{none_ab / n_none:.2f}")


def under_rule(records: list[dict], answer_from: float, abstain_below: float, chunks: int) -> list[dict]:
    """The records of a run that never abstained where it could answer (margin inf) as they would be under the
    answerable rule: an abstention greedy decoding made (its lead recorded) stands where the sources cover less than
    answer_from; any answer withdraws where they cover less than abstain_below (on an index of `chunks` chunks, at
    least AnswerableRule's min_chunks)."""
    withdraws = chunks >= AnswerableRule().min_chunks
    out = []
    for r in records:
        c = r["term_share"]
        withdrawn = c is not None and ((withdraws and c < abstain_below)
                                       or (r["abstain_lead"] is not None and c < answer_from))
        out.append({**r, "match": False, "abstained": True} if withdrawn else r)
    return out


def sweep_term_share(rules: list[tuple], adapter: Path) -> None:
    """The shipped adapter as `labkit ask` reads (extractive), every abstention second-looked and every term share
    recorded: per rule (answer_from, abstain_below), pooled over the sets, right answers and abstentions (with the gold
    shown; on unanswerable questions), and per set."""
    gen = load_generator()
    reader = load_reader(gen, adapter, merged=True)
    never = AnswerableRule(answer_from=math.inf, abstain_below=0.0)  # records term share, changes nothing
    with tempfile.TemporaryDirectory(prefix="labkit-term-share-") as tmp:
        sets = {**validation_sets(), **gold_removed_sets(Path(tmp))}
        result = compare_readers({"second look": (reader, {"extractive": True, "abstain_margin": math.inf,
                                                           "answerable": never})},
                                 load_embedder(), sets, index_options=ask_index_options(), log=lambda *_: None)
    print(f"{adapter}, extractive: right answers (of the answerable); abstentions with the gold shown; abstentions on "
          "unanswerable questions. Rule inf:0 is greedy decoding's own abstentions")
    for answer_from, abstain_below in [(math.inf, 0.0), *rules]:
        total = [0, 0, 0, 0, 0, 0]
        cells = []
        for name, entry in result.items():
            rs = under_rule(entry["readers"]["second look"]["records"], answer_from, abstain_below, entry["chunks"])
            answerable = [r for r in rs if r["answerable"]]
            shown = [r for r in answerable if r["gold_shown"]]
            none = [r for r in rs if not r["answerable"]]
            counts = (sum(r["match"] for r in answerable), len(answerable), sum(r["abstained"] for r in shown),
                      len(shown), sum(r["abstained"] for r in none), len(none))
            total = [t + c for t, c in zip(total, counts, strict=True)]
            cells.append(f"{name}: " + (f"right {counts[0]}/{counts[1]}, abstain(gold) {counts[2]}/{counts[3]}"
                                        if answerable else f"abstain {counts[4]}/{counts[5]}"))
        right, n, gold_ab, n_shown, none_ab, n_none = total
        print(f"rule {answer_from:g}:{abstain_below:g}: right {right}/{n} = {right / n:.2f}; abstains with the gold "
              f"shown {gold_ab}/{n_shown} = {gold_ab / n_shown:.2f}; abstains on unanswerable {none_ab}/{n_none} = "
              f"{none_ab / n_none:.2f}\n    " + "; ".join(cells))


if __name__ == "__main__":
    main()
