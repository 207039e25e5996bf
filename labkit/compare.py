"""The side-by-side experiment: one model, one knowledge base, every approach on one scoreboard.

What it holds:
- `run_piece`: one training of a seed (fine-tuned, docs, RAFT) and everything scored with its
  model, from `labkit.rows` (its rows) and `labkit.freshness` (its figures after the facts change);
- `untrained_rows`: the rows that need no training (closed-book, RAG, the reading adapter),
  once per run; `join_pieces` / `run_seed`: one seed's rows in scoreboard order;
- `run_experiment`: every seed, serially or with `run_parallel` (the seeds' pieces, the
  untrained rows and the behaviour task in worker processes side by side, longest first),
  plus the behaviour task (`behaviour.run_behaviour`, with the seeds' hybrid) and the cost
  projection (`costs.project` on the measured training speed); `labkit.scoreboard` turns the
  seed runs into means, spreads and intervals. A run's sizes are `labkit.compare_config`'s.

What it leaves out: Markdown, charts and the cached latest results (`labkit.report`), the
decision guide (`labkit.choose`), the `labkit compare` command (`labkit.cli`), full
fine-tuning (LoRA only here; notebook 05 has full), and multiple-choice scoring for the RAG
rows: MC measures what the model *stores*; with sources in the prompt it would measure
reading, which the open-answer accuracy already does, so those cells are n/a.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict

from labkit.behaviour import run_behaviour
from labkit.compare_config import CompareConfig, default_compare_config
from labkit.config import get_config, set_seed
from labkit.costs import format_seconds, project
from labkit.data import load_probe, spread, taught_questions
from labkit.freshness import freshness, join_freshness, raft_freshness, untrained_after_update
from labkit.hybrid import run_hybrid
from labkit.models import load_embedder, load_generator, resolve_precision
from labkit.multiple_choice import mc_items_from_probe
from labkit.retrieval import VectorIndex
from labkit.rows import Shared, measure_index, row_closed_book, row_docs, row_raft, row_rag, row_reader, rows_fine_tuned
from labkit.scoreboard import APPROACHES as APPROACHES  # re-exported: the rows a run can have
from labkit.scoreboard import aggregate, differences
from labkit.workers import run_tasks, threads_per_worker

# ---------------------------------------------------------------- one seed, every seed


PIECES = ("fine-tuned", "docs", "RAFT")  # a seed's trainings: none needs another's model, so a parallel run spreads them over workers


def run_piece(shared: Shared, ccfg: CompareConfig, seed: int, piece: str, log=print) -> dict:
    """One training of a seed and everything scored with its model: rows, and its part of the freshness figures.

    Example: run_piece(shared, cfg, 0, "docs")["rows"]["fine-tuned (docs)"]["accuracy"] -> 0.09
    "fine-tuned": the fine-tuned and fine-tuned + RAG rows and the freshness figures (its adapter, stale and
    retrained); "docs": the documents-only row; "RAFT": its row and its answers on the updated index. Every
    training seeds itself, so a piece gives the same answers whichever runs first.
    """
    if piece not in PIECES:
        raise ValueError(f"unknown piece {piece!r}: use one of {', '.join(PIECES)}")
    set_seed(seed)
    approaches = set(ccfg.approaches)
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    probe = mc_items_from_probe(spread(load_probe(), ccfg.num_probe))
    out, t0 = {"rows": {}}, time.perf_counter()
    fresh_too = _fresh_too(ccfg, updates)  # freshness compares against the fine-tune

    def note(what):
        log(f"  seed {seed}: {what} ({time.perf_counter() - t0:.0f} s)")

    if piece == "fine-tuned" and {"fine-tuned", "fine-tuned + RAG"} & approaches:
        ft_row, hybrid_row, ft = rows_fine_tuned(shared, questions, ccfg, probe, seed)
        out.update(train_tokens=ft.tokens, train_tokens_per_s=round(ft.tokens / max(1e-9, ft.train_s), 1),
                   trainable_params=ft.trainable_params, total_params=ft.total_params, train_precision=ft.precision)
        for name, row in (("fine-tuned", ft_row), ("fine-tuned + RAG", hybrid_row)):
            if name in approaches:
                out["rows"][name] = row
                note(f"{name} accuracy {row['accuracy']}" + (f" after {row['train_s']} s training" if name == "fine-tuned" else ""))
        if fresh_too:
            out["freshness"] = fresh = freshness(shared, questions, updates, ccfg, ft.gen, seed)
            note(f"freshness: stale {fresh['fine-tuned (stale)']['new']}, retrained {fresh['fine-tuned retrained']['new']}")
    elif piece == "docs" and "fine-tuned (docs)" in approaches:
        out["rows"]["fine-tuned (docs)"] = row = row_docs(shared, questions, ccfg, probe, seed)
        note(f"fine-tuned (docs) accuracy {row['accuracy']}")
    elif piece == "RAFT" and "RAFT + RAG" in approaches:
        out["rows"]["RAFT + RAG"], raft = row_raft(shared, questions, ccfg, probe, seed)
        note(f"RAFT + RAG accuracy {out['rows']['RAFT + RAG']['accuracy']}")
        if fresh_too:
            out["raft_freshness"] = raft_freshness(shared, questions, updates, ccfg, raft.gen)
    return out


def untrained_rows(shared: Shared, ccfg: CompareConfig, log=print) -> dict:
    """The rows that need no training (closed-book, RAG, the shipped reading adapter), computed on first call, then reused,
    and the same models' answers after the facts change (`untrained_after_update`) where the run has freshness figures.

    Example: untrained_rows(shared, cfg)["RAG"]["accuracy"] -> 0.25
    They decode greedily, so every seed would give the same answers (spread 0); recomputing them
    cost a third of a full-mode seed.
    """
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    probe = mc_items_from_probe(spread(load_probe(), ccfg.num_probe))
    approaches, rows = set(ccfg.approaches), {}
    if "closed-book" in approaches:
        rows["closed-book"] = row_closed_book(shared, questions, ccfg, probe)
    if "RAG" in approaches:
        rows["RAG"] = row_rag(shared, questions, ccfg, probe)
    if "reading adapter + RAG" in approaches and (row := row_reader(shared, questions, ccfg, probe, log)) is not None:
        rows["reading adapter + RAG"] = row
    if _fresh_too(ccfg, updates):
        untrained_after_update(shared, questions, updates, ccfg)
    return rows


def _fresh_too(ccfg: CompareConfig, updates: list[dict]) -> bool:
    """Whether a run has freshness figures: facts change, and a fine-tune is there to go stale."""
    return bool(updates) and bool({"fine-tuned", "fine-tuned + RAG"} & set(ccfg.approaches))


def join_pieces(shared: Shared, ccfg: CompareConfig, seed: int, parts: list[dict], log=print) -> dict:
    """One seed's result from its pieces (`run_piece`) and the untrained rows: rows in `ccfg.approaches` order, freshness.

    Example: join_pieces(shared, cfg, 0, [run_piece(shared, cfg, 0, p) for p in PIECES])["rows"].keys()
    """
    rows = untrained_rows(shared, ccfg, log)
    extra, fresh, raft_fresh = {}, None, None
    for part in parts:
        rows.update(part["rows"])
        fresh = part.get("freshness", fresh)
        raft_fresh = part.get("raft_freshness", raft_fresh)
        extra.update({k: v for k, v in part.items() if k not in ("rows", "freshness", "raft_freshness")})
    questions, updates = taught_questions(ccfg.num_questions, ccfg.num_updates, ccfg.multi_document)
    if fresh is not None:
        fresh = join_freshness(shared, questions, updates, ccfg, fresh, raft_fresh)
    return {"rows": {a: rows[a] for a in ccfg.approaches if a in rows}, "freshness": fresh,
            "seed": seed, "n_questions": len(questions), **extra}


def run_seed(shared: Shared, ccfg: CompareConfig, seed: int, log=print) -> dict:
    """One seed of the experiment: a row per approach in `ccfg.approaches`, and the freshness figures.

    Example: run_seed(shared, default_compare_config(quick=True), 0)["rows"]["RAG"]["accuracy"] -> 0.33
    The untrained rows come from `shared.untrained` after the first seed (`untrained_rows`); each
    training is a piece (`run_piece`), run here one after another.
    """
    t0 = time.perf_counter()
    reused = "closed-book" in shared.untrained
    for name, row in untrained_rows(shared, ccfg, log).items():
        log(f"  seed {seed}: {name} accuracy {row['accuracy']} ({time.perf_counter() - t0:.0f} s)" + (" (reused: no training, greedy)" if reused else ""))
    return join_pieces(shared, ccfg, seed, [run_piece(shared, ccfg, seed, piece, log) for piece in PIECES], log)


def behaviour_task(shared: Shared, ccfg: CompareConfig, seed: int) -> dict:
    """The behaviour experiment (zero-shot, few-shot, LoRA on triage) and, with its LoRA, the seeds' hybrid (labkit.hybrid).

    Example: behaviour_task(shared, cfg, 0)["hybrid"]["after"]["behaviour LoRA + RAG"]["fact_accuracy"] -> 0.64
    """
    def hybrid(lora_gen):
        return run_hybrid(shared.gen, lora_gen, shared.embedder, shared.index, ccfg.hybrid_messages, ccfg.top_k)

    return run_behaviour(shared.gen, shared.embedder, ccfg.behaviour_num_test, ccfg.behaviour_steps, ccfg.rank, ccfg.lr, seed,
                         then=hybrid if ccfg.hybrid_messages != 0 else None)


def cost_projection(tokens_per_s: float, total_params: float, train_tokens: float) -> list[dict]:
    """costs.project on the measured training speed, as rows of a table (estimates). Example: cost_projection(900, 135e6, 1e5)[0]["model"] -> "SmolLM2-135M"."""
    return [{"model": p.model, "device": p.device, "train": format_seconds(p.train_s), "train_s": p.train_s,
             "per_answer": format_seconds(p.seconds_per_answer), "assumption": p.assumption}
            for p in project(tokens_per_s, total_params, train_tokens, method="lora")]


def _strip(rows: dict) -> dict:
    return {a: {k: v for k, v in r.items() if k != "records"} for a, r in rows.items()}


_WORKER_STATE: dict = {}  # per worker process: the models and index, loaded by its first task, reused by the next


def _in_worker(kind: str, ccfg: CompareConfig, seed: int, generator: str, shared_state: tuple):
    """One task of a parallel run, in a worker process (`labkit.workers`): a piece of a seed (`run_piece`), the
    behaviour experiment, or the untrained rows (returned as `shared.untrained`, which the parent adopts)."""
    pristine, index_info = shared_state
    if _WORKER_STATE.get("key") != (generator, pristine):
        gen, embedder = load_generator(generator), load_embedder()
        _WORKER_STATE.update(key=(generator, pristine), shared=Shared(gen, embedder, VectorIndex.load(pristine, embedder), index_info, {}, pristine))
    shared = _WORKER_STATE["shared"]
    if kind == "behaviour":
        return behaviour_task(shared, ccfg, seed)
    if kind == "untrained":
        untrained_rows(shared, ccfg, log=lambda s: print(s, flush=True))
        return shared.untrained
    return run_piece(shared, ccfg, seed, kind, log=lambda s: print(s, flush=True))


# longest first, so the last task to start is a short one and no worker idles long at the end; one full-size seed on
# 1 thread (make report's log): behaviour ~460 s, RAFT ~270 s, fine-tuned with freshness ~235 s, docs ~150 s; the
# untrained rows (closed-book, RAG, reading adapter, and their answers after the update) are about as long as docs
_LONGEST_FIRST = ("behaviour", "RAFT", "fine-tuned", "docs", "untrained")


def parallel_tasks(shared: Shared, ccfg: CompareConfig, behaviour: bool) -> list[tuple]:
    """The tasks of a parallel run, longest first: every seed's pieces, the untrained rows unless this process has them
    already (a serial seed ran first), and the behaviour experiment. Saves the index every worker loads.

    Example: [t[0] for t in parallel_tasks(shared, cfg, True)] -> ["behaviour", "RAFT", "fine-tuned", "docs", "untrained"]
    """
    shared.pristine_index()  # saved once; every worker loads it
    state = (shared.pristine, shared.index_info)
    tasks = [(piece, ccfg, seed, shared.gen.name, state) for seed in ccfg.seeds for piece in PIECES]
    if not shared.untrained:
        tasks.append(("untrained", ccfg, ccfg.seeds[0], shared.gen.name, state))
    if behaviour:
        tasks.append(("behaviour", ccfg, ccfg.seeds[0], shared.gen.name, state))
    return sorted(tasks, key=lambda t: _LONGEST_FIRST.index(t[0]))  # stable: seeds stay in order within a kind


def run_parallel(shared: Shared, ccfg: CompareConfig, workers: int, behaviour: bool, log=print) -> tuple[list[dict], dict | None]:
    """Every seed's pieces (`run_piece`), the untrained rows and the behaviour experiment on `workers` processes of
    cores // workers threads each.

    Example: seed_runs, behaviour_result = run_parallel(shared, cfg, 2, True)
    Each worker loads the same saved index. Tasks are a seed's separate trainings, the untrained
    rows (once for every seed, as a serial run reuses them after its first seed) and the behaviour
    task, longest first, so the workers stay busy to the end whatever the number of seeds and
    workers. (Whole seeds balanced only by luck: at make report's 3 seeds + behaviour on 2 workers
    they did, and the split ran as long, 1468 s against 1479 s; with 2 seeds the behaviour task
    alone would have kept one worker for its whole length.) The untrained rows run in a worker,
    not here before the pool, because two one-thread workers do more work per second than one
    process on two threads (small kernels scale badly across threads).
    Answers can differ from a serial run in rare cases: fewer threads add up floats in another order.
    Workers' progress bars are off (two processes would draw over each other); each row logs a line.
    """
    tasks = parallel_tasks(shared, ccfg, behaviour)
    log(f"{len(tasks)} tasks on {workers} worker processes of {threads_per_worker(workers)} thread(s) each")
    done = dict(zip([(t[0], t[2]) for t in tasks], run_tasks(_in_worker, tasks, workers), strict=True))
    shared.untrained = {**done.get(("untrained", ccfg.seeds[0]), {}), **shared.untrained}  # what was here already stays
    seed_runs = [join_pieces(shared, ccfg, seed, [done[(piece, seed)] for piece in PIECES], log) for seed in ccfg.seeds]
    return seed_runs, (done[("behaviour", ccfg.seeds[0])] if behaviour else None)


def run_experiment(ccfg: CompareConfig | None = None, gen=None, embedder=None, behaviour: bool = True, log=print, workers: int = 1) -> dict:
    """Every seed, the aggregate scoreboard, the behaviour task and the cost projection, as one JSON-ready dict.

    Example: run_experiment(default_compare_config(quick=True))["scoreboard"]["RAG"]["accuracy"]["mean"] -> 0.33
    workers > 1 runs the seeds and the behaviour experiment side by side in processes (`run_parallel`).
    """
    ccfg = ccfg or default_compare_config()
    t0 = time.perf_counter()
    gen, embedder = gen or load_generator(), embedder or load_embedder()
    index, index_info = measure_index(embedder, ccfg.rebuild_index)
    log(f"index: {index_info['chunks']} chunks built in {index_info['index_build_s']} s")
    shared = Shared(gen, embedder, index, index_info)
    behaviour_result = None
    try:
        if workers > 1 and len(ccfg.seeds) + behaviour > 1:
            seed_runs, behaviour_result = run_parallel(shared, ccfg, workers, behaviour, log)
        else:
            seed_runs = [run_seed(shared, ccfg, seed, log=log) for seed in ccfg.seeds]
    finally:
        if shared.pristine is not None:  # the saved copy of the index lived in a temporary folder of its own
            shutil.rmtree(shared.pristine.parent, ignore_errors=True)
    out = {"config": asdict(ccfg), "quick": get_config().quick, "index": index_info, **aggregate(seed_runs),
           "differences": differences(seed_runs),
           "seeds": [{k: v for k, v in r.items() if k != "rows"} | {"rows": _strip(r["rows"])} for r in seed_runs]}
    tps = [r["train_tokens_per_s"] for r in seed_runs if r.get("train_tokens_per_s")]
    if tps:
        first = seed_runs[0]
        out["train_tokens_per_s"] = round(sum(tps) / len(tps), 1)
        out["train_precision"] = first["train_precision"]
        out["cost_projection"] = {"train_tokens": first["train_tokens"], "total_params": first["total_params"],
                                  "rows": cost_projection(out["train_tokens_per_s"], first["total_params"], first["train_tokens"])}
    if behaviour:
        out["behaviour"] = behaviour_result or behaviour_task(shared, ccfg, ccfg.seeds[0])
        log("behaviour: " + ", ".join(f"{k} {out['behaviour'][k]['label_accuracy']}" for k in ("zero_shot", "few_shot", "lora")))
    out["answer_precision"] = resolve_precision(gen.precision, next(gen.model.parameters()).device.type)  # Generator.inference's matmuls
    out["workers"] = workers
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out
