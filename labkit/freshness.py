"""When a fact changes: who gives the new value, and what the change costs each approach.

data/updates.jsonl changes facts of the knowledge base (a price, a warranty). After the change:
- RAG reads an updated copy of the index (`with_updated_index`: the changed documents re-embedded,
  timed; made once per run, into the run's `Setup`);
- the fine-tune as it is (stale), and + RAG on the updated index;
- its adapter trained further on the changed facts, replaying as many unchanged ones
  ("retrained", `CompareConfig.num_retrain_steps`), with what that did to the unchanged facts;
- the untrained models (RAG, the reading adapter) once per run (`untrained_after_update`), and
  the RAFT model reading the updated index (`score_raft_freshness`), joined into one seed's figures
  by `join_freshness`. Each figure is the share of answers giving the new value and the old one,
  filed under `labkit.keys.After`'s names.

What it leaves out: the rows before the change (`labkit.rows`) and running seeds (`labkit.compare`).

Example: score_freshness(setup, ccfg, ft.gen, 0)["fine-tuned (stale)"] -> {"new": 0.0, "old": 0.65}
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from labkit.compare_config import CompareConfig
from labkit.data import updated_questions
from labkit.evaluate import heldout_questions, score_answers, share_new
from labkit.finetune import build_examples
from labkit.kb_updates import apply_updates
from labkit.keys import After, Approach
from labkit.rag import RAG, clean_answer
from labkit.retrieval import VectorIndex
from labkit.rows import Setup, train_lora


def changed_questions(questions: list[dict], updates: list[dict]) -> tuple[dict, list[dict], list[str]]:
    """The facts' new values by question id, the held-out questions about them (records) and their texts.

    Example: new_answers, asked, texts = changed_questions(qs, load_updates()); texts[0]
        -> "How much is the Brimble Kettle?"
    """
    new_answers = {qid: a for u in updates for qid, a in u["new_answers"].items()}
    asked = heldout_questions([q for q in questions if q["id"] in new_answers])
    return new_answers, asked, [it["asked"] for it in asked]


def with_updated_index(setup: Setup, folder: Path) -> Setup:
    """The setup with `updated`: a copy of its index (saved in `folder`/kb and loaded) with its updates applied, timed.

    Example: with_updated_index(setup, tmp).update_info -> {"documents": 8, "seconds": 2.3, "per_document_s": 0.29}
    The original index is left as it is; every reader (freshness, the RAFT model, the untrained
    models, every seed) reads this one copy.
    """
    updated = VectorIndex.load(setup.index.save(Path(folder) / "kb"), setup.embedder)
    return dataclasses.replace(setup, updated=updated, update_info=apply_updates(updated, setup.updates))


def _answers(index: VectorIndex, gen, ccfg: CompareConfig, texts: list[str]) -> list[str]:
    return [a.answer for a in RAG(index, gen, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)]


def untrained_after_update(setup: Setup, ccfg: CompareConfig, reader=None, parts=("base", "reader")) -> dict:
    """The untrained models' answers on the updated index: RAG's ("base" in parts), and the reading adapter's ("reader"
    in parts) if the run has its row (None where the adapter does not fit). Greedy and untrained, so the same for every
    seed: computed once per run; `join_freshness` puts their figures beside each seed's.
    Example: untrained_after_update(setup, ccfg)["RAG after update"][0] -> "$95 [1]."
    """
    _, _, texts = changed_questions(setup.questions, setup.updates)
    out = {}
    if "reader" in parts and Approach.READER_RAG in ccfg.approaches:
        out[After.READER_RAG] = _answers(setup.updated, reader, ccfg, texts) if reader else None
    if "base" in parts:
        out[After.RAG] = _answers(setup.updated, setup.gen, ccfg, texts)
    return out


def score_freshness(setup: Setup, ccfg: CompareConfig, tuned, seed: int) -> dict:
    """After the facts change: the fine-tune as it is (stale), + RAG on the updated index, and its adapter trained
    further on the changed facts ("retrained": num_retrain_steps steps, from the fine-tuned adapter, not from scratch).
    The untrained models' figures (`untrained_after_update`) and the RAFT model's (`score_raft_freshness`) join them in
    `join_freshness`.

    Example: score_freshness(setup, ccfg, ft.gen, 0)["fine-tuned (stale)"] -> {"new": 0.0, "old": 0.65}
    """
    questions, updates = setup.questions, setup.updates
    new_answers, asked, texts = changed_questions(questions, updates)
    with_rag = _answers(setup.updated, tuned, ccfg, texts)
    stale = [clean_answer(a) for a in tuned.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
    # a team keeps its adapter and trains it on what changed, replaying as many unchanged facts so the rest is not
    # forgotten
    changed = updated_questions([q for q in questions if q["id"] in new_answers], updates)
    kept = [q for q in questions if q["id"] not in new_answers]
    replayed = kept[:: max(1, len(kept) // max(1, len(changed)))][: len(changed)]
    retrained = train_lora(tuned, build_examples(setup.gen, changed + replayed, fact_statements=ccfg.fact_statements),
                           ccfg, seed, ccfg.num_retrain_steps)
    redone = [clean_answer(a) for a in retrained.gen.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
    kept_items = heldout_questions(kept)
    kept_texts = [it["asked"] for it in kept_items]
    kept_before, kept_after = ([clean_answer(a) for a in g.generate(kept_texts, max_new_tokens=ccfg.max_new_tokens)]
                               for g in (tuned, retrained.gen))
    update = setup.update_info
    return {"n_updates": len(updates), "n_questions": len(asked),
            "update_s": update["seconds"], "update_per_document_s": update["per_document_s"],
            "retrain_s": round(retrained.train_s, 2), "num_retrain_steps": ccfg.num_retrain_steps,
            "n_kept": len(kept_items),
            # the unchanged facts, before and after the update training: what the update cost the rest
            "kept_acc_before": _share_right(kept_before, kept_items),
            "kept_acc_after": _share_right(kept_after, kept_items),
            After.FINE_TUNED_RAG: share_new(with_rag, asked, new_answers),
            After.STALE: share_new(stale, asked, new_answers),
            After.RETRAINED: share_new(redone, asked, new_answers),
            "records": [{"question": t, "new": new_answers[it["qa_id"]], "old": it["answer"], After.STALE: s_,
                         After.RETRAINED: r}
                        for t, it, s_, r in zip(texts, asked, stale, redone, strict=True)]}


def score_raft_freshness(setup: Setup, ccfg: CompareConfig, raft) -> dict:
    """The RAFT model reading the updated index: the share of answers about changed facts that give the new value.

    Example: score_raft_freshness(setup, ccfg, raft.gen) -> {"new": 0.68, "old": 0.04}
    """
    new_answers, asked, texts = changed_questions(setup.questions, setup.updates)
    return share_new(_answers(setup.updated, raft, ccfg, texts), asked, new_answers)


def join_freshness(setup: Setup, fresh: dict, raft_fresh: dict | None, after_update: dict) -> dict:
    """One seed's freshness figures: the fine-tune's (`score_freshness`), the untrained models'
    (`untrained_after_update`'s answers) and the RAFT model's, in one dict (RAG first, records last; the parts stay as
    they were).

    Example: join_freshness(setup, f, r, untrained_after_update(setup, ccfg))["RAG after update"]
        -> {"new": 0.85, "old": 0.1}
    """
    new_answers, asked, _ = changed_questions(setup.questions, setup.updates)
    after, reader = after_update[After.RAG], after_update.get(After.READER_RAG)
    tuned, asked_about = (After.FINE_TUNED_RAG, After.STALE, After.RETRAINED), ("question", "new", "old")
    return {**{k: v for k, v in fresh.items() if k not in tuned and k != "records"},
            After.RAG: share_new(after, asked, new_answers), **{k: fresh[k] for k in tuned},
            **({After.READER_RAG: share_new(reader, asked, new_answers)} if reader else {}),
            **({After.RAFT_RAG: raft_fresh} if raft_fresh is not None else {}),
            "records": [{**{k: r[k] for k in asked_about}, After.RAG: a,
                         **{k: v for k, v in r.items() if k not in asked_about}}
                        for r, a in zip(fresh["records"], after, strict=True)]}


def _share_right(answers: list[str], items: list[dict]) -> float:
    return round(sum(r["match"] for r in score_answers(items, answers)) / max(1, len(items)), 4)
