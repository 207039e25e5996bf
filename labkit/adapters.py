"""Saved adapters: where they live in the cache, saving one under a checked name, loading one onto the base model.

What it holds: `adapters_dir` / `list_adapters` (LABKIT_CACHE/adapters), `save_adapter` (a trained
LoRA adapter, or fully fine-tuned weights, as safetensors, written atomically; an existing name is
kept unless overwrite=True), `load_adapter` (a Generator with the adapter applied to a copy of the
base model; a bad name lists what exists) and `with_lora` (the same from a folder: the reading adapter).

What it leaves out: training (`labkit.finetune`; `save_adapter` takes its TrainResult, or any
object with a `.gen`), and the `labkit finetune --save` command (`labkit.cli`).

Example: load_adapter(save_adapter(result, "kettle-facts").name, gen).generate(["How much is the Brimble Kettle?"]) -> ["$89"]
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path

from labkit.config import get_config
from labkit.models import Generator, causal_lm, load_generator
from labkit.storage import atomic_dir, check_name


def adapters_dir(cache_dir: Path | None = None) -> Path:
    """Where saved adapters live: LABKIT_CACHE/adapters. Example: adapters_dir() -> ~/.cache/labkit/adapters."""
    return Path(cache_dir or get_config().cache_dir) / "adapters"


def list_adapters(cache_dir: Path | None = None) -> list[str]:
    """Names of the saved adapters. Example: list_adapters() -> ["kettle-facts"]."""
    root = adapters_dir(cache_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "labkit.json").is_file())


def save_adapter(result_or_gen, name: str, cache_dir: Path | None = None, overwrite: bool = False, meta: dict | None = None) -> Path:
    """Save a trained LoRA adapter (or fully fine-tuned weights) as safetensors under a checked name.

    Example: save_adapter(result, "kettle-facts") -> PosixPath('~/.cache/labkit/adapters/kettle-facts')
    An existing adapter of that name is kept unless overwrite=True (a second run must not
    silently replace a good adapter). Its labkit.json records the steps done and whether the
    run was interrupted.
    """
    import warnings

    check_name(name)
    mg = getattr(result_or_gen, "gen", result_or_gen)
    target = adapters_dir(cache_dir) / name
    if (target / "labkit.json").exists() and not overwrite:
        raise ValueError(f"An adapter named {name!r} exists already in {target.parent}; pick another name, "
                         "or replace it on purpose (--overwrite on the command line, overwrite=True in Python).")
    with atomic_dir(target) as tmp, warnings.catch_warnings():
        # peft looks for a config.json next to the base model's file to see if the vocabulary changed; the
        # embedded model's folder is a Python package without one, and the vocabulary is never changed here
        warnings.filterwarnings("ignore", message="Could not find a config file")
        model = mg.model
        kind = "lora" if hasattr(model, "peft_config") else "full"
        model.save_pretrained(tmp, safe_serialization=True)
        if kind == "full":
            mg.tokenizer.save_pretrained(tmp)
        info = {"kind": kind, "name": name, "base": mg.name}
        cfg = getattr(result_or_gen, "config", None)
        if cfg is not None:
            info["config"] = asdict(cfg)
        if hasattr(result_or_gen, "steps_done"):
            info["steps_done"], info["interrupted"] = result_or_gen.steps_done, result_or_gen.interrupted
        info.update(meta or {})
        (tmp / "labkit.json").write_text(json.dumps(info, indent=2, default=list))
    return target


ADAPTER_FILES = {  # what each kind of saved adapter must hold: (file, what it is)
    "lora": (("adapter_config.json", "the LoRA settings"), ("adapter_model.safetensors", "the LoRA weights")),
    "full": (("config.json", "the model's settings"), ("model.safetensors", "the weights")),
}


def adapter_problem(path, kind: str) -> str | None:
    """What is wrong with an adapter folder for the kind its labkit.json names, or None when it holds what that kind needs.

    Example: adapter_problem(adapters_dir() / "kettle", "full") -> "it has no config.json (the model's settings); it holds a LoRA adapter ..."
    Checked before any model is loaded: only the JSON files and the safetensors headers are read.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if kind not in ADAPTER_FILES:
        return f"its labkit.json says kind {kind!r}; labkit saves 'lora' or 'full'"
    for file, what in ADAPTER_FILES[kind]:
        if not (path / file).is_file():
            other = next((k for k, files in ADAPTER_FILES.items() if k != kind and (path / files[0][0]).is_file()), None)
            held = f"; it holds a {'LoRA adapter' if other == 'lora' else 'full model'} ({ADAPTER_FILES[other][0][0]}), not what its labkit.json says" if other else ""
            return f"it has no {file} ({what}), which a {kind} adapter needs{held}"
        try:
            if file.endswith(".json"):
                if not isinstance(json.loads((path / file).read_text()), dict):
                    raise ValueError("not a JSON object")
            else:
                with safe_open(str(path / file), "pt") as weights:
                    weights.keys()
        except (OSError, ValueError, SafetensorError) as exc:
            return f"its {file} ({what}) cannot be read ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})"
    if kind == "full":
        from labkit.models import remote_code_problem

        return remote_code_problem(path)
    return None


def load_adapter(name: str, gen=None, cache_dir: Path | None = None):
    """A Generator with a saved adapter applied to (a copy of) the base model.

    Example: load_adapter("kettle-facts", gen).generate("How much is the Brimble Kettle?") -> "$89"
    A missing or malformed name raises ValueError listing the adapters that exist; a folder that does not
    hold what its labkit.json says (a LoRA marked full, a damaged file) raises ValueError naming it, before any load.
    """
    try:
        check_name(name)
    except ValueError as exc:
        raise ValueError(f"{exc} Saved adapters: {', '.join(list_adapters(cache_dir)) or 'none yet'}.") from None
    path = adapters_dir(cache_dir) / name
    if not (path / "labkit.json").is_file():
        available = ", ".join(list_adapters(cache_dir)) or "none yet (train one and save it with save_adapter)"
        raise ValueError(f"No adapter named {name!r} in {path.parent}. Saved adapters: {available}.")
    try:
        info = json.loads((path / "labkit.json").read_text())
        kind = info.get("kind")
    except (OSError, ValueError, AttributeError) as exc:
        raise ValueError(f"The adapter in {path} cannot be loaded: its labkit.json is not readable JSON ({exc}). "
                         "Save it again (save_adapter, or labkit finetune --save), or remove the folder.") from None
    if (problem := adapter_problem(path, kind)) is not None:
        raise ValueError(f"The adapter in {path} cannot be loaded: {problem}. "
                         "Save it again (save_adapter, or labkit finetune --save), or remove the folder.")
    gen = gen or load_generator()
    if kind == "lora":
        return with_lora(gen, path, {"adapter": name, **info})
    else:
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, use_safetensors=True, local_files_only=True,
                                                     trust_remote_code=False)
    model.to(next(gen.model.parameters()).device)
    model.eval()
    return Generator(model, gen.tokenizer, gen.name, str(path), 0.0, gen.from_cache, {**gen.info, "adapter": name, **info})


def with_lora(gen, path: Path, info: dict | None = None) -> Generator:
    """A Generator with the LoRA adapter saved in `path` applied to a copy of gen's model (gen is left as it is).

    Example: with_lora(gen, adapters_dir() / "kettle-facts").model -> PeftModelForCausalLM
    A folder without readable LoRA files raises ValueError naming it (peft's own error is a hub lookup).
    """
    from peft import PeftModel

    if (problem := adapter_problem(path, "lora")) is not None:
        raise ValueError(f"The LoRA adapter in {path} cannot be loaded: {problem}.")

    model = PeftModel.from_pretrained(copy.deepcopy(causal_lm(gen.model)), str(path), is_trainable=False)
    model.to(next(gen.model.parameters()).device)
    model.eval()
    return Generator(model, gen.tokenizer, gen.name, str(path), 0.0, gen.from_cache, {**gen.info, **(info or {})})
