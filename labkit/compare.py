"""The side-by-side experiment: one model, one knowledge base, every approach on one scoreboard.

What it holds:
- `prepare`: the run's `rows.Setup` (models, index, questions, probe, and the updated index where
  the run has freshness figures), built once and passed to every function below, which return
  what they measured: no state is parked anywhere;
- the rows that need no training come from `labkit.untrained` (`untrained_rows`, once per run: greedy,
  so every seed would give the same answers);
- `run_piece`: one training of a seed (fine-tuned, docs, RAFT) and everything scored with its
  model, from `labkit.rows` (its rows) and `labkit.freshness` (its figures after the facts change);
  `join_pieces` / `run_seed`: one seed's rows in scoreboard order;
- `run_experiment`: every seed, serially or with `run_parallel` (the seeds' pieces, the untrained
  rows, the behaviour task and behaviour + facts (`labkit.behaviour_tasks`) in worker processes side
  by side, longest first), plus
  the cost projection (`costs.project` on the measured training speed). `labkit.scoreboard` scores
  each row and turns the seed runs into means, spreads and intervals; the rows' names are
  `labkit.keys`'; a run's sizes are `labkit.compare_config`'s.

What it leaves out: Markdown, charts and the cached latest results (`labkit.report`), the
decision guide (`labkit.choose`), the `labkit compare` command (`labkit.cli`), full
fine-tuning (LoRA only here; notebook 05 has full), and multiple-choice scoring for the RAG
rows (n/a: `scoreboard.score_rag` says why).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from labkit.adapters import save_adapter, with_lora
from labkit.behaviour_tasks import behaviour_facts_task, behaviour_serially, behaviour_task, triage_lora
from labkit.claims import claims_table
from labkit.compare_config import CompareConfig, default_compare_config
from labkit.config import get_config, set_seed
from labkit.costs import format_seconds, project
from labkit.freshness import (
    join_freshness,
    score_freshness,
    score_raft_freshness,
    with_updated_index,
)
from labkit.keys import After, Approach
from labkit.models import load_embedder, load_generator, resolve_precision
from labkit.retrieval import VectorIndex
from labkit.rows import (
    Setup,
    make_setup,
    measure_index,
    row_docs,
    row_raft,
    rows_fine_tuned,
)
from labkit.scoreboard import aggregate, coverage_record, differences, per_question_table
from labkit.untrained import READER_ROWS, UNTRAINED, Untrained, fresh_too, join_untrained, untrained_rows
from labkit.workers import run_tasks, threads_per_worker

# a seed's trainings: none needs another's model, so a parallel run spreads them over workers
PIECES = ("fine-tuned", "docs", "RAFT")


def prepare(gen, embedder, index: VectorIndex, index_info: dict, ccfg: CompareConfig, folder: Path) -> Setup:
    """The run's Setup (`rows.make_setup`), with the updated index (`freshness.with_updated_index`, its copy saved in
    `folder`) where the run has freshness figures.
    Example: prepare(gen, embedder, index, info, ccfg, tmp).updated is not None
    """
    setup = make_setup(gen, embedder, index, index_info, ccfg)
    return with_updated_index(setup, folder) if fresh_too(ccfg, setup.updates) else setup


def run_piece(setup: Setup, ccfg: CompareConfig, seed: int, piece: str, log=print) -> dict:
    """One training of a seed and everything scored with its model: rows, and its part of the freshness figures.

    Example: run_piece(setup, ccfg, 0, "docs")["rows"]["fine-tuned (docs)"]["accuracy"] -> 0.09
    "fine-tuned": the fine-tuned and fine-tuned + RAG rows and the freshness figures (its adapter, stale and
    retrained); "docs": the documents-only row; "RAFT": its row and its answers on the updated index. Every
    training seeds itself, so a piece gives the same answers whichever runs first.
    """
    if piece not in PIECES:
        raise ValueError(f"unknown piece {piece!r}: use one of {', '.join(PIECES)}")
    set_seed(seed)
    approaches = set(ccfg.approaches)
    out, t0 = {"rows": {}}, time.perf_counter()
    with_freshness = fresh_too(ccfg, setup.updates)  # freshness compares against the fine-tune

    def note(what):
        log(f"  seed {seed}: {what} ({time.perf_counter() - t0:.0f} s)")

    if piece == "fine-tuned" and {Approach.FINE_TUNED, Approach.FINE_TUNED_RAG} & approaches:
        ft_row, with_rag, ft = rows_fine_tuned(setup, ccfg, seed)
        out.update(train_tokens=ft.tokens, train_tokens_per_s=round(ft.tokens / max(1e-9, ft.train_s), 1),
                   trainable_params=ft.trainable_params, total_params=ft.total_params, train_precision=ft.precision)
        for name, row in ((Approach.FINE_TUNED, ft_row), (Approach.FINE_TUNED_RAG, with_rag)):
            if name in approaches:
                out["rows"][name] = row
                note(f"{name} accuracy {row['accuracy']}"
                     + (f" after {row['train_s']} s training" if name == Approach.FINE_TUNED else ""))
        if with_freshness:
            out["freshness"] = fresh = score_freshness(setup, ccfg, ft.gen, seed)
            note(f"freshness: stale {fresh[After.STALE]['new']}, retrained {fresh[After.RETRAINED]['new']}")
    elif piece == "docs" and Approach.FINE_TUNED_DOCS in approaches:
        out["rows"][Approach.FINE_TUNED_DOCS] = row = row_docs(setup, ccfg, seed)
        note(f"{Approach.FINE_TUNED_DOCS} accuracy {row['accuracy']}")
    elif piece == "RAFT" and Approach.RAFT_RAG in approaches:
        out["rows"][Approach.RAFT_RAG], raft = row_raft(setup, ccfg, seed)
        note(f"{Approach.RAFT_RAG} accuracy {out['rows'][Approach.RAFT_RAG]['accuracy']}")
        if with_freshness:
            out["raft_freshness"] = score_raft_freshness(setup, ccfg, raft.gen)
    return out


def join_pieces(setup: Setup, ccfg: CompareConfig, seed: int, untrained: Untrained, parts: list[dict]) -> dict:
    """One seed's result from its pieces (`run_piece`) and the untrained rows: rows in `ccfg.approaches` order,
    freshness.

    Example: join_pieces(setup, ccfg, 0, untrained_rows(setup, ccfg), [run_piece(setup, ccfg, 0, p) for p in
        PIECES])["rows"].keys()
    """
    rows = dict(untrained.rows)  # the same row objects in every seed
    extra, fresh, raft_fresh = {}, None, None
    for part in parts:
        rows.update(part["rows"])
        fresh = part.get("freshness", fresh)
        raft_fresh = part.get("raft_freshness", raft_fresh)
        extra.update({k: v for k, v in part.items() if k not in ("rows", "freshness", "raft_freshness")})
    if fresh is not None:
        fresh = join_freshness(setup, fresh, raft_fresh, untrained.after_update)
    return {"rows": {a: rows[a] for a in ccfg.approaches if a in rows}, "freshness": fresh,
            "seed": seed, "n_questions": len(setup.questions), **extra}


def run_seed(setup: Setup, ccfg: CompareConfig, seed: int, untrained: Untrained, log=print) -> dict:
    """One seed of the experiment: a row per approach in `ccfg.approaches`, and the freshness figures.

    Example: run_seed(setup, ccfg, 0, untrained_rows(setup, ccfg))["rows"]["RAG"]["accuracy"] -> 0.33
    The untrained rows are the run's (`untrained_rows`, computed once); each training is a piece
    (`run_piece`), run here one after another.
    """
    return join_pieces(setup, ccfg, seed, untrained, [run_piece(setup, ccfg, seed, piece, log) for piece in PIECES])


def cost_projection(tokens_per_s: float, total_params: float, train_tokens: float) -> list[dict]:
    """costs.project on the measured training speed, as rows of a table (estimates).
    Example: cost_projection(900, 135e6, 1e5)[0]["model"] -> "SmolLM2-135M"."""
    return [{"model": p.model, "device": p.device, "train": format_seconds(p.train_s), "train_s": p.train_s,
             "per_answer": format_seconds(p.seconds_per_answer), "assumption": p.assumption}
            for p in project(tokens_per_s, total_params, train_tokens, method="lora")]


def _strip(rows: dict) -> dict:
    # per item, answers live in results["per_question"]
    return {a: {k: v for k, v in r.items() if k not in ("records", "probe_records")} for a, r in rows.items()}


# ---------------------------------------------------------------- worker processes


@dataclass(frozen=True)
class Saved:
    """What a worker process needs to rebuild the run's Setup: the indexes saved in the run's folder, and their
    figures."""

    folder: Path  # the run's temporary folder (the triage LoRA is saved here for the behaviour + facts task too)
    index: Path  # the knowledge base's index
    updated: Path | None  # the updated copy (None: the run has no freshness figures)
    index_info: dict
    update_info: dict | None


def save_for_workers(setup: Setup, folder: Path) -> Saved:
    """Save the run's indexes where every worker loads them.
    Example: save_for_workers(setup, tmp).index -> tmp/index."""
    updated = setup.updated.save(folder / "updated") if setup.updated is not None else None
    return Saved(folder, setup.index.save(folder / "index"), updated, setup.index_info, setup.update_info)


_WORKER_SETUP: dict = {}  # per worker process: the run's Setup, built by its first task, reused by the next


def _worker_setup(generator: str, ccfg: CompareConfig, saved: Saved) -> Setup:
    if _WORKER_SETUP.get("key") != (generator, saved) or _WORKER_SETUP.get("ccfg") != ccfg:
        gen, embedder = load_generator(generator), load_embedder()
        setup = make_setup(gen, embedder, VectorIndex.load(saved.index, embedder), saved.index_info, ccfg)
        if saved.updated is not None:
            setup = replace(setup, updated=VectorIndex.load(saved.updated, embedder), update_info=saved.update_info)
        _WORKER_SETUP.update(key=(generator, saved), ccfg=ccfg, setup=setup)
    return _WORKER_SETUP["setup"]


def _in_worker(kind: str, ccfg: CompareConfig, seed: int, generator: str, saved: Saved, before=None):
    """One task of a parallel run, in a worker process (`labkit.workers`): a piece of a seed (`run_piece`), the
    untrained rows (`untrained_rows`), the behaviour task (returned with where its triage LoRA is saved) or behaviour +
    facts (`before`: the behaviour task's result, whose LoRA it loads)."""
    setup = _worker_setup(generator, ccfg, saved)

    def log(s):
        print(s, flush=True)

    if kind == "behaviour":
        lora = triage_lora(setup, ccfg, seed)
        keep = ccfg.num_fact_messages != 0  # the behaviour + facts task replies with this LoRA
        return behaviour_task(setup, ccfg, seed,
                              lora), (save_adapter(lora, "triage", cache_dir=saved.folder) if keep else None)
    if kind == "behaviour + facts":
        return behaviour_facts_task(setup, ccfg, with_lora(setup.gen, before[1]))
    if kind in ("untrained", "untrained reader"):
        return untrained_rows(setup, ccfg, log, parts=("reader",) if kind == "untrained reader" else ("base",))
    return run_piece(setup, ccfg, seed, kind, log)


# longest first, so the last task to start is a short one and no worker idles long at the end. At d6481c9 the untrained
# rows were one ~600 s task placed last, and one worker ran it alone at the end; now two tasks (the base model's rows,
# the reading adapter's). make report's log at a5e1559, one thread each: fine-tuned with freshness ~385 s, RAFT ~335 s
# (40 steps), docs ~222 s, untrained 184 s + 133 s, behaviour and behaviour + facts ~450 s together; the two workers
# were busy to the end (185% of 2 cores). Behaviour + facts needs the behaviour task's LoRA, so behaviour goes first;
# a task that cannot start yet keeps its place and the workers take the next one.
_LONGEST_FIRST = ("behaviour", "RAFT", "behaviour + facts", "fine-tuned", "untrained", "untrained reader", "docs")


def parallel_tasks(setup: Setup, ccfg: CompareConfig, behaviour: bool, folder: Path) -> tuple[list[tuple], dict]:
    """The tasks of a parallel run, longest first, and which needs which (`workers.run_tasks`'s `needs`): every seed's
    pieces, the untrained rows (once for every seed, in two parts), the behaviour experiment and behaviour + facts
    (which needs its LoRA). Saves the indexes every worker loads in `folder`.

    Example: [t[0] for t in parallel_tasks(setup, ccfg, True, tmp)[0]]
        -> ["behaviour", "RAFT", "behaviour + facts", "fine-tuned", "untrained", "untrained reader", "docs"]
    """
    saved, name, first = save_for_workers(setup, folder), setup.gen.name, ccfg.seeds[0]
    tasks = [(piece, ccfg, seed, name, saved) for seed in ccfg.seeds for piece in PIECES]
    if (set(UNTRAINED) - READER_ROWS) & set(ccfg.approaches) or fresh_too(ccfg, setup.updates):
        tasks.append(("untrained", ccfg, first, name, saved))
    if READER_ROWS & set(ccfg.approaches):
        tasks.append(("untrained reader", ccfg, first, name, saved))
    if behaviour:
        tasks.append(("behaviour", ccfg, first, name, saved))
        if ccfg.num_fact_messages != 0:
            tasks.append(("behaviour + facts", ccfg, first, name, saved))
    tasks.sort(key=lambda t: _LONGEST_FIRST.index(t[0]))  # stable: seeds stay in order within a kind
    kinds = [t[0] for t in tasks]
    return tasks, ({kinds.index("behaviour + facts"): kinds.index("behaviour")} if "behaviour + facts" in kinds else {})


def run_parallel(setup: Setup, ccfg: CompareConfig, workers: int, behaviour: bool, folder: Path,
                 log=print) -> tuple[list[dict], dict | None]:
    """Every seed's pieces (`run_piece`), the untrained rows, the behaviour experiment and behaviour + facts on
    `workers` processes of cores // workers threads each.

    Example: seed_runs, behaviour_result = run_parallel(setup, ccfg, 2, True, tmp)
    Each worker loads the same saved indexes. Tasks are a seed's separate trainings, the untrained
    rows (once for every seed, as a serial run computes them once), the behaviour task and the
    behaviour + facts (on the behaviour task's LoRA, saved in `folder`), longest first, so the workers stay
    busy to the end whatever the number of seeds and workers. (Whole seeds balanced only by luck:
    at make report's 3 seeds + behaviour on 2 workers they did, and the split ran as long, 1468 s
    against 1479 s; with 2 seeds the behaviour task alone would have kept one worker for its whole
    length.) The untrained rows run in a worker, not here before the pool, because two one-thread
    workers do more work per second than one process on two threads (small kernels scale badly).
    Answers can differ from a serial run in rare cases: fewer threads add up floats in another order.
    Workers' progress bars are off (two processes would draw over each other); each row logs a line.
    """
    tasks, needs = parallel_tasks(setup, ccfg, behaviour, folder)
    log(f"{len(tasks)} tasks on {workers} worker processes of {threads_per_worker(workers)} thread(s) each")
    done = dict(zip([(t[0], t[2]) for t in tasks], run_tasks(_in_worker, tasks, workers, needs), strict=True))
    first = ccfg.seeds[0]
    untrained = join_untrained([done[(kind, first)] for kind in ("untrained", "untrained reader")
                                if (kind, first) in done])
    seed_runs = [join_pieces(setup, ccfg, seed, untrained, [done[(piece, seed)] for piece in PIECES]) for seed
                 in ccfg.seeds]
    if not behaviour:
        return seed_runs, None
    result = done[("behaviour", first)][0]
    return seed_runs, ({**result, "behaviour_facts": done[("behaviour + facts", first)]} if ("behaviour + facts", first)
                       in done else result)


# ---------------------------------------------------------------- a whole run


def run_experiment(ccfg: CompareConfig | None = None, gen=None, embedder=None, behaviour: bool = True, log=print,
                   workers: int = 1, quick: bool | None = None) -> dict:
    """Every seed, the aggregate scoreboard, the behaviour task and the cost projection, as one JSON-ready dict.

    Example: run_experiment(default_compare_config(quick=True), quick=True)["scoreboard"]["RAG"]["accuracy"]["mean"]
        -> 0.33
    workers > 1 runs the seeds and the behaviour experiment side by side in processes (`run_parallel`).
    `quick` is the mode the result says it ran in, and the sizes' when `ccfg` is None (None: $LABKIT_QUICK).
    """
    quick = get_config().quick if quick is None else quick
    ccfg = ccfg or default_compare_config(quick=quick)
    t0 = time.perf_counter()
    gen, embedder = gen or load_generator(), embedder or load_embedder()
    index, index_info = measure_index(embedder, ccfg.rebuild_index)
    log(f"index: {index_info['chunks']} chunks built in {index_info['index_build_s']} s")
    first = ccfg.seeds[0]
    # the run's saved copies of the index, and the triage LoRA
    with tempfile.TemporaryDirectory(prefix="labkit-compare-") as tmp:
        setup = prepare(gen, embedder, index, index_info, ccfg, Path(tmp))
        if workers > 1 and len(ccfg.seeds) + behaviour > 1:
            seed_runs, behaviour_result = run_parallel(setup, ccfg, workers, behaviour, Path(tmp), log)
        else:
            untrained = untrained_rows(setup, ccfg, log)
            seed_runs = [run_seed(setup, ccfg, seed, untrained, log=log) for seed in ccfg.seeds]
            behaviour_result = behaviour_serially(setup, ccfg, first) if behaviour else None
    out = {"config": asdict(ccfg), "quick": quick, "index": index_info, **aggregate(seed_runs),
           "differences": differences(seed_runs), "untaught_differences": differences(seed_runs, column="untaught"),
           "coverage": coverage_record(setup), "per_question": per_question_table(seed_runs),
           "seeds": [{k: v for k, v in r.items() if k != "rows"} | {"rows": _strip(r["rows"])} for r in seed_runs]}
    tps = [r["train_tokens_per_s"] for r in seed_runs if r.get("train_tokens_per_s")]
    if tps:
        first_run = seed_runs[0]
        out["train_tokens_per_s"] = round(sum(tps) / len(tps), 1)
        out["train_precision"] = first_run["train_precision"]
        out["cost_projection"] = {"train_tokens": first_run["train_tokens"], "total_params": first_run["total_params"],
                                  "rows": cost_projection(out["train_tokens_per_s"], first_run["total_params"],
                                                          first_run["train_tokens"])}
    if behaviour:
        out["behaviour"] = behaviour_result
        log("behaviour: "
            + ", ".join(f"{k} {out['behaviour'][k]['label_accuracy']}" for k in ("zero_shot", "few_shot", "lora")))
    # Generator.inference's matmuls
    out["answer_precision"] = resolve_precision(gen.precision, next(gen.model.parameters()).device.type)
    out["workers"] = workers
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["claims"] = claims_table(out)  # the common guidance, claim by claim, over this run's figures
    return out
