"""Saved adapters: where they live in the cache, saving one under a checked name, loading one onto the base model.

What it holds: `adapters_dir` / `list_adapters` (LABKIT_CACHE/adapters), `save_adapter` (a trained
LoRA adapter, or fully fine-tuned weights, as safetensors, written atomically; an existing name is
kept unless overwrite=True) and `write_adapter` (the same into any folder), `load_adapter` (a Generator
with the adapter applied to a copy of the base model; a bad name lists what exists, a folder that does
not hold what its labkit.json says is named: `adapter_problem`) and `with_lora` (the same from a folder:
the reading adapter). For full or read-only disks: `adapter_bytes` / `model_skeleton` (an adapter's size
from the base's config.json, before any load, so a command can refuse before training) and `save_or_rescue`
(a save the disk refuses anyway goes to a rescue folder, `rescue_dirs`, that the message names).

What it leaves out: training (`labkit.finetune`; `save_adapter` takes its TrainResult, or any
object with a `.gen`), and the `labkit finetune --save` command (`labkit.train_commands`).

Example: load_adapter(save_adapter(result, "kettle-facts").name, gen).generate(["How much is the Brimble Kettle?"])
    -> ["$89"]
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path

from labkit.config import get_config
from labkit.models import Generator, causal_lm, load_generator
from labkit.storage import WRITE_ERRORS, WriteRefused, atomic_dir, check_name, room_problem, write_error_reason


def adapters_dir(cache_dir: Path | None = None) -> Path:
    """Where saved adapters live: LABKIT_CACHE/adapters. Example: adapters_dir() -> ~/.cache/labkit/adapters."""
    return Path(cache_dir or get_config().cache_dir) / "adapters"


def list_adapters(cache_dir: Path | None = None) -> list[str]:
    """Names of the saved adapters. Example: list_adapters() -> ["kettle-facts"]."""
    root = adapters_dir(cache_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "labkit.json").is_file())


def save_adapter(result_or_gen, name: str, cache_dir: Path | None = None, overwrite: bool = False,
                 meta: dict | None = None) -> Path:
    """Save a trained LoRA adapter (or fully fine-tuned weights) as safetensors under a checked name.

    Example: save_adapter(result, "kettle-facts") -> PosixPath('~/.cache/labkit/adapters/kettle-facts')
    An existing adapter of that name is kept unless overwrite=True (a second run must not
    silently replace a good adapter). Its labkit.json records the steps done and whether the
    run was interrupted. A disk that refuses it (read-only, full) raises OSError saying what to do;
    nothing half-written is left.
    """
    check_name(name)
    target = adapters_dir(cache_dir) / name
    if (target / "labkit.json").exists() and not overwrite:
        raise ValueError(f"An adapter named {name!r} exists already in {target.parent}; pick another name, "
                         "or replace it on purpose (--overwrite on the command line, overwrite=True in Python).")
    return write_adapter(result_or_gen, target, name, meta)


def write_adapter(result_or_gen, target: Path, name: str | None = None, meta: dict | None = None) -> Path:
    """Write an adapter into the folder `target` (replaced whole): save_adapter's writing, for any folder.

    Example: write_adapter(result, Path("/tmp/labkit-rescued/kettle-20261206-1502")) -> that path
    The room it needs is checked first (nothing is started on a disk too full for it).
    """
    import warnings

    target = Path(target).expanduser()
    mg = getattr(result_or_gen, "gen", result_or_gen)
    model = mg.model
    kind = "lora" if hasattr(model, "peft_config") else "full"
    if (problem := room_problem(target.parent, adapter_bytes(model, kind))) is not None:
        raise WriteRefused(f"could not save the adapter to {target}: {problem}. Free some space there, or save it "
                           "elsewhere "
                           "(cache_dir=..., or LABKIT_CACHE); the trained model is still in memory", problem)
    try:
        with atomic_dir(target) as tmp, warnings.catch_warnings():
            # peft looks for a config.json next to the base model's file to see if the vocabulary changed; the
            # embedded model's folder is a Python package without one, and the vocabulary is never changed here
            warnings.filterwarnings("ignore", message="Could not find a config file")
            model.save_pretrained(tmp, safe_serialization=True)
            if kind == "full":
                mg.tokenizer.save_pretrained(tmp)
            info = {"kind": kind, "name": name or target.name, "base": mg.name}
            train_config = getattr(result_or_gen, "config", None)
            if train_config is not None:
                info["config"] = asdict(train_config)
            if hasattr(result_or_gen, "steps_done"):
                info["steps_done"], info["interrupted"] = result_or_gen.steps_done, result_or_gen.interrupted
            info.update(meta or {})
            (tmp / "labkit.json").write_text(json.dumps(info, indent=2, default=list))
    except WRITE_ERRORS as exc:
        reason = write_error_reason(exc)
        raise WriteRefused(f"could not save the adapter to {target} ({reason}): free some space there (or make it "
                           "writable), or "
                           "save it elsewhere (cache_dir=..., or LABKIT_CACHE); the trained model is still in memory",
                           reason) from exc
    return target


# ---------------------------------------------------------------- room for an adapter, and a rescue when the disk
# refuses it

SAVE_ROOM = 2**20  # room kept for the JSON files and the safetensors header beside the weights


def adapter_bytes(model, method: str = "lora", rank: int = 16,
                  target_modules=("q_proj", "v_proj", "o_proj", "up_proj", "down_proj")) -> int:
    """Bytes a saved adapter takes: a trained model's LoRA weights, else (a base, or a weightless model_skeleton) the
    A and B matrices of rank `rank` on each targeted linear layer; "full": every weight and the tokenizer files.

    Example: adapter_bytes(model_skeleton(), "lora", 4) -> 4_550_656 (the shipped reading adapter is 3.5 MB on disk)
    Float32, as the kit trains and saves them.
    """
    from labkit.model_cache import TOKENIZER_ROOM
    from labkit.models import causal_lm

    if method == "full":
        return 4 * sum(p.numel() for p in {id(p): p for p in causal_lm(model).parameters()}.values()) + TOKENIZER_ROOM
    trained = [p for n, p in model.named_parameters() if "lora_" in n]
    if trained:
        return sum(p.numel() * p.element_size() for p in trained) + SAVE_ROOM
    import torch

    layers = [m for n, m in causal_lm(model).named_modules() if isinstance(m, torch.nn.Linear) and n.rsplit(".", 1)[-1]
              in target_modules]
    return 4 * int(rank) * sum(m.in_features + m.out_features for m in layers) + SAVE_ROOM


def model_skeleton(name: str | None = None, cache_dir: Path | None = None):
    """The generator's layers without their weights (on PyTorch's meta device), built from its config.json: what sizes
    an adapter before any model is loaded. None when the config is not at hand yet (a GGUF file not converted, a hub id
    not cached).

    Example: model_skeleton().model.layers[0].self_attn.q_proj -> Linear(in_features=576, out_features=576, bias=False)
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from labkit.model_cache import DEFAULT_GENERATOR, generator_cache_dir

    try:
        if name in (None, "", DEFAULT_GENERATOR) or str(name).lower().endswith(".gguf"):
            source = str(generator_cache_dir(cache_dir,
                                             None if name in (None, "", DEFAULT_GENERATOR)
                                             else Path(name).expanduser()))
        else:
            source = str(Path(name).expanduser()) if Path(name).expanduser().is_dir() else name
        config = AutoConfig.from_pretrained(source, local_files_only=True, trust_remote_code=False)
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(config, trust_remote_code=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, ImportError, AttributeError):
        return None  # sized from the loaded model instead


def rescue_dirs() -> list[Path]:
    """Where a trained adapter goes when its own folder refuses it: the system's temporary folder, else the current one.

    Example: rescue_dirs() -> [PosixPath('/tmp/labkit-rescued'), PosixPath('/home/ada/labkit-rescued')]
    """
    import tempfile

    return [Path(tempfile.gettempdir()) / "labkit-rescued", Path.cwd() / "labkit-rescued"]


def save_or_rescue(write, target: Path, what: str = "adapter") -> tuple[Path, str | None]:
    """Save with write(folder) into target; if the disk refuses (full, read-only), into a rescue folder named in the
    message.

    Example: save_or_rescue(lambda folder: write_adapter(result, folder), adapters_dir() / "kettle")
        -> (that path, None),
    or on a full disk (PosixPath('/tmp/labkit-rescued/kettle-20261206-150212'), "could not save the adapter to ... ; it
    is saved in ...") Training is minutes of work: it is not lost to a disk that filled after the room check.
    RuntimeError if every place refuses.
    """
    import time

    target = Path(target).expanduser()
    try:
        return write(target), None
    except WRITE_ERRORS as exc:
        reason = write_error_reason(exc)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for root in rescue_dirs():
        try:
            spare = write(root / f"{target.name}-{stamp}")
        except WRITE_ERRORS:
            continue
        return spare, (f"could not save the {what} to {target}: {reason}. It is saved instead in {spare}; free some "
                       "space "
                       f"where it belongs (or make it writable), then move it there: mv {spare} {target}")
    raise RuntimeError(f"could not save the {what} to {target}: {reason}; nor in "
                       f"{' or '.join(map(str, rescue_dirs()))}. "
                       "Free some disk space and run it again")


ADAPTER_FILES = {  # what each kind of saved adapter must hold: (file, what it is)
    "lora": (("adapter_config.json", "the LoRA settings"), ("adapter_model.safetensors", "the LoRA weights")),
    "full": (("config.json", "the model's settings"), ("model.safetensors", "the weights")),
}


def adapter_problem(path, kind: str) -> str | None:
    """What is wrong with an adapter folder for the kind its labkit.json names, or None when it holds what that kind
    needs.

    Example: adapter_problem(adapters_dir() / "kettle", "full")
        -> "it has no config.json (the model's settings); it holds a LoRA adapter ..."
    Checked before any model is loaded: only the JSON files and the safetensors headers are read.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if kind not in ADAPTER_FILES:
        return f"its labkit.json says kind {kind!r}; labkit saves 'lora' or 'full'"
    for file, what in ADAPTER_FILES[kind]:
        if not (path / file).is_file():
            other = next((k for k, files in ADAPTER_FILES.items() if k != kind and (path / files[0][0]).is_file()),
                         None)
            held = (
                f"; it holds a {'LoRA adapter' if other == 'lora' else 'full model'} ({ADAPTER_FILES[other][0][0]}), "
                "not what its labkit.json says"
                if other
                else ""
            )
            return f"it has no {file} ({what}), which a {kind} adapter needs{held}"
        try:
            if file.endswith(".json"):
                if not isinstance(json.loads((path / file).read_text()), dict):
                    raise ValueError("not a JSON object")
            else:
                with safe_open(str(path / file), "pt") as weights:
                    weights.keys()
        except (OSError, ValueError, SafetensorError) as exc:
            return (f"its {file} ({what}) cannot be read "
                    f"({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})")
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

        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, use_safetensors=True,
                                                     local_files_only=True, trust_remote_code=False)
    model.to(next(gen.model.parameters()).device)
    model.eval()
    return Generator(model, gen.tokenizer, gen.name, str(path), 0.0, gen.from_cache,
                     {**gen.info, "adapter": name, **info})


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


def merged_lora(gen, path: Path, info: dict | None = None) -> Generator:
    """A Generator whose model is a copy of gen's with a plain LoRA adapter merged into its weights (W + alpha/r B A):
    the function with_lora computes, without importing peft, for a command that must start fast (`labkit ask`).

    Example: merged_lora(gen, READER_DIR).model -> LlamaForCausalLM (no peft wrapper)
    An adapter that is not plain LoRA (DoRA, rsLoRA, per-layer ranks or alphas, a bias, saved modules) goes through
    with_lora instead. Greedy answers can differ from with_lora's where rounding does (benchmarks/bench_ask.py counts).
    """
    import torch
    from safetensors.torch import load_file

    if (problem := adapter_problem(path, "lora")) is not None:
        raise ValueError(f"The LoRA adapter in {path} cannot be loaded: {problem}.")
    config = json.loads((Path(path) / "adapter_config.json").read_text())
    weights = load_file(str(Path(path) / "adapter_model.safetensors"))
    names = {name for name, _ in causal_lm(gen.model).named_modules()}
    pairs = {k.removeprefix("base_model.model.").removesuffix(".lora_A.weight"): (weights[k],
             weights.get(k.replace(".lora_A.", ".lora_B."))) for k in weights if k.endswith(".lora_A.weight")}
    plain = (config.get("peft_type") == "LORA" and config.get("bias", "none") == "none" and not any(
        config.get(k) for k in ("use_dora", "use_rslora", "rank_pattern", "alpha_pattern", "modules_to_save",
                                "fan_in_fan_out")) and 2 * len(pairs) == len(weights)
             and all(b is not None and name in names for name, (_, b) in pairs.items()))
    if not plain:
        return with_lora(gen, path, info)
    model = copy.deepcopy(causal_lm(gen.model))
    modules = dict(model.named_modules())
    scale = config["lora_alpha"] / config["r"]
    with torch.no_grad():
        for name, (a, b) in pairs.items():
            weight = modules[name].weight
            weight += (scale * (b.float() @ a.float())).to(device=weight.device, dtype=weight.dtype)
    model.eval()
    return Generator(model, gen.tokenizer, gen.name, str(path), 0.0, gen.from_cache, {**gen.info, **(info or {})})
