"""When a fact changes: who gives the new value, and what the change costs each approach.

data/updates.jsonl changes facts of the knowledge base (a price, a warranty). After the change:
- RAG reads an index updated in place (`updated_index`: the changed documents re-embedded, timed);
- the fine-tune as it is (stale), and + RAG on the updated index;
- its adapter trained further on the changed facts, replaying as many unchanged ones
  ("retrained", `CompareConfig.retrain_steps`), with what that did to the unchanged facts;
- the untrained models (RAG, the reading adapter) once per run (`untrained_after_update`), and
  the RAFT model reading the updated index (`raft_freshness`), joined into one seed's figures
  by `join_freshness`. Each figure is the share of answers giving the new value and the old one.

What it leaves out: the rows before the change (`labkit.rows`) and running seeds (`labkit.compare`).

Example: freshness(shared, qs, load_updates(), cfg, ft.gen, 0)["fine-tuned (stale)"] -> {"new": 0.0, "old": 0.65}
"""

from __future__ import annotations

from labkit.compare_config import CompareConfig
from labkit.data import updated_questions
from labkit.evaluate import heldout_questions, score_answers, share_new
from labkit.finetune import build_examples
from labkit.rag import RAG, clean_answer
from labkit.retrieval import apply_updates
from labkit.rows import Shared, train_lora


def changed_questions(questions: list[dict], updates: list[dict]) -> tuple[dict, list[dict], list[str]]:
    """The facts' new values by question id, the held-out questions about them (records) and their texts.

    Example: new_answers, asked, texts = changed_questions(qs, load_updates()); texts[0] -> "How much is the Brimble Kettle?"
    """
    new_answers = {qid: a for u in updates for qid, a in u["new_answers"].items()}
    asked = heldout_questions([q for q in questions if q["id"] in new_answers])
    return new_answers, asked, [it["asked"] for it in asked]


def updated_index(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig):
    """The facts' new values, the held-out questions about them (records and texts), a fresh copy of the index with
    the updates applied, and the update's timing (made once per process: readers never edit it).

    Example: new_answers, asked, texts, index, update = updated_index(shared, qs, updates, cfg); update["seconds"] -> 2.3
    """
    new_answers, asked, texts = changed_questions(questions, updates)
    key = tuple(u["id"] for u in updates)
    if key not in shared._updated:  # freshness and raft_freshness (every seed) read the same updated copy: built once
        fresh_index = shared.pristine_index()
        shared._updated[key] = (fresh_index, apply_updates(fresh_index, updates))
    fresh_index, update = shared._updated[key]
    return new_answers, asked, texts, fresh_index, update


def untrained_after_update(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig) -> None:
    """The untrained models' answers on the updated index (RAG, and the reading adapter if the run has its row), into
    `shared.untrained`: greedy and untrained, so the same for every seed; `join_pieces` puts their figures beside
    each seed's freshness figures. Example: untrained_after_update(shared, qs, updates, cfg); shared.untrained["RAG after update"][0]
    """
    if "RAG after update" in shared.untrained:
        return
    _, _, texts, fresh_index, _ = updated_index(shared, questions, updates, ccfg)
    if "reading adapter + RAG" in ccfg.approaches:
        reader = shared.reader()
        shared.untrained["reading adapter + RAG after update"] = (
            [a.answer for a in RAG(fresh_index, reader, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)] if reader else None)
    shared.untrained["RAG after update"] = [a.answer for a in RAG(fresh_index, shared.gen, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)]


def freshness(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig, tuned, seed: int) -> dict:
    """After the facts change: the fine-tune as it is (stale), + RAG on an updated index, and its adapter trained further
    on the changed facts ("retrained": retrain_steps steps, from the fine-tuned adapter, not from scratch). The untrained
    models' figures (`untrained_after_update`) and the RAFT model's (`raft_freshness`) join them in `join_pieces`.

    Example: freshness(shared, qs, updates, cfg, ft.gen, 0)["fine-tuned (stale)"] -> {"new": 0.0, "old": 0.65}
    """
    new_answers, asked, texts, fresh_index, update = updated_index(shared, questions, updates, ccfg)
    hybrid = [a.answer for a in RAG(fresh_index, tuned, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)]
    stale = [clean_answer(a) for a in tuned.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
    # a team keeps its adapter and trains it on what changed, replaying as many unchanged facts so the rest is not forgotten
    changed = updated_questions([q for q in questions if q["id"] in new_answers], updates)
    kept = [q for q in questions if q["id"] not in new_answers]
    replayed = kept[:: max(1, len(kept) // max(1, len(changed)))][: len(changed)]
    retrained = train_lora(tuned, build_examples(shared.gen, changed + replayed, fact_statements=ccfg.fact_statements), ccfg, seed, ccfg.retrain_steps)
    redone = [clean_answer(a) for a in retrained.gen.generate(texts, max_new_tokens=ccfg.max_new_tokens)]
    kept_items = heldout_questions(kept)
    kept_texts = [it["asked"] for it in kept_items]
    kept_before, kept_after = ([clean_answer(a) for a in g.generate(kept_texts, max_new_tokens=ccfg.max_new_tokens)] for g in (tuned, retrained.gen))
    return {"n_updates": len(updates), "n_questions": len(asked),
            "update_s": update["seconds"], "update_per_document_s": update["per_document_s"],
            "retrain_s": round(retrained.train_s, 2), "retrain_steps": ccfg.retrain_steps, "n_kept": len(kept_items),
            # the unchanged facts, before and after the update training: what the update cost the rest
            "kept_acc_before": _share_right(kept_before, kept_items), "kept_acc_after": _share_right(kept_after, kept_items),
            "fine-tuned + RAG after update": share_new(hybrid, asked, new_answers),
            "fine-tuned (stale)": share_new(stale, asked, new_answers),
            "fine-tuned retrained": share_new(redone, asked, new_answers),
            "records": [{"question": t, "new": new_answers[it["qa_id"]], "old": it["answer"], "fine-tuned (stale)": s_, "fine-tuned retrained": r}
                        for t, it, s_, r in zip(texts, asked, stale, redone, strict=True)]}


def join_freshness(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig, fresh: dict,
                   raft_fresh: dict | None) -> dict:
    """One seed's freshness figures: the fine-tune's (`freshness`), the untrained models' and the RAFT model's, in one
    dict (RAG first, records last; the parts stay as they were). Example: join_freshness(shared, qs, ups, cfg, f, r)["RAG after update"]
    """
    new_answers, asked, _ = changed_questions(questions, updates)
    untrained_after_update(shared, questions, updates, ccfg)
    after, reader = shared.untrained["RAG after update"], shared.untrained.get("reading adapter + RAG after update")
    tuned = ("fine-tuned + RAG after update", "fine-tuned (stale)", "fine-tuned retrained")
    return {**{k: v for k, v in fresh.items() if k not in tuned and k != "records"}, "RAG after update": share_new(after, asked, new_answers),
            **{k: fresh[k] for k in tuned},
            **({"reading adapter + RAG after update": share_new(reader, asked, new_answers)} if reader else {}),
            **({"RAFT + RAG after update": raft_fresh} if raft_fresh is not None else {}),
            "records": [{**{k: r[k] for k in ("question", "new", "old")}, "RAG after update": a, **{k: v for k, v in r.items() if k not in ("question", "new", "old")}}
                        for r, a in zip(fresh["records"], after, strict=True)]}


def raft_freshness(shared: Shared, questions: list[dict], updates: list[dict], ccfg: CompareConfig, raft) -> dict:
    """The RAFT model reading the updated index: the share of answers about changed facts that give the new value.

    Example: raft_freshness(shared, qs, updates, cfg, raft.gen) -> {"new": 0.68, "old": 0.04}
    """
    new_answers, asked, texts, fresh_index, _ = updated_index(shared, questions, updates, ccfg)
    return share_new([a.answer for a in RAG(fresh_index, raft, ccfg.top_k, ccfg.max_new_tokens).answer_many(texts)], asked, new_answers)


def _share_right(answers: list[str], items: list[dict]) -> float:
    return round(sum(r["match"] for r in score_answers(items, answers)) / max(1, len(items)), 4)
