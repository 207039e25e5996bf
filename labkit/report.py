"""The report of a side-by-side run: Markdown tables, charts, "what it means", and the cached latest results.

What it holds:
- `scoreboard_markdown`, `miss_split_markdown`, `freshness_markdown`, `cost_markdown`,
  `cost_over_time_markdown`, `behaviour_facts_markdown` (behaviour + facts), `reader_markdown` (the shipped
  reading adapter's record), `reader_comparison_markdown` (the readers on every corpus, against the targets):
  the tables (cells by `findings.fmt`); the findings in words are `labkit.findings`'.
- `write_report`: report.md, the PNG charts (drawn by `labkit.plots`) and results.json.
- `save_latest` / `load_latest`: the last run's results in the cache, so notebook 07 can
  build on notebook 06's run.
Every Markdown table of the kit is written here, once.

What it leaves out: running the experiment (`labkit.compare`), the decision guide (`labkit.choose`), loading the
shipped results (`labkit.data`), and the README's generated blocks and the shipped run's words (`labkit.readme`,
which puts these tables between its markers).
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.answerable import AnswerableRule
from labkit.behaviour_facts import BEHAVIOUR_FACTS_APPROACHES
from labkit.claims import claims_markdown
from labkit.config import get_config
from labkit.data import reader_info
from labkit.evaluate import METRIC_LABELS, MISS_LABELS
from labkit.findings import fmt, meaning, questions_asked, rate_cell
from labkit.keys import Approach, renamed
from labkit.stats import rate_text


def scoreboard_markdown(board: dict) -> str:
    """The scoreboard as a Markdown table, one row per approach, the answers scored first (taught, then untaught
    questions).

    Example: scoreboard_markdown(results["scoreboard"]).splitlines()[0]
        -> "| approach | n taught | n untaught | accuracy (match), ..."
    """
    head = "| approach | n taught | n untaught | " + " | ".join(METRIC_LABELS.values()) + " |"
    rule = "|---" * (len(METRIC_LABELS) + 3) + "|"
    lines = [head, rule]
    for approach, row in board.items():
        n, n_untaught = ((row.get(m) or {}).get("n", "") for m in ("accuracy", "untaught_acc"))
        lines.append(f"| {approach} | {n} | {n_untaught} | " + " | ".join(fmt(row.get(m), m) for m in METRIC_LABELS)
                     + " |")
    return "\n".join(lines)


def miss_split_markdown(board: dict) -> str:
    """Where each RAG row's answers go wrong: retrieval misses against reading misses, as rates with their intervals.

    Example: miss_split_markdown(results["scoreboard"]).splitlines()[0]
        -> "| approach | n | right | wrong: no gold source retrieved | ..."
    Runs made before the split was measured have no such figures: the text says so.
    """
    rows = {a: r for a, r in board.items() if r.get("retrieval_miss")}
    if not rows:
        return "Not measured in this run (it predates the retrieval/reading split): run `labkit compare` to see it."
    lines = ["| approach | n | right | " + " | ".join(MISS_LABELS.values()) + " |",
             "|---" * (len(MISS_LABELS) + 3) + "|"]
    for approach, row in rows.items():
        lines.append(f"| {approach} | {row['accuracy']['n']} | {fmt(row['accuracy'])} | "
                     + " | ".join(fmt(row[m]) for m in MISS_LABELS) + " |")
    return "\n".join(lines)


def freshness_markdown(freshness: dict | None) -> str:
    """The freshness table.
    Example: freshness_markdown(results["freshness"]).splitlines()[0] -> "| model | new value | old value |"."""
    if not freshness:
        return "(no freshness run)"
    lines = ["| model | answers with the new value | answers with the old value |", "|---|---|---|"]
    for key, value in freshness.items():
        if isinstance(value, dict) and "new" in value:
            lines.append(f"| {key} | {fmt(value['new'])} | {fmt(value['old'])} |")
    lines.append("")
    lines.append(f"Index update: {fmt(freshness['update_s'], 'x_s')} s for "
                 f"{fmt(freshness['n_updates'], 'prompt_tokens')} documents; "
                 f"retraining: {fmt(freshness['retrain_s'], 'x_s')} s"
                 + (f" ({fmt(freshness['num_retrain_steps'], 'prompt_tokens')} steps continuing the fine-tuned adapter "
                    "on the changed facts "
                    "plus as many unchanged ones; the unchanged facts' accuracy went from "
                    f"{fmt(freshness['kept_acc_before'])} to "
                    f"{fmt(freshness['kept_acc_after'])})." if freshness.get("kept_acc_before") else "."))
    return "\n".join(lines)


def cost_markdown(cost_projection: dict) -> str:
    """The cost projection as a Markdown table (estimates).
    Example: cost_markdown(results["cost_projection"]).splitlines()[0] -> "| model | device | ..."."""
    lines = ["| model | device | fine-tune (estimate) | 32-token answer (estimate) | assumption |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['device']} | {r['train']} | {r['per_answer']} | {r['assumption']} |" for r
              in cost_projection["rows"]]
    return "\n".join(lines)


def cost_over_time_markdown(results: dict) -> str:
    """A year of keeping each approach current, in seconds of this CPU, per change frequency, and where two curves
    cross.

    Example: cost_over_time_markdown(results).splitlines()[0]
        -> "| approach | kept current by | one-off (s) | daily: a year (s) | ..."
    """
    from labkit.costs import CHANGE_FREQUENCIES, cost_over_time, crossing_day

    kept = cost_over_time(results)
    lines = ["| approach | kept current by | one-off (s) | per change (s) | "
             + " | ".join(f"{f}: a year (s)" for f in CHANGE_FREQUENCIES) + " |",
             "|---|---|---|---|" + "---|" * len(CHANGE_FREQUENCIES)]
    for a, c in kept.items():
        lines.append(f"| {a} | {c['how']} | {c['one_off_s']:.0f} | {c['per_change_s']:.1f} | "
                     + " | ".join(f"{c['curves'][f][-1]:.0f}" for f in CHANGE_FREQUENCIES) + " |")
    crossings = [f"{a} costs more than {b} from day {day + 1} with {f} changes"
                 for f in CHANGE_FREQUENCIES for a in kept for b in kept if a != b
                 for day in [crossing_day(kept[a]["curves"][f], kept[b]["curves"][f])] if day is not None]
    lines += ["", "Crossings: " + ("; ".join(crossings) + "." if crossings else
                                  "none: every approach that is cheaper to build is also cheaper to keep current, so "
                                  "the "
                                  "order on day one holds all year.")]
    return "\n".join(lines)


def behaviour_facts_markdown(result: dict) -> str:
    """Behaviour + facts' table: per approach, format, intent and fact accuracy before the update and fact accuracy
    after.

    Example: behaviour_facts_markdown(results["behaviour"]["behaviour_facts"]).splitlines()[0]
        -> "| approach | format compliance (n=24) | ..."
    """
    n, m = result["num_messages"], result["num_changed"]
    lines = [f"| approach | format compliance (n={n}) | intent right (n={n}) | fact right (n={n}) | fact right after "
             f"the update (n={m}) |",
             "|---|---|---|---|---|"]
    for approach in BEHAVIOUR_FACTS_APPROACHES:
        b, a = result["before"][approach], result["after"][approach]
        lines.append(f"| {approach} | {rate_cell(b, 'format_compliance')} | {rate_cell(b, 'label_accuracy')} | "
                     f"{rate_cell(b, 'fact_accuracy')} "
                     f"| {rate_cell(a, 'fact_accuracy')} |")
    return "\n".join(lines)


def reader_cell(scores: dict) -> str:
    """One reader's accuracy on one question set of the reading adapter's record, with its 95% interval and n.

    Example: reader_cell(reader_info()["evaluation"]["foreign corpus"]["plain"]) -> "0.12 [0.05, 0.28] (n=32)"
    """
    low, high = scores["accuracy_95"]
    return f"{scores['accuracy']:.2f} [{low:.2f}, {high:.2f}] (n={scores['n']})"


def reader_markdown(info: dict) -> str:
    """The shipped adapter's figures, every number read from its labkit.json: a section of report.md, and the reader
    block of README.md and data/README.md (`labkit.readme.READER`).
    Example: reader_markdown(reader_info()).splitlines()[0] -> "`labkit train-reader` trained it in 444 s ..."
    """
    reader_config = info["reader_config"]
    lines = [f"`{info['command']}` trained it in {info['train_s']:.0f} s ({info['steps_done']} steps of "
             f"{reader_config['batch_size']}, "
             f"{info['tokens']} tokens, {info['precision']} matmuls, 2 CPU cores) on {info['examples']} examples "
             f"({info['abstain_examples']} of them abstentions) from the {info['train_questions']} questions of "
             f"{info['train_documents']} documents; rank {reader_config['rank']}, lr {reader_config['lr']}, seed "
             f"{reader_config['seed']}, "
             f"{info['trainable_params']} weights. Held out (no question of theirs trained on): "
             f"{', '.join(info['held_out_documents'])}."
             + (" Beside them, questions on documents of other styles: " + "; ".join(
                 f"{m['train_questions']} on data/reader_mix/{style} ({len(m['held_out_documents'])} of its documents "
                 "held out)" for style, m in info["mix"].items()) + "." if info.get("mix") else ""), ""]
    evaluation = info.get("evaluation")
    if evaluation:
        lines += ["Same retrieval (top 3), same prompt, same questions; accuracy with its 95% Wilson interval; an "
                  "abstention is \"The sources do not say.\"; an empty answer has no content of its own. Held-out "
                  "documents: the first paraphrase of each question about them; all questions: the kit's 195 "
                  "(paraphrases: the adapter trained on the training wording of the questions outside the held-out "
                  "documents); foreign corpus: data/foreign/playwright-cli.", "",
                  "| question set | reader | accuracy | abstains, a gold document retrieved | abstains, none retrieved "
                  "or no answer exists | empty answers | answer p50 |",
                  "|---|---|---|---|---|---|---|"]
        for set_name, readers in evaluation.items():
            for name, s in readers.items():
                gold, none, empty = s["abstain_gold_found"], s["abstain_no_answer"], s["empty"]
                lines.append(f"| {set_name} | {name} | {reader_cell(s)} | "
                             f"{gold['hits']}/{gold['n']} | {none['hits']}/{none['n']} | {empty['hits']}/{empty['n']} "
                             f"| {s['answer_p50_s']:.2f} s |")
    return "\n".join(lines)


# the targets for the default reader on each foreign corpus: (key, label, bound, at least?)
READER_TARGETS = (("gold_shown", "gold passage shown", 0.90, True), ("accuracy", "right", 0.55, True),
                  ("abstain_gold_shown", "abstains with the gold passage shown", 0.10, False),
                  ("empty", "empty answers", 0.0, False))


def _rate_cell(rate: dict) -> str:
    return rate_text(rate["rate"], rate["n"], show_n=False) + f" ({rate['hits']}/{rate['n']})" if rate["n"] else "-"


def _count(rate: dict) -> str:
    return f"{rate['hits']}/{rate['n']}"


def reader_comparison_markdown(record: dict, default_reader: str = "reading adapter") -> str:
    """The readers on every question set, every number read from data/reader_comparison.json: the README's table.

    Example: reader_comparison_markdown(load_reader_comparison()).splitlines()[2]
        -> "| question set | documents, chunks | index build | reader | right | gold passage shown | ..."
    Then, for the default reader on each foreign corpus, which of the targets it meets (by the 95% interval) and, where
    it does not, which part (retrieval, reading, abstention) holds it back, with the figures.
    """
    # a record made before `labkit ask` named its retriever was measured with dense retrieval: say so, not "as ask does"
    how = (f"retrieval as `labkit ask --docs` does it ({record['retrieval']}, top {record['top_k']})"
           if "retriever" in record["retrieval"] else
           f"dense retrieval ({record['retrieval']}, top {record['top_k']}; measured before `labkit ask` searched "
           "hybrid: run the benchmark again to measure what it does now)")
    lines = [f"`{record['command']}` measured on {record['machine']}, {record['date']}, commit {record['commit']}: "
             f"{how}, answers as "
             "`labkit ask` gives them (where the model wrote nothing usable, the supporting quote: \"quotes\"). "
             + ("The reading adapter's answers are copied from the sources token by token (`labkit.extractive`). "
                if record.get("extractive") else "")
             + (AnswerableRule(**record["answerable"]).in_words() + " " if record.get("answerable") else "")
             + "Rates with their 95% Wilson interval. Right: of the answerable questions. Gold passage shown: a source "
             "from the gold document showed the answer's words. A wrong answer is a retrieval miss (the gold passage "
             "not shown), an abstention with it shown, or a reading miss (shown, misread). Index build: a fresh index "
             "of the folder (load, chunk, embed; no cache). Answer p50: the median seconds per answer with the "
             "questions answered in length-sorted batches of 32, the models already loaded (one `labkit ask` call "
             "answers one question and loads them first: `labkit doctor` says what that costs)."
             + _load_note(record.get("load_average")), "",
             "| question set | documents, chunks | index build | reader | right | gold passage shown | retrieval "
             "misses | reading misses | abstains, gold passage shown | abstains, no answer exists | quotes | empty "
             "answers | answer p50 |",
             "|---" * 13 + "|"]
    for set_name, entry in record["sets"].items():
        for name, s in entry["readers"].items():
            lines.append(f"| {set_name} | {entry['documents']}, {entry['chunks']} | {entry['index_build_s']:.1f} s | "
                         f"{name} | {rate_text(s['accuracy'], s['n'])} | {_rate_cell(s['gold_shown'])} | "
                         f"{_count(s['retrieval_misses'])} | {_count(s['reading_misses'])} | "
                         f"{_rate_cell(s['abstain_gold_shown'])} | {_count(s['abstain_unanswerable'])} | "
                         f"{_count(s['quotes'])} | {_count(s['empty'])} | {s['answer_p50_s']:.2f} s |")
    lines += ["", f"Against the targets ({default_reader}, the default reader), on each foreign corpus:", ""]
    for set_name, entry in record["sets"].items():
        if set_name in record.get("kit_sets", ()) or default_reader not in entry["readers"]:
            continue
        lines.append(f"- {set_name}: {_targets(entry['readers'][default_reader])}")
    return "\n".join(lines)


def _load_note(load: dict | None) -> str:
    """What the machine was doing meanwhile: seconds measured beside other work are longer than on an idle laptop."""
    if not load:
        return ""
    busy = load["mean"] > 1.2 * load["cores"]
    return (f" The load average was {load['mean']:.1f} on {load['cores']} cores during the run (at most "
            f"{load['max']:.1f})" + (": other work shared the cores, so the seconds are longer than on an idle "
                                      "machine; the rates are not affected." if busy else "."))


def _targets(s: dict) -> str:
    """Which targets the default reader meets on one corpus: "meets" only when its whole 95% interval is on the right
    side of the bound, "misses" when it is all on the wrong side, else "no measurable difference from" the bound (a
    bound of zero is a count: met only by none)."""
    verdicts: dict[str, list[str]] = {"meets": [], "no measurable difference from": [], "misses": []}
    for key, label, bound, at_least in READER_TARGETS:
        value, (low, high) = (s["accuracy"], s["accuracy_95"]) if key == "accuracy" else (s[key]["rate"],
                                                                                           s[key]["ci95"])
        if bound == 0:
            verdict = "meets" if value == 0 else "misses"
        elif (low >= bound) if at_least else (high <= bound):
            verdict = "meets"
        elif (high < bound) if at_least else (low > bound):
            verdict = "misses"
        else:
            verdict = "no measurable difference from"
        side = "at least" if at_least else "at most"
        verdicts[verdict].append(f"{label} {value:.2f} [{low:.2f}, {high:.2f}] ({side} {bound:.2f})")
    text = "; ".join(f"{verdict} {', '.join(items)}" for verdict, items in verdicts.items() if items)
    if verdicts["misses"] or verdicts["no measurable difference from"]:
        parts = {"retrieval": s["retrieval_misses"]["hits"], "reading": s["reading_misses"]["hits"],
                 "abstention": s["abstain_gold_shown"]["hits"]}
        worst = max(parts, key=parts.get)
        count = lambda n, word: f"{n} {word}" + ("" if n == 1 else "es" if word.endswith("miss") else "s")  # noqa: E731
        text += (f". Of its {s['n'] - s['right']} wrong answers: {count(parts['retrieval'], 'retrieval miss')}, "
                 f"{count(parts['reading'], 'reading miss')} and {count(parts['abstention'], 'abstention')} with the "
                 f"gold passage shown: {worst} holds it back most")
    return text + "."


def write_report(results: dict, out) -> Path:
    """Write report.md, the PNG charts and results.json into a folder.
    Example: write_report(results, "reports") -> PosixPath('reports/report.md')."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labkit.plots import plot_accuracy_vs_cost, plot_cost_over_time, plot_freshness, plot_metric_bars

    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    charts = {"scoreboard.png": lambda ax: plot_metric_bars(results["scoreboard"], ax=ax),
              "accuracy_vs_cost.png": lambda ax: plot_accuracy_vs_cost(results["scoreboard"], ax=ax)}
    if results.get("freshness"):
        charts["freshness.png"] = lambda ax: plot_freshness(results["freshness"], ax=ax)
        charts["cost_over_time.png"] = lambda ax: plot_cost_over_time(results, "weekly", ax=ax)
    for name, draw in charts.items():
        fig, ax = plt.subplots(figsize=(10, 4) if name == "scoreboard.png" else (7, 4))
        draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
    run_config = results["config"]
    md = ["# labkit: side by side", "",
          f"SmolLM2-135M-Instruct (embedded), {len(run_config['seeds'])} seed(s) {run_config['seeds']}, "
          f"{questions_asked(results)} (held-out paraphrases), LoRA rank {run_config['rank']}, "
          f"{run_config['num_steps']} steps, "
          f"top_k {run_config['top_k']}; {'quick' if results.get('quick') else 'full'} mode, "
          f"{results.get('seconds', 0):.0f} s in all. "
          "Cells are mean ± sample standard deviation over seeds. Closed-book and RAG involve no training and decode "
          "greedily, "
          "so they run once and show no spread. Multiple choice is n/a for RAG rows (it scores stored knowledge, not "
          "reading).",
          "", "## Scoreboard", "", scoreboard_markdown(results["scoreboard"]), "", "![scoreboard](scoreboard.png)", "",
          "## Where RAG answers go wrong", "",
          "A retrieval miss: no gold document among the sources. A reading miss: a gold document "
          "was there and the answer is still wrong.", "", miss_split_markdown(results["scoreboard"]), "",
          "## Freshness", "", freshness_markdown(results.get("freshness")), ""]
    if results.get("freshness"):
        md += ["![freshness](freshness.png)", ""]
    if Approach.READER_RAG in results["scoreboard"]:
        md += ["## The reading adapter on documents it never saw, and on a corpus nobody here wrote", "",
               "From the shipped adapter's own record (data/reader/labkit.json, written by `labkit train-reader`), not "
               "from this run:", "",
               reader_markdown(reader_info()), ""]
    b = results.get("behaviour")
    if b:
        md += ["## Behaviour: triage (fine-tuning's home ground)", "",
               f"{b['num_test']} test messages; few-shot uses the {b['top_k']} most similar training messages; LoRA "
               f"{b['num_steps']} steps; "
               f"one seed ({run_config['seeds'][0]}), to keep the report's time down.", "",
               "| approach | label accuracy | format compliance | priority accuracy | prompt tokens | s per message |",
               "|---|---|---|---|---|---|"]
        for name in ("zero_shot", "few_shot", "lora"):
            r = b[name]
            n = b["num_test"]
            md.append(f"| {name} | {rate_text(r['label_accuracy'], n)} | {rate_text(r['format_compliance'], n)} | "
                      f"{rate_text(r['priority_accuracy'], n)} "
                      f"| {r['prompt_tokens']:.0f} | {r['seconds_per_message']:.2f} |")
        md.append("")
        if b.get("behaviour_facts"):
            h = b["behaviour_facts"]
            md += ["## Behaviour + facts: fine-tune the behaviour, retrieve the facts", "",
                   f"{h['num_messages']} support messages asking a product fact (held-out wordings of the kit's "
                   "questions), to be "
                   f"answered in the triage format with the fact in the reply; {h['num_changed']} of the facts then "
                   "change "
                   "(data/updates.jsonl re-embedded into a copy of the index, the LoRA not retrained). Sources: top "
                   f"{h['top_k']}.", "",
                   behaviour_facts_markdown(h), ""]
    cp = results.get("cost_projection")
    if cp:
        md += ["## Cost projection (estimates, not measurements)", "",
               f"Measured here: {results['train_tokens_per_s']:.0f} training tokens/s (LoRA, "
               f"{cp['total_params'] / 1e6:.0f}M parameters, "
               f"{cp['train_tokens']} tokens per fine-tune). Formula: LoRA training ≈ 4·N·D FLOPs (full fine-tuning "
               "6·N·D), "
               "generation ≈ 2·N FLOPs per token; this CPU's achieved FLOP/s = tokens/s × 4·N; GPUs at an assumed MFU. "
               "Serving rows are lower bounds (decoding is memory-bound). Same data (D) for every model.", "",
               cost_markdown(cp), ""]
    if results.get("freshness"):
        md += ["## Keeping current: a year of fact changes (measured seconds of this CPU)", "",
               cost_over_time_markdown(results), "", "![cost over time](cost_over_time.png)", ""]
    md += ["## Accuracy against cost", "", "![accuracy vs cost](accuracy_vs_cost.png)", "", "## What it means", "",
           *meaning(results), "",
           "## The common guidance, claim by claim", "", claims_markdown(results), ""]
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path


def latest_path() -> Path:
    """Where the last run's results are cached for notebook 07. Example: latest_path().name -> "compare-latest.json"."""
    return get_config().cache_dir / "compare-latest.json"


def save_latest(results: dict) -> Path:
    """Cache a run's results (notebook 06 does, notebook 07 reads them). Example: save_latest(results)."""
    path = latest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, default=str))
    return path


def load_latest() -> dict | None:
    """The cached results of the last run, or None. Example: load_latest()["scoreboard"]["RAG"]."""
    path = latest_path()
    # a run cached before the keys' renames too
    return renamed(json.loads(path.read_text())) if path.is_file() else None
