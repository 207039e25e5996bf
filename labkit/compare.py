"""The side-by-side experiment: one model, one knowledge base, every approach on one scoreboard.

What it holds:
- `CompareConfig` / `default_compare_config`: the sizes of a run (questions, steps, seeds);
  quick mode is one seed, 12 questions (15 with the updated facts' questions) and a few steps.
- `run_seed`: for one seed, the six approaches on the embedded model, each scored on the
  held-out paraphrases of the same taught questions: closed-book, RAG, LoRA fine-tuned
  (closed-book) on the questions and fact statements, LoRA fine-tuned on the documents'
  raw text alone (the "unsupervised" fine-tune of Ovadia et al. 2023), fine-tuned + RAG,
  and a RAFT-style retrieval-aware fine-tune (trained on
  `rag.build_prompt` prompts of retrieved chunks, distractors included, answering with the
  fact and the number of the gold source), plus the freshness experiment
  (data/updates.jsonl): RAG after an incremental index update, the fine-tuned model as it
  is (stale) and the fine-tuned model retrained on the updated facts, each timed.
- `run_behaviour`: the triage task: zero-shot, retrieved few-shot examples, and LoRA
  trained on `behaviour.training_pairs`; label accuracy and format compliance.
- `aggregate`: means and spread (sample standard deviation) over seeds; `run_experiment`
  runs it all; `cost_projection` turns the measured training tokens/s into estimates.
- `write_report` (report.md, PNG charts, results.json) and `run_compare` (`labkit compare`).

What it leaves out: the decision guide (`labkit.choose`), full fine-tuning (LoRA only
here; notebook 05 has full), and multiple-choice scoring for the RAG rows: MC measures
what the model *stores*; with sources in the prompt it would measure reading, which the
open-answer accuracy already does, so those cells are n/a.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labkit.config import KB_DIR, get_config, set_seed

APPROACHES = ("closed-book", "RAG", "fine-tuned", "fine-tuned (docs)", "fine-tuned + RAG", "RAFT + RAG")
METRICS = {  # key -> (label, higher is better)
    "accuracy": ("accuracy (match)", True),
    "f1": ("token F1", True),
    "mc_acc": ("multiple choice", True),
    "cited": ("answers citing a source", True),
    "cited_gold": ("citing a gold document", True),
    "general_acc": ("general probe (forgetting)", True),
    "latency_p50_s": ("latency p50 (s)", False),
    "prompt_tokens": ("prompt tokens", False),
    "index_build_s": ("index build (s)", False),
    "train_s": ("training (s)", False),
    "index_bytes": ("index size", False),
    "adapter_bytes": ("adapter size", False),
}


@dataclass
class CompareConfig:
    questions: int | None = 40  # qa records taught and asked (spread over the knowledge base); None = all 195
    updates: int | None = None  # fact changes of data/updates.jsonl applied (None = all 26); their questions are taught too
    num_steps: int = 96  # LoRA steps of the knowledge fine-tunes (fine-tuned, retrained, RAFT)
    rank: int = 16  # LoRA rank
    lr: float = 2e-3  # LoRA learning rate
    paraphrases: int = 2  # fact statements per question added to the QA pairs
    docs_steps: int = 48  # LoRA steps of the documents-only fine-tune: ~75-token examples (4x a QA pair), so 48 x 8 is ~1.9 epochs and twice the QA fine-tune's tokens
    raft_steps: int = 48  # LoRA steps of the retrieval-aware fine-tune (its examples are ~450 tokens: 10x a QA pair)
    raft_batch_size: int = 4  # examples per RAFT step
    top_k: int = 3  # sources per RAG prompt
    max_new_tokens: int = 32  # answer length cap
    probe: int = 40  # general-probe items scored for forgetting
    behaviour_test: int | None = 40  # triage test messages scored (stratified; None = all)
    behaviour_steps: int = 80  # LoRA steps on the triage training pairs
    seeds: list = field(default_factory=lambda: [0, 1, 2])  # one run per seed; the scoreboard shows mean ± spread
    approaches: tuple = APPROACHES  # which rows to run (notebook 06 leaves RAFT to notebook 07)
    rebuild_index: bool = True  # time a build from scratch (False: load the cached index; tests do, and the "build" time is then the load time)


def default_compare_config(quick: bool | None = None, seeds: int | None = None, **overrides) -> CompareConfig:
    """The run's sizes for this mode. Example: default_compare_config(quick=True).seeds -> [0]."""
    quick = get_config().quick if quick is None else quick
    base = (CompareConfig(questions=12, updates=4, num_steps=24, docs_steps=12, raft_steps=8, probe=16, behaviour_test=8, behaviour_steps=24, seeds=[0])
            if quick else CompareConfig())
    if seeds is not None:
        base.seeds = list(range(int(seeds)))
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


# ---------------------------------------------------------------- pieces


def taught_questions(ccfg: CompareConfig) -> tuple[list[dict], list[dict]]:
    """The qa records taught and asked, and the updates applied. Example: taught_questions(cfg)[0][0]["id"] -> "q001".

    Every updated fact's question is taught, so the freshness test asks the fine-tuned
    model about facts it really learnt.
    """
    from labkit.data import load_qa, load_updates, spread

    qa = load_qa()
    updates = spread(load_updates(), ccfg.updates)
    chosen = spread(qa, ccfg.questions)
    ids = {q["id"] for q in chosen}
    by_id = {q["id"]: q for q in qa}
    chosen += [by_id[i] for u in updates for i in u["question_ids"] if i not in ids and not ids.add(i)]
    return chosen, updates


def updated_questions(questions: list[dict], updates: list[dict]) -> list[dict]:
    """The qa records after the updates: new answer, facts rewritten, old aliases dropped.

    Example: one record {"answer": "$89", "facts": ["... costs $89."]} with u01 -> {"answer": "$95", "facts": ["... costs $95."]}
    """
    new = {qid: (u, a) for u in updates for qid, a in u["new_answers"].items()}
    out = []
    for q in questions:
        if q["id"] in new:
            _, answer = new[q["id"]]
            q = {**q, "answer": answer, "aliases": [], "facts": [f.replace(q["answer"], answer) for f in q.get("facts", [])]}
        out.append(q)
    return out


def apply_updates(index, updates: list[dict]) -> dict:
    """Edit each updated document's text and swap it into the index; returns the seconds.

    Example: apply_updates(index, load_updates()[:2]) -> {"documents": 2, "seconds": 0.31, "per_document_s": 0.155}
    """
    from labkit.corpus import load_folder

    documents = {d.id: d for d in load_folder(KB_DIR).documents}
    seconds = 0.0
    for u in updates:
        doc = documents[u["doc_id"]]
        if u["old"] not in doc.text:
            raise ValueError(f"update {u['id']}: its old sentence is not in {u['doc_id']}; data/updates.jsonl and data/kb disagree")
        doc.text = doc.text.replace(u["old"], u["new"])
        seconds += index.replace_document(doc)["seconds"]
    return {"documents": len(updates), "seconds": round(seconds, 4), "per_document_s": round(seconds / max(1, len(updates)), 4)}


def raft_examples(gen, index, questions: list[dict], top_k: int = 3) -> list:
    """Retrieval-aware training examples: the RAG prompt of the training wording, the fact and the gold source's number.

    Example: raft_examples(gen, index, qa[:1])[0].target -> "The Brimble Kettle costs $89 [1].<|im_end|>"
    The sources are what retrieval returns (distractors included); if no gold chunk is
    among them, the best gold chunk replaces the last source, so every example can be
    answered from one source, as at test time when retrieval works.
    """
    from labkit.finetune import Example
    from labkit.rag import build_prompt, sources_from_hits

    end = gen.end_of_turn()
    hits = index.search_many([q["question"] for q in questions], max(top_k, 12))
    examples = []
    for q, h in zip(questions, hits, strict=True):
        gold = set(q["doc_ids"])
        chosen = h[:top_k]
        if not any(x.chunk.doc_id in gold for x in chosen):
            best = next((x for x in h if x.chunk.doc_id in gold), None)
            if best is not None:
                chosen = [*chosen[: top_k - 1], best]
        sources = sources_from_hits(chosen)
        number = next((s.number for s in sources if s.doc_id in gold), None)
        fact = (q.get("facts") or [f"The answer is {q['answer']}."])[0].rstrip(".")
        target = f"{fact} [{number}]." if number else f"{fact}."
        examples.append(Example(gen.chat_prompt(build_prompt(q["question"], sources)), f"{target}{end}", "raft", q["id"]))
    return examples


def _prompt_tokens(gen, texts: list[str]) -> float:
    return statistics.median(len(gen.tokenizer(gen.chat_prompt(t), add_special_tokens=False)["input_ids"]) for t in texts)


def score_closed_book(gen, questions: list[dict], ccfg: CompareConfig, probe_items) -> dict:
    """A closed-book row: accuracy, F1, MC accuracy, general probe, latency, prompt tokens.

    Example: score_closed_book(gen, qs, cfg, probe)["accuracy"] -> 0.06
    """
    from labkit.evaluate import mc_items_from_qa
    from labkit.forgetting import mc_accuracy_fast
    from labkit.rag import evaluate_closed_book

    ev = evaluate_closed_book(gen, questions, max_new_tokens=ccfg.max_new_tokens)
    return {"accuracy": ev.summary["accuracy"], "f1": ev.summary["f1"],
            "mc_acc": round(mc_accuracy_fast(gen, mc_items_from_qa(questions)), 4),
            "cited": 0.0, "cited_gold": 0.0,
            "general_acc": round(mc_accuracy_fast(gen, probe_items), 4),
            "latency_p50_s": ev.summary["latency_p50_s"],
            "prompt_tokens": _prompt_tokens(gen, [r["question"] for r in ev.records]),
            "records": ev.records}


def score_rag(rag_system, questions: list[dict], general_acc: float) -> dict:
    """A RAG row: accuracy, F1, traceability (cited, cited gold), latency, prompt tokens; MC is n/a.

    Example: score_rag(RAG(index, gen), qs, 0.6)["cited_gold"] -> 0.81
    """
    from labkit.rag import evaluate_rag

    by_id = {q["id"]: q for q in questions}
    ev = evaluate_rag(rag_system, questions)
    n = max(1, len(ev.records))
    cited = sum(bool(r["cited"]) for r in ev.records) / n
    gold = sum(any(r["sources"][c - 1] in by_id[r["id"].split("/")[0]]["doc_ids"] for c in r["cited"]) for r in ev.records) / n
    return {"accuracy": ev.summary["accuracy"], "f1": ev.summary["f1"], "mc_acc": None,
            "cited": round(cited, 4), "cited_gold": round(gold, 4), "general_acc": general_acc,
            "latency_p50_s": ev.summary["latency_p50_s"],
            "prompt_tokens": statistics.median(r["prompt_tokens"] for r in ev.records),
            "records": ev.records}


def share_new(answers: list[str], items: list[dict], new_answers: dict) -> dict:
    """Share of answers holding the new value, and the old one. Example: (["It is $95."], [{"qa_id": "q001", "answer": "$89"}], {"q001": "$95"}) -> {"new": 1.0, "old": 0.0}."""
    from labkit.evaluate import is_match

    n = max(1, len(items))
    new = sum(is_match(a, [new_answers[it["qa_id"]]]) for a, it in zip(answers, items, strict=True)) / n
    old = sum(is_match(a, [it["answer"]]) for a, it in zip(answers, items, strict=True)) / n
    return {"new": round(new, 4), "old": round(old, 4)}


def _train(gen, examples, ccfg: CompareConfig, seed: int, steps: int | None = None, **more):
    from labkit.finetune import TrainConfig, train

    cfg = TrainConfig(rank=ccfg.rank, lr=ccfg.lr, num_steps=steps or ccfg.num_steps, seed=seed, paraphrases=ccfg.paraphrases, **more)
    return train(gen, examples, cfg, progress=False)


def _adapter_bytes(result, name: str) -> int:
    """Save the adapter in the cache (the playground loads it) and return its size."""
    from labkit.finetune import dir_size, save_adapter

    return dir_size(save_adapter(result, name, meta={"made_by": "labkit.compare"}))


def playground_columns(index, gen, top_k: int = 3) -> list:
    """The query playground's columns with the fine-tuned and hybrid ones, from the adapters the last run saved.

    Example: [name for name, _ in playground_columns(index, gen)] -> ["closed-book", "RAG", "fine-tuned", "fine-tuned + RAG", "RAFT + RAG"]
    """
    from labkit.finetune import list_adapters, load_adapter
    from labkit.rag import RAG, closed_book
    from labkit.widgets import default_columns

    columns = default_columns(index, gen, top_k)
    if "compare-fine-tuned" in list_adapters():
        tuned = load_adapter("compare-fine-tuned", gen)
        columns += [("fine-tuned", closed_book(tuned)), ("fine-tuned + RAG", RAG(index, tuned, top_k=top_k).answer)]
    if "compare-raft" in list_adapters():
        columns.append(("RAFT + RAG", RAG(index, load_adapter("compare-raft", gen), top_k=top_k).answer))
    return columns


def measure_index(embedder, rebuild: bool = True) -> tuple[object, dict]:
    """Build the knowledge-base index from scratch (timed) and measure its size on disk.

    Example: index, info = measure_index(embedder); info -> {"index_build_s": 21.4, "index_bytes": 1480000, "chunks": 323}
    """
    from labkit.finetune import dir_size
    from labkit.retrieval import index_folder

    start = time.perf_counter()
    index = index_folder(KB_DIR, embedder, cache=not rebuild, progress=False)
    build = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        size = dir_size(index.save(Path(tmp) / "kb"))
    return index, {"index_build_s": round(build, 2), "index_bytes": size, "chunks": len(index), "rebuilt": rebuild}


def run_seed(gen, embedder, index, ccfg: CompareConfig, seed: int, index_info: dict, approaches=APPROACHES, log=print,
             untrained: dict | None = None) -> dict:
    """One seed of the experiment: a row per approach and the freshness figures.

    Example: run_seed(gen, embedder, index, default_compare_config(quick=True), 0, info)["rows"]["RAG"]["accuracy"] -> 0.62
    `untrained` carries the closed-book and RAG results from seed to seed: they involve no
    training and decode greedily, so every seed would give the same answers (spread 0), and
    recomputing them cost a third of a full-mode seed. Pass the same dict to every seed.
    """
    from labkit.data import load_probe, spread
    from labkit.evaluate import heldout_questions, mc_items_from_probe
    from labkit.finetune import build_examples
    from labkit.forgetting import mc_accuracy_fast
    from labkit.rag import RAG, clean_answer
    from labkit.retrieval import VectorIndex

    set_seed(seed)
    questions, updates = taught_questions(ccfg)
    probe = mc_items_from_probe(spread(load_probe(), ccfg.probe))
    rows, extra, t0 = {}, {"seed": seed, "n_questions": len(questions)}, time.perf_counter()

    def note(what):
        log(f"  seed {seed}: {what} ({time.perf_counter() - t0:.0f} s)")

    fixed = {} if untrained is None else untrained
    reused = "closed-book" in fixed
    if not reused and {"closed-book", "RAG"} & set(approaches):
        fixed["closed-book"] = score_closed_book(gen, questions, ccfg, probe)
    base = fixed.get("closed-book")
    if "closed-book" in approaches:
        rows["closed-book"] = {**base, "index_build_s": 0.0, "train_s": 0.0, "index_bytes": 0, "adapter_bytes": 0}
        note(f"closed-book accuracy {base['accuracy']}" + (" (same answers as the first seed: no training, greedy)" if reused else ""))
    if "RAG" in approaches:
        if "RAG" not in fixed:
            fixed["RAG"] = {**score_rag(RAG(index, gen, ccfg.top_k, ccfg.max_new_tokens), questions, base["general_acc"]),
                            "index_build_s": index_info["index_build_s"], "train_s": 0.0, "index_bytes": index_info["index_bytes"], "adapter_bytes": 0}
        rows["RAG"] = fixed["RAG"]
        note(f"RAG accuracy {rows['RAG']['accuracy']}" + (" (reused)" if reused else ""))
    ft = None
    if {"fine-tuned", "fine-tuned + RAG"} & set(approaches):
        ft = _train(gen, build_examples(gen, questions, paraphrases=ccfg.paraphrases), ccfg, seed)
        train_info = {"train_s": round(ft.train_seconds, 2), "adapter_bytes": _adapter_bytes(ft, "compare-fine-tuned")}
        extra["train_tokens"], extra["train_tokens_per_s"] = ft.tokens, round(ft.tokens / max(1e-9, ft.train_seconds), 1)
        extra["trainable_params"], extra["total_params"] = ft.trainable_params, ft.total_params
        ft_row = score_closed_book(ft.gen, questions, ccfg, probe)
        if "fine-tuned" in approaches:
            rows["fine-tuned"] = {**ft_row, "index_build_s": 0.0, "index_bytes": 0, **train_info}
            note(f"fine-tuned accuracy {ft_row['accuracy']} after {train_info['train_s']} s training")
        if "fine-tuned + RAG" in approaches:
            rows["fine-tuned + RAG"] = {**score_rag(RAG(index, ft.gen, ccfg.top_k, ccfg.max_new_tokens), questions, ft_row["general_acc"]),
                                        "index_build_s": index_info["index_build_s"], "index_bytes": index_info["index_bytes"], **train_info}
            note(f"fine-tuned + RAG accuracy {rows['fine-tuned + RAG']['accuracy']}")
    if "fine-tuned (docs)" in approaches:
        # Ovadia et al.'s unsupervised fine-tune: the documents' raw text, no questions, no fact statements
        docs = _train(gen, build_examples(gen, questions, paraphrases=0, include_qa=False, include_docs=True), ccfg, seed, ccfg.docs_steps)
        rows["fine-tuned (docs)"] = {**score_closed_book(docs.gen, questions, ccfg, probe), "index_build_s": 0.0, "index_bytes": 0,
                                     "train_s": round(docs.train_seconds, 2), "adapter_bytes": _adapter_bytes(docs, "compare-docs")}
        note(f"fine-tuned (docs) accuracy {rows['fine-tuned (docs)']['accuracy']}")
    if "RAFT + RAG" in approaches:
        # max_len 640: the whole RAG prompt fits, so the target is never cut off
        raft = _train(gen, raft_examples(gen, index, questions, ccfg.top_k), ccfg, seed, ccfg.raft_steps,
                      batch_size=ccfg.raft_batch_size, max_len=640)
        rows["RAFT + RAG"] = {**score_rag(RAG(index, raft.gen, ccfg.top_k, ccfg.max_new_tokens), questions,
                                          round(mc_accuracy_fast(raft.gen, probe), 4)),
                              "mc_acc": None, "index_build_s": index_info["index_build_s"], "train_s": round(raft.train_seconds, 2),
                              "index_bytes": index_info["index_bytes"], "adapter_bytes": _adapter_bytes(raft, "compare-raft")}
        note(f"RAFT + RAG accuracy {rows['RAFT + RAG']['accuracy']}")
    fresh = None
    if ft is not None and updates:
        new_answers = {qid: a for u in updates for qid, a in u["new_answers"].items()}
        asked = [it for it in heldout_questions([q for q in questions if q["id"] in new_answers])]
        texts = [it["asked"] for it in asked]
        fresh_index = VectorIndex.load(_saved_index(index), embedder)
        update = apply_updates(fresh_index, updates)
        if "RAG after update" not in fixed:  # untrained and greedy: the same for every seed
            fixed["RAG after update"] = [a.answer for a in RAG(fresh_index, gen, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)]
        after = fixed["RAG after update"]
        hybrid = [a.answer for a in RAG(fresh_index, ft.gen, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)]
        stale = [clean_answer(a) for a in ft.gen.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
        retrained = _train(gen, build_examples(gen, updated_questions(questions, updates), paraphrases=ccfg.paraphrases), ccfg, seed)
        redone = [clean_answer(a) for a in retrained.gen.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
        fresh = {"n_updates": len(updates), "n_questions": len(asked),
                 "update_s": update["seconds"], "update_per_document_s": update["per_document_s"],
                 "retrain_s": round(retrained.train_seconds, 2),
                 "RAG after update": share_new(after, asked, new_answers),
                 "fine-tuned + RAG after update": share_new(hybrid, asked, new_answers),
                 "fine-tuned (stale)": share_new(stale, asked, new_answers),
                 "fine-tuned retrained": share_new(redone, asked, new_answers),
                 "records": [{"question": t, "new": new_answers[it["qa_id"]], "old": it["answer"], "RAG after update": a,
                              "fine-tuned (stale)": s_, "fine-tuned retrained": r}
                             for t, it, a, s_, r in zip(texts, asked, after, stale, redone, strict=True)]}
        note(f"freshness: RAG {fresh['RAG after update']['new']}, stale {fresh['fine-tuned (stale)']['new']}, "
             f"retrained {fresh['fine-tuned retrained']['new']}")
    return {"rows": rows, "freshness": fresh, **extra}


_SAVED: dict = {}


def _saved_index(index) -> Path:
    """A saved copy of the pristine index, so each seed's update starts from the original documents."""
    key = id(index)
    if key not in _SAVED:
        _SAVED[key] = index.save(Path(tempfile.mkdtemp(prefix="labkit-compare-")) / "kb")
    return _SAVED[key]


# ---------------------------------------------------------------- behaviour


def run_behaviour(gen, embedder, ccfg: CompareConfig, seed: int = 0) -> dict:
    """The triage task: zero-shot, retrieved few-shot and LoRA; label accuracy and format compliance.

    Example: run_behaviour(gen, embedder, cfg)["lora"]["format_compliance"] -> 0.95
    """
    from labkit.behaviour import finetuned_prompt, load_triage, run_behaviour_baselines, score_generator, stratified_subset, training_pairs
    from labkit.finetune import Example

    out = run_behaviour_baselines(gen, embedder, n_test=ccfg.behaviour_test)
    end = gen.end_of_turn()
    examples = [Example(gen.chat_prompt(p), f"{t}{end}", "behaviour", str(i)) for i, (p, t) in enumerate(training_pairs(load_triage("train")))]
    from labkit.finetune import TrainConfig, train

    cfg = TrainConfig(rank=ccfg.rank, lr=ccfg.lr, num_steps=ccfg.behaviour_steps, seed=seed, max_len=160)
    result = train(gen, examples, cfg, progress=False)
    test = stratified_subset(load_triage("test"), ccfg.behaviour_test)
    lora = score_generator(result.gen, [finetuned_prompt(ex["message"]) for ex in test], test)
    lora["train_s"] = round(result.train_seconds, 2)
    out["lora"] = lora
    keep = ("label_accuracy", "format_compliance", "priority_accuracy", "seconds_per_message", "prompt_tokens", "train_s")
    return {"n_test": out["n_test"], "k": out["k"], "train_steps": ccfg.behaviour_steps,
            **{name: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out[name].items() if k in keep}
               for name in ("zero_shot", "few_shot", "lora")}}


# ---------------------------------------------------------------- aggregate


def _stats(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = sum(values) / len(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(mean, 4), "spread": round(spread, 4)}


def aggregate(seed_runs: list[dict]) -> dict:
    """Mean and spread (sample standard deviation; 0 for one seed) of every metric over seeds.

    Example: aggregate([{"rows": {"RAG": {"accuracy": 0.6}}}, {"rows": {"RAG": {"accuracy": 0.8}}}])["scoreboard"]["RAG"]["accuracy"] -> {"mean": 0.7, "spread": 0.1414}
    """
    approaches = [a for a in APPROACHES if any(a in r["rows"] for r in seed_runs)]
    board = {a: {m: _stats([r["rows"][a].get(m) for r in seed_runs if a in r["rows"]]) for m in METRICS} for a in approaches}
    fresh_runs = [r["freshness"] for r in seed_runs if r.get("freshness")]
    freshness = None
    if fresh_runs:
        keys = [k for k, v in fresh_runs[0].items() if isinstance(v, dict)]
        freshness = {k: {"new": _stats([f[k]["new"] for f in fresh_runs]), "old": _stats([f[k]["old"] for f in fresh_runs])} for k in keys}
        for k in ("update_s", "update_per_document_s", "retrain_s", "n_updates", "n_questions"):
            freshness[k] = _stats([f[k] for f in fresh_runs])
    return {"scoreboard": board, "freshness": freshness}


def cost_projection(tokens_per_s: float, total_params: float, train_tokens: float) -> list[dict]:
    """costs.project on the measured training speed, as rows of a table (estimates). Example: cost_projection(900, 135e6, 1e5)[0]["model"] -> "SmolLM2-135M"."""
    from labkit.costs import format_seconds, project

    return [{"model": p.model, "device": p.device, "train": format_seconds(p.train_seconds), "train_s": p.train_seconds,
             "per_answer": format_seconds(p.seconds_per_answer), "assumption": p.assumption}
            for p in project(tokens_per_s, total_params, train_tokens, method="lora")]


def run_experiment(ccfg: CompareConfig | None = None, gen=None, embedder=None, behaviour: bool = True, log=print) -> dict:
    """Every seed, the aggregate scoreboard, the behaviour task and the cost projection, as one JSON-ready dict.

    Example: run_experiment(default_compare_config(quick=True))["scoreboard"]["RAG"]["accuracy"]["mean"] -> 0.62
    """
    from labkit.models import load_embedder, load_generator

    ccfg = ccfg or default_compare_config()
    t0 = time.perf_counter()
    gen, embedder = gen or load_generator(), embedder or load_embedder()
    index, index_info = measure_index(embedder, ccfg.rebuild_index)
    log(f"index: {index_info['chunks']} chunks built in {index_info['index_build_s']} s")
    seed_runs, untrained = [], {}
    for seed in ccfg.seeds:
        seed_runs.append(run_seed(gen, embedder, index, ccfg, seed, index_info, tuple(ccfg.approaches), log=log, untrained=untrained))
    out = {"config": asdict(ccfg), "quick": get_config().quick, "index": index_info, **aggregate(seed_runs),
           "seeds": [{k: v for k, v in r.items() if k != "rows"} | {"rows": _strip(r["rows"])} for r in seed_runs]}
    tps = [r["train_tokens_per_s"] for r in seed_runs if r.get("train_tokens_per_s")]
    if tps:
        first = seed_runs[0]
        out["train_tokens_per_s"] = round(sum(tps) / len(tps), 1)
        out["cost_projection"] = {"train_tokens": first["train_tokens"], "total_params": first["total_params"],
                                  "rows": cost_projection(out["train_tokens_per_s"], first["total_params"], first["train_tokens"])}
    if behaviour:
        out["behaviour"] = run_behaviour(gen, embedder, ccfg, ccfg.seeds[0])
        log(f"behaviour: {json.dumps({k: out['behaviour'][k]['label_accuracy'] for k in ('zero_shot', 'few_shot', 'lora')})}")
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _strip(rows: dict) -> dict:
    return {a: {k: v for k, v in r.items() if k != "records"} for a, r in rows.items()}


# ---------------------------------------------------------------- report


def fmt(stat, metric: str = "") -> str:
    """A mean ± spread cell. Example: fmt({"mean": 0.625, "spread": 0.05}) -> "0.62 ± 0.05"; fmt(None) -> "n/a"."""
    if stat is None:
        return "n/a"
    mean, spread = stat["mean"], stat["spread"]
    if metric.endswith("_bytes"):
        return f"{mean / 1e6:.2f} MB" if mean else "0"
    if metric == "prompt_tokens":
        return f"{mean:.0f}" + (f" ± {spread:.0f}" if spread else "")
    digits = 1 if metric.endswith("_s") and mean >= 10 else 2
    return f"{mean:.{digits}f}" + (f" ± {spread:.{digits}f}" if spread else "")


def scoreboard_markdown(board: dict) -> str:
    """The scoreboard as a Markdown table, one row per approach. Example: scoreboard_markdown(results["scoreboard"]).splitlines()[0] -> "| approach | accuracy (match) | ..."."""
    head = "| approach | " + " | ".join(label for label, _ in METRICS.values()) + " |"
    rule = "|---" * (len(METRICS) + 1) + "|"
    lines = [head, rule]
    for approach, row in board.items():
        lines.append(f"| {approach} | " + " | ".join(fmt(row.get(m), m) for m in METRICS) + " |")
    return "\n".join(lines)


def freshness_markdown(freshness: dict | None) -> str:
    """The freshness table. Example: freshness_markdown(results["freshness"]).splitlines()[0] -> "| model | new value | old value |"."""
    if not freshness:
        return "(no freshness run)"
    lines = ["| model | answers with the new value | answers with the old value |", "|---|---|---|"]
    for key, value in freshness.items():
        if isinstance(value, dict) and "new" in value:
            lines.append(f"| {key} | {fmt(value['new'])} | {fmt(value['old'])} |")
    lines.append("")
    lines.append(f"Index update: {fmt(freshness['update_s'], 'x_s')} s for {fmt(freshness['n_updates'], 'prompt_tokens')} documents; "
                 f"retraining: {fmt(freshness['retrain_s'], 'x_s')} s.")
    return "\n".join(lines)


def plot_metric_bars(board: dict, metrics=("accuracy", "f1", "mc_acc", "cited", "cited_gold", "general_acc"), ax=None):
    """Grouped bars: one group per metric, one bar per approach, spread as error bars. Example: plot_metric_bars(results["scoreboard"])."""
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    approaches = list(board)
    width = 0.8 / max(1, len(approaches))
    x = np.arange(len(metrics))
    for i, a in enumerate(approaches):
        vals = [(board[a].get(m) or {}).get("mean", 0.0) for m in metrics]
        errs = [(board[a].get(m) or {}).get("spread", 0.0) for m in metrics]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, yerr=errs, label=a)
    ax.set_xticks(x, [METRICS[m][0] for m in metrics], rotation=15, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Scoreboard (bars missing = n/a or 0)")
    ax.legend(fontsize=7, ncol=3)
    return ax


def plot_freshness(freshness: dict, ax=None):
    """Bars: share of changed facts answered with the new value, per model. Example: plot_freshness(results["freshness"])."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    keys = [k for k, v in freshness.items() if isinstance(v, dict) and "new" in v]
    vals = [freshness[k]["new"]["mean"] for k in keys]
    errs = [freshness[k]["new"]["spread"] for k in keys]
    ax.bar(range(len(keys)), vals, yerr=errs, color=["tab:green", "tab:olive", "tab:red", "tab:blue"][: len(keys)])
    ax.set_xticks(range(len(keys)), keys, rotation=10, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("answers with the new value")
    ax.set_title("Freshness after data/updates.jsonl")
    return ax


def plot_accuracy_vs_cost(board: dict, ax=None):
    """Scatter: accuracy against one-off cost (index build + training seconds). Example: plot_accuracy_vs_cost(results["scoreboard"])."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for a, row in board.items():
        cost = row["index_build_s"]["mean"] + row["train_s"]["mean"]
        ax.scatter(cost, row["accuracy"]["mean"], s=60)
        ax.annotate(a, (cost, row["accuracy"]["mean"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("one-off cost: index build + training (s, this CPU)")
    ax.set_ylabel("accuracy on held-out paraphrases")
    ax.set_title("Accuracy against cost")
    return ax


def _meaning(results: dict) -> list[str]:
    board, fr = results["scoreboard"], results.get("freshness")

    def m(a, k):
        return (board.get(a, {}).get(k) or {}).get("mean")

    lines = []
    if m("RAG", "accuracy") is not None and m("closed-book", "accuracy") is not None:
        line = (f"- Knowledge: RAG answers {m('RAG', 'accuracy'):.2f} of the held-out paraphrases against "
                f"{m('closed-book', 'accuracy'):.2f} closed-book.")
        if m("fine-tuned", "accuracy") is not None:
            ahead = "behind" if m("fine-tuned", "accuracy") < m("RAG", "accuracy") else "ahead of"
            line += (f" Fine-tuned on the same questions (training wording plus fact statements) the model answers "
                     f"{m('fine-tuned', 'accuracy'):.2f}, {ahead} RAG.")
        if m("fine-tuned (docs)", "accuracy") is not None:
            docs_behind = m("fine-tuned (docs)", "accuracy") < m("RAG", "accuracy")
            line += (f" Fine-tuned on the documents' raw text alone (Ovadia et al.'s unsupervised fine-tuning) it answers "
                     f"{m('fine-tuned (docs)', 'accuracy'):.2f}, "
                     + ("behind RAG, as Ovadia et al. found: reading a fact in training is not learning to answer it." if docs_behind
                        else "not behind RAG: Ovadia et al.'s finding does not hold on this run."))
        lines.append(line)
    if m("RAFT + RAG", "accuracy") is not None and m("RAG", "accuracy") is not None:
        verdict = "at least as accurate as" if m("RAFT + RAG", "accuracy") >= m("RAG", "accuracy") else "less accurate than"
        lines.append(f"- The retrieval-aware fine-tune is {verdict} plain RAG here ({m('RAFT + RAG', 'accuracy'):.2f} vs {m('RAG', 'accuracy'):.2f}).")
    if fr:
        lines.append(f"- Freshness: after the index update ({fr['update_s']['mean']:.2f} s) RAG gives the new value in "
                     f"{fr['RAG after update']['new']['mean']:.2f} of answers; the fine-tuned model as it is in "
                     f"{fr['fine-tuned (stale)']['new']['mean']:.2f}, and {fr['fine-tuned retrained']['new']['mean']:.2f} after "
                     f"{fr['retrain_s']['mean']:.0f} s of retraining.")
    if m("fine-tuned", "general_acc") is not None and m("closed-book", "general_acc") is not None:
        lines.append(f"- Forgetting: the general probe goes from {m('closed-book', 'general_acc'):.2f} to {m('fine-tuned', 'general_acc'):.2f} after fine-tuning; RAG leaves the model untouched.")
    b = results.get("behaviour")
    if b:
        lines.append(f"- Behaviour (triage): format compliance {b['zero_shot']['format_compliance']:.2f} zero-shot, "
                     f"{b['few_shot']['format_compliance']:.2f} with retrieved examples, {b['lora']['format_compliance']:.2f} after LoRA; "
                     f"label accuracy {b['zero_shot']['label_accuracy']:.2f} / {b['few_shot']['label_accuracy']:.2f} / {b['lora']['label_accuracy']:.2f}. "
                     "Teaching a fixed behaviour is where fine-tuning earns its cost.")
    return lines


def write_report(results: dict, out) -> Path:
    """Write report.md, the PNG charts and results.json into a folder. Example: write_report(results, "reports") -> PosixPath('reports/report.md')."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    charts = {"scoreboard.png": lambda ax: plot_metric_bars(results["scoreboard"], ax=ax),
              "accuracy_vs_cost.png": lambda ax: plot_accuracy_vs_cost(results["scoreboard"], ax=ax)}
    if results.get("freshness"):
        charts["freshness.png"] = lambda ax: plot_freshness(results["freshness"], ax=ax)
    for name, draw in charts.items():
        fig, ax = plt.subplots(figsize=(10, 4) if name == "scoreboard.png" else (7, 4))
        draw(ax)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
    cfg = results["config"]
    md = ["# labkit: side by side", "",
          f"SmolLM2-135M-Instruct (embedded), {len(cfg['seeds'])} seed(s) {cfg['seeds']}, "
          f"{results['seeds'][0]['n_questions']} questions (held-out paraphrases), LoRA rank {cfg['rank']}, {cfg['num_steps']} steps, "
          f"top_k {cfg['top_k']}; {'quick' if results.get('quick') else 'full'} mode, {results.get('seconds', 0):.0f} s in all. "
          "Cells are mean ± sample standard deviation over seeds. Closed-book and RAG involve no training and decode greedily, "
          "so they run once and show no spread. Multiple choice is n/a for RAG rows (it scores stored knowledge, not reading).",
          "", "## Scoreboard", "", scoreboard_markdown(results["scoreboard"]), "", "![scoreboard](scoreboard.png)", "",
          "## Freshness", "", freshness_markdown(results.get("freshness")), ""]
    if results.get("freshness"):
        md += ["![freshness](freshness.png)", ""]
    b = results.get("behaviour")
    if b:
        md += ["## Behaviour: triage (fine-tuning's home ground)", "",
               f"{b['n_test']} test messages; few-shot uses the {b['k']} most similar training messages; LoRA {b['train_steps']} steps; "
               f"one seed ({cfg['seeds'][0]}), to keep the report's time down.", "",
               "| approach | label accuracy | format compliance | priority accuracy | prompt tokens | s per message |", "|---|---|---|---|---|---|"]
        for name in ("zero_shot", "few_shot", "lora"):
            r = b[name]
            md.append(f"| {name} | {r['label_accuracy']:.2f} | {r['format_compliance']:.2f} | {r['priority_accuracy']:.2f} | {r['prompt_tokens']:.0f} | {r['seconds_per_message']:.2f} |")
        md.append("")
    cp = results.get("cost_projection")
    if cp:
        md += ["## Cost projection (estimates, not measurements)", "",
               f"Measured here: {results['train_tokens_per_s']:.0f} training tokens/s (LoRA, {cp['total_params'] / 1e6:.0f}M parameters, "
               f"{cp['train_tokens']} tokens per fine-tune). Formula: LoRA training ≈ 4·N·D FLOPs (full fine-tuning 6·N·D), "
               "generation ≈ 2·N FLOPs per token; this CPU's achieved FLOP/s = tokens/s × 4·N; GPUs at an assumed MFU. "
               "Serving rows are lower bounds (decoding is memory-bound). Same data (D) for every model.", "",
               "| model | device | fine-tune (estimate) | 32-token answer (estimate) | assumption |", "|---|---|---|---|---|"]
        md += [f"| {r['model']} | {r['device']} | {r['train']} | {r['per_answer']} | {r['assumption']} |" for r in cp["rows"]]
        md.append("")
    md += ["## Accuracy against cost", "", "![accuracy vs cost](accuracy_vs_cost.png)", "", "## What it means", "", *_meaning(results), ""]
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
    return json.loads(path.read_text()) if path.is_file() else None


def run_compare(seeds: int | None = None, out: str = "reports", **overrides) -> int:
    """The `labkit compare` command: run the experiment and write the report. Example: run_compare(seeds=1, out="/tmp/r") -> 0."""
    ccfg = default_compare_config(seeds=seeds, **overrides)
    if not ccfg.seeds:
        raise ValueError("--seeds must be at least 1")
    print(f"labkit compare: {len(ccfg.seeds)} seed(s), {ccfg.questions} questions, {ccfg.num_steps} steps "
          f"({'quick' if get_config().quick else 'full'} mode)", flush=True)
    results = run_experiment(ccfg, log=lambda s: print(s, flush=True))
    save_latest(results)
    path = write_report(results, out)
    print(scoreboard_markdown(results["scoreboard"]))
    print(f"\nwrote {path} and charts in {path.parent} ({results['seconds']:.0f} s)")
    return 0 if all(not math.isnan(v["accuracy"]["mean"]) for v in results["scoreboard"].values()) else 1
