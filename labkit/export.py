"""Leaving the kit with an adapter: a saved adapter written as folders other tools load without labkit.

What it holds:
- `export_merged`: a standard Hugging Face model folder: the LoRA merged into the base weights (float32 safetensors),
  the tokenizer, a generation config that stops at the end of a turn, and the chat template the kit trained with
  (for a ChatML model, the kit's own compact turns without SmolLM2's default system prompt, so
  `apply_chat_template` gives the prompt the adapter learned from). `transformers` loads it alone; vLLM serves it.
- `export_peft`: the plain PEFT adapter folder (adapter_config.json, adapter_model.safetensors) with the tokenizer and
  that chat template beside it; `base_model_name_or_path` names the base folder it was trained on (the dequantised
  embedded model in the cache, or the model id), which vLLM's `enable_lora` and `PeftModel.from_pretrained` read.
- `run_export`: `labkit export NAME --merged DIR --peft DIR`: every destination checked (free or --overwrite,
  writable, room) before any model loads; each folder written whole or not at all.

What it leaves out: saving and loading adapters inside the kit (`labkit.adapters`), converting to GGUF (llama.cpp's
own `convert_hf_to_gguf.py` reads the merged folder; the README says how), and quantising.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit.adapters import adapter_problem, adapters_dir, list_adapters, load_adapter
from labkit.model_cache import DEFAULT_GENERATOR
from labkit.models import load_generator
from labkit.storage import atomic_dir, check_name, room_problem

# the kit's ChatML turns (models.Generator.chat_prompt): no default system prompt, a system turn only when given
KIT_CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
EXPORT_INFO = "labkit_export.json"  # provenance beside the files: which adapter, which base, how it was trained
ROOM_SPARE = 2**20  # bytes kept beside the weights for the JSON and tokenizer headers


def saved_adapter(name: str, cache_dir: Path | None = None) -> tuple[Path, dict]:
    """A saved adapter's folder and its labkit.json, checked whole before any model loads.

    Example: saved_adapter("kettle-facts") -> (PosixPath('~/.cache/labkit/adapters/kettle-facts'), {"kind": "lora",
    ...}); an unknown name -> ValueError listing the saved adapters
    """
    check_name(name)
    path = adapters_dir(cache_dir) / name
    try:
        info = json.loads((path / "labkit.json").read_text())
    except (OSError, ValueError):
        info = None
    if not isinstance(info, dict):
        saved = ", ".join(list_adapters(cache_dir)) or "none yet (labkit finetune --save NAME makes one)"
        raise ValueError(f"No readable adapter named {name!r} in {path.parent}. Saved adapters: {saved}.")
    if (problem := adapter_problem(path, info.get("kind"))) is not None:
        raise ValueError(f"The adapter in {path} cannot be exported: {problem}. Save it again (labkit finetune "
                         "--save).")
    return path, info


def check_destination(folder, need: int, overwrite: bool = False) -> Path:
    """An export folder checked before anything loads: free (or overwrite), writable, with room; returns it resolved.

    Example: check_destination("/tmp/kettle-merged", 600_000_000) -> PosixPath('/tmp/kettle-merged')
    """
    target = Path(folder).expanduser().resolve()
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file: name a folder to export into (it is made).")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise ValueError(f"{target} is not empty; name a new folder, or replace it on purpose with --overwrite.")
    if target == Path.home().resolve() or target == Path(target.anchor) or (target / ".git").exists():
        raise ValueError(f"{target} is a home, root or repository folder; export into a folder of its own.")
    if (problem := room_problem(target.parent, need)) is not None:
        raise ValueError(f"cannot export into {target}: {problem}. Choose a folder you can write, with room.")
    return target


def chat_template_for(tokenizer) -> str | None:
    """The chat template a loader should use to prompt as the kit trained: the kit's ChatML turns (as
    Generator.chat_prompt writes them), else the model's own.
    Example: chat_template_for(load_generator().tokenizer) -> KIT_CHATML_TEMPLATE."""
    return KIT_CHATML_TEMPLATE if "<|im_start|>" in tokenizer.get_vocab() else getattr(tokenizer, "chat_template", None)


def _tokenizer_files(tokenizer, folder: Path) -> None:
    template = chat_template_for(tokenizer)
    if template is not None:
        tokenizer.chat_template = template
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(str(folder))


def export_merged(name: str, folder, gen=None, cache_dir: Path | None = None, overwrite: bool = False) -> Path:
    """A saved adapter as a standard Hugging Face model folder (LoRA merged into the base), loadable without labkit.

    Example: export_merged("kettle-facts", "/tmp/kettle-merged") -> PosixPath('/tmp/kettle-merged');
    AutoModelForCausalLM.from_pretrained("/tmp/kettle-merged") then answers as load_adapter("kettle-facts") does
    """
    import torch

    path, info = saved_adapter(name, cache_dir)
    gen = gen or load_generator(None if info.get("base") in (None, DEFAULT_GENERATOR) else info["base"])
    need = 4 * sum(p.numel() for p in gen.model.parameters()) + ROOM_SPARE
    target = check_destination(folder, need, overwrite)
    tuned = load_adapter(name, gen, cache_dir)
    model = tuned.model.merge_and_unload() if hasattr(tuned.model, "peft_config") else tuned.model
    model = model.to(torch.float32)
    with atomic_dir(target) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        _tokenizer_files(gen.tokenizer, tmp)
        config = model.generation_config
        config.eos_token_id = gen.tokenizer.convert_tokens_to_ids(gen.end_of_turn()) or gen.tokenizer.eos_token_id
        config.pad_token_id = gen.tokenizer.pad_token_id
        config.do_sample = False  # greedy, as the kit answers
        config.save_pretrained(str(tmp))
        (tmp / EXPORT_INFO).write_text(json.dumps({"adapter": name, "merged": True, "base": gen.source, **info},
                                                  indent=2, default=list))
    return target


def export_peft(name: str, folder, cache_dir: Path | None = None, overwrite: bool = False) -> Path:
    """A saved LoRA adapter as the plain PEFT folder, with the tokenizer and the kit's chat template beside it.

    Example: export_peft("kettle-facts", "/tmp/kettle-peft") -> PosixPath('/tmp/kettle-peft');
    PeftModel.from_pretrained(base, "/tmp/kettle-peft") then answers as load_adapter("kettle-facts") does
    Only the tokenizer is read from the base (no weights).
    """
    from transformers import AutoTokenizer

    path, info = saved_adapter(name, cache_dir)
    if info.get("kind") != "lora":
        raise ValueError(f"{name!r} is a full fine-tune, not a LoRA adapter: export it with --merged DIR.")
    config = json.loads((path / "adapter_config.json").read_text())
    base = config.get("base_model_name_or_path") or ""
    target = check_destination(folder, (path / "adapter_model.safetensors").stat().st_size + ROOM_SPARE, overwrite)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"the adapter's base {base!r} cannot be read on this machine ({str(exc)[:120]}): load it once "
                         "(labkit doctor), or export with --merged") from None
    with atomic_dir(target) as tmp:
        (tmp / "adapter_model.safetensors").write_bytes((path / "adapter_model.safetensors").read_bytes())
        (tmp / "adapter_config.json").write_text(json.dumps({**config, "inference_mode": True}, indent=2))
        _tokenizer_files(tokenizer, tmp)
        (tmp / EXPORT_INFO).write_text(json.dumps({"adapter": name, "merged": False, "base": base, **info}, indent=2,
                                                  default=list))
    return target


def run_export(name: str, merged: str | None = None, peft: str | None = None, overwrite: bool = False,
               cache_dir: Path | None = None) -> int:
    """`labkit export NAME --merged DIR --peft DIR`: the saved adapter written for other tools; returns an exit code.

    Example: run_export("kettle-facts", merged="/tmp/kettle-merged") prints where it went and how to load it; 0
    Every destination is checked before any model loads.
    """
    if not merged and not peft:
        raise ValueError("say where: --merged DIR (a whole model folder) and/or --peft DIR (the LoRA adapter folder)")
    _, info = saved_adapter(name, cache_dir)
    if merged and peft and Path(merged).expanduser().resolve() == Path(peft).expanduser().resolve():
        raise ValueError("--merged and --peft name the same folder: give each its own")
    if peft and info.get("kind") != "lora":
        raise ValueError(f"{name!r} is a full fine-tune, not a LoRA adapter: export it with --merged DIR.")
    for folder in (merged, peft):  # refused here, before the base model loads
        if folder:
            check_destination(folder, 0, overwrite)
    if peft:
        out = export_peft(name, peft, cache_dir=cache_dir, overwrite=overwrite)
        base = json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
        print(f"PEFT adapter: {out} (its base model: {base})")
    if merged:
        out = export_merged(name, merged, cache_dir=cache_dir, overwrite=overwrite)
        print(f"merged model: {out} (AutoModelForCausalLM.from_pretrained({str(out)!r}), no labkit needed)")
    print("Serving and training it elsewhere: the README's \"Next steps\".")
    return 0
