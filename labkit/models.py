"""Models: the generator (a small instruct LM) and the embedder, and how to talk to them.

`load_generator` loads the embedded SmolLM2 (through the model cache, `labkit.model_cache`), a .gguf file (cached
the same way), or any model id or local model folder; `load_embedder` the embedded all-MiniLM-L6-v2 or any other.
Small shared helpers live here because every track needs them: `Generator.count_tokens` / `Generator.prompt_ids`
(token counting, memoised per model), `causal_lm` (the model under a peft wrapper), `embedding_dim`,
`resolve_precision` and `bf16_instructions` (keeping the libraries' bars and warnings out of a command's output is
`labkit.quiet`'s).
A model folder that would run its own code (auto_map) is refused (`remote_code_problem`). Weights stay float32;
answering and scoring run their matmuls in bfloat16 where the hardware has them (`Generator.inference`). What is
left out: finding the embedded files, dequantising and the cache's checks (`labkit.model_cache`), quantised weights,
sampling tricks, streaming, and the one empty-question check (`labkit.question_check`).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from labkit.config import check_device, get_config, progress_bars
from labkit.model_cache import DEFAULT_EMBEDDER, DEFAULT_GENERATOR, ModelNotAvailableError, embedder_dir, load_gguf
from labkit.question_check import check_question


def causal_lm(model):
    """The transformers model under a peft wrapper (LoRA layers stay inside it).
    Example: causal_lm(peft_model).lm_head."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def embedding_dim(embedder) -> int:
    """Length of the embedder's vectors. Example: embedding_dim(load_embedder()) -> 384."""
    get = getattr(embedder, "get_embedding_dimension", None) or embedder.get_sentence_embedding_dimension
    return int(get())


# Answers per generation batch. Decoding a 135M model is bound by per-step overhead (some 600
# small kernels per token), not by arithmetic: a batch of 32 costs little more per step than
# a batch of 8: against batches of 8 in question order, evaluation ran 2.2x faster closed-book
# and 1.7x with RAG prompts, with identical greedy answers (benchmarks/bench_generate.py,
# 59 questions, 2 cores, 2026-12-02). Length-sorted batches keep the padding small.
GENERATE_BATCH = 32


@dataclass
class Generator:
    """A causal LM with its tokenizer, and the compact chat format labkit uses everywhere."""

    model: object  # a transformers PreTrainedModel (possibly wrapped by peft)
    tokenizer: object  # its tokenizer, padding on the left for batched generation
    name: str  # what was asked for: "smollm2-135m-instruct", a model id or a path
    source: str  # where the weights came from (file or directory)
    load_s: float = 0.0  # wall time of the load
    from_cache: bool = False  # True when the safetensors cache was used
    info: dict = field(default_factory=dict)
    _prompt_ids: dict = field(default_factory=dict, repr=False)  # question -> chat-prompt token ids (see prompt_ids)
    # matmuls when answering: "auto", "float32" or "bfloat16"
    precision: str = field(default_factory=lambda: get_config().precision)

    @contextlib.contextmanager
    def inference(self):
        """The context every answer and score runs in: no gradients, and bf16 matmuls where `precision` resolves to
        them.

        Example: with gen.inference(): logits = gen.model(input_ids=ids).logits
        Weights stay float32 (training shares them). Autocast casts a weight that requires grad once per context
        but a frozen one (a LoRA's base) at every call, so a LoRA's frozen weights are marked trainable for the
        duration (no_grad: nothing is recorded) and put back after: its answers 1.25-1.4x faster.
        """
        import torch

        device = next(self.model.parameters()).device
        # before entering anything: a bad value leaves no state behind
        bf16 = resolve_precision(self.precision, device.type) == "bfloat16"
        frozen = [p for p in self.model.parameters() if bf16 and p.is_floating_point() and not p.requires_grad]
        try:
            for p in frozen:
                p.requires_grad_(True)
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                yield
        finally:
            for p in frozen:
                p.requires_grad_(False)

    @property
    def chatml(self) -> bool:
        """True for ChatML models (SmolLM2): we then write the compact format ourselves. Cached: get_vocab() is slow."""
        if "chatml" not in self.info:
            self.info["chatml"] = "<|im_start|>" in self.tokenizer.get_vocab()
        return self.info["chatml"]

    @property
    def max_context(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)

    def chat_prompt(self, question: str, system: str | None = None) -> str:
        """The prompt for one user turn, ready for the assistant's answer.

        Example: chat_prompt("Hi") -> "<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n"
        SmolLM2's own template adds a default system prompt; we leave it out (shorter, faster).
        """
        if self.chatml:
            head = f"<|im_start|>system\n{system}<|im_end|>\n" if system else ""
            return f"{head}<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # a base model: plain completion (prompts skip special tokens, so bos here)
        return f"{self.tokenizer.bos_token or ''}Question: {question}\nAnswer:"

    def count_tokens(self, text: str) -> int:
        """Tokens of a text as the model reads it (no special tokens added).
        Example: gen.count_tokens("Hello world") -> 2."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, question: str) -> list[int]:
        """Token ids of a question's chat prompt, memoised on this generator (scoring asks the same items every few
        steps).

        Example: gen.prompt_ids("Hi")[:1] -> [1]  (the <|im_start|> token)
        """
        if question not in self._prompt_ids:
            if len(self._prompt_ids) > 20000:
                self._prompt_ids.clear()
            self._prompt_ids[question] = self.tokenizer(self.chat_prompt(question),
                                                        add_special_tokens=False)["input_ids"]
        return self._prompt_ids[question]

    def end_of_turn(self) -> str:
        """The text that closes an assistant turn. Example: '<|im_end|>' for ChatML models."""
        if self.chatml:
            return "<|im_end|>"
        return self.tokenizer.eos_token or ""

    def answer_batch(self) -> int:
        """Answers per generation batch: GENERATE_BATCH on a CPU; on a GPU as many (32 to 512) as a quarter of its free
        memory holds as bf16 key/value cache of a full-length prompt and answer.
        Example: gen.answer_batch() -> 32 on a CPU; 512 for SmolLM2-135M on an 80 GB GPU"""
        import torch

        device = next(self.model.parameters()).device
        if device.type != "cuda":
            return GENERATE_BATCH
        c, kit = causal_lm(self.model).config, get_config()
        h = c.num_attention_heads
        kv = (getattr(c, "num_key_value_heads", None) or h) * (getattr(c, "head_dim", None) or c.hidden_size // h)
        per_answer = 2 * 2 * c.num_hidden_layers * kv * (kit.max_prompt_tokens + kit.max_new_tokens_limit)  # K and V
        return int(min(512, max(GENERATE_BATCH, torch.cuda.mem_get_info(device)[0] // 4 // per_answer)))

    def generate(self, prompts, max_new_tokens: int = 48, batch_size: int = GENERATE_BATCH, chat: bool = True,
                 system: str | None = None, progress: bool = True, length_sorted: bool = True, processor_for=None):
        """Greedy answers to one prompt or a list of them.

        Example: gen.generate("What is the capital of France?") -> "The capital of France is Paris."
        With chat=True each prompt is a user message wrapped in the chat format; with
        chat=False it is passed as it is. Prompts longer than the limit keep their end.
        More than one batch shows a progress bar with an ETA (tqdm.auto: a widget in a notebook).
        length_sorted batches prompts of similar length together (answers come back in the
        order asked): left padding is wasted work in the prompt pass, most of a RAG answer's cost.
        processor_for(prompt indices, padded prompt length) -> a logits processor for that batch, or None
        (`extractive.span_processor`: answers copied from their sources).
        """
        from tqdm.auto import tqdm

        if batch_size == GENERATE_BATCH:  # the kit's default: a GPU takes as many as its memory holds
            batch_size = self.answer_batch()
        single = isinstance(prompts, str) or prompts is None
        prompts = [prompts] if single else list(prompts)
        prompts = [check_question(p) for p in prompts]
        kit = get_config()
        max_new_tokens = max(1, min(int(max_new_tokens), kit.max_new_tokens_limit))
        texts = [self.chat_prompt(p, system) if chat else p for p in prompts]
        limit = min(kit.max_prompt_tokens, self.max_context - max_new_tokens)
        tok = self.tokenizer
        tok.padding_side = "left"
        tok.truncation_side = "left"
        answers = []
        self.model.eval()
        device = next(self.model.parameters()).device
        order = list(range(len(texts)))
        if length_sorted and len(texts) > batch_size:
            lengths = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
            order.sort(key=lambda i: lengths[i])
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc="answering", unit="batch",
                          disable=not progress_bars(progress) or len(starts) < 2, leave=False):
            chosen = [texts[i] for i in order[start : start + batch_size]]
            batch = tok(chosen, return_tensors="pt", padding=True, truncation=True, max_length=limit,
                        add_special_tokens=False)
            batch = {k: v.to(device) for k, v in batch.items()}
            processor = processor_for and processor_for(order[start : start + batch_size], batch["input_ids"].shape[1])
            with self.inference():
                out = self.model.generate(
                    **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id,
                    logits_processor=[processor] if processor else None,
                    eos_token_id=tok.convert_tokens_to_ids(self.end_of_turn()) if self.end_of_turn()
                    else tok.eos_token_id,
                )
            new = out[:, batch["input_ids"].shape[1] :]
            answers += [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]
        in_order = [""] * len(texts)
        for i, answer in zip(order, answers, strict=True):
            in_order[i] = answer
        return in_order[0] if single else in_order


def resolve_precision(precision: str, device_type: str = "cpu") -> str:
    """What "auto" means here: "bfloat16" where matmuls have bf16 hardware (AVX512-BF16 or AMX CPUs, CUDA GPUs that
    support it), else "float32" (on other CPUs bf16 matmuls are emulated and slower).
    Example: resolve_precision("auto") -> "bfloat16"
    """
    import torch

    if precision not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16' (LABKIT_PRECISION), not {precision!r}")
    if precision != "auto":
        return precision
    if device_type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if device_type == "cpu" and bf16_instructions() else "float32"


def bf16_instructions() -> str:
    """The CPU's bf16 matmul instructions as torch sees them ("AVX512-BF16", "AMX", both), or "" when it has none.
    Example: bf16_instructions() -> "AVX512-BF16"
    """
    import torch

    # private but stable since torch 2.3; absent means no
    probes = {"AVX512-BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported"}
    return " and ".join(name for name, probe in probes.items() if getattr(torch.cpu, probe, lambda: False)())


def _set_threads() -> None:
    import os

    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, os.cpu_count() or 1))


def _prepare_tokenizer(tokenizer) -> None:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"


def load_generator(name: str | None = None, cache_dir: Path | None = None, device: str | None = None) -> Generator:
    """Load the generator: the embedded SmolLM2 by default, or any model id, local model folder or .gguf file.

    Example: gen = load_generator(); gen.generate("Say hi") -> "Hi! How can I help you today?"
    The first load of the default dequantises the GGUF (~10 s on one thread) and saves safetensors
    in the cache; later loads read the cache (~3 s). Offline, an unknown id raises
    ModelNotAvailableError with what to do.
    """
    _set_threads()
    kit = get_config()
    device = check_device(device or kit.device)
    t0 = time.perf_counter()
    gguf_file = Path(str(name)).expanduser() if str(name or "").lower().endswith(".gguf") else None
    if gguf_file is not None and not gguf_file.is_file():
        raise ModelNotAvailableError(f"No GGUF file at {gguf_file}. Give the path of a .gguf file, a model folder or a "
                                     "model id.")
    # a GGUF file: dequantised once, cached as safetensors
    if name in (None, "", DEFAULT_GENERATOR) or gguf_file is not None:
        tokenizer, model, source, from_cache = load_gguf(gguf_file, cache_dir)
        name = DEFAULT_GENERATOR if gguf_file is None else str(gguf_file)
    else:
        tokenizer, model = _load_named(name, device)
        source, from_cache = name, False
    _prepare_tokenizer(tokenizer)
    model.to(device)
    model.eval()
    return Generator(model, tokenizer, name, source, time.perf_counter() - t0, from_cache)


REMOTE_CODE = ("it needs remote code (trust_remote_code): {why}, and labkit never runs code that comes with a model. "
               "Use a model whose architecture transformers has built in (its config.json without \"auto_map\"), "
               f"or the default, {DEFAULT_GENERATOR!r}.")


def remote_code_problem(folder) -> str | None:
    """Why a model folder would run its own Python code when loaded (an "auto_map" in its config), or None.

    Example: remote_code_problem("models/phi-custom")
        -> 'its config.json maps AutoModelForCausalLM to modeling_x.XModel, ...'
    """
    for file in ("config.json", "tokenizer_config.json"):
        try:
            auto_map = json.loads((Path(folder) / file).read_text()).get("auto_map")
        except (OSError, ValueError, AttributeError):
            continue  # missing or unreadable: transformers says so when it loads the folder
        if auto_map:
            first, target = next(iter(auto_map.items())) if isinstance(auto_map, dict) else ("a class", auto_map)
            target = next((t for t in target if t), "?") if isinstance(target, list) else target
            return REMOTE_CODE.format(why=f"its {file} maps {first} to {target}, Python code shipped in the folder")
    return None


def _load_named(name: str, device: str):
    """Load a model id or local path, turning hub errors into one clear message. Code shipped with a model never
    runs."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(name).expanduser()
    looks_like_path = path.exists() or name.startswith((".", "/", "~"))
    if looks_like_path and not path.is_dir():
        raise ModelNotAvailableError(f"No model directory at {path}. Give a directory saved with save_pretrained(), or "
                                     "a model id.")
    # refused before transformers reads it (it would ask to run it)
    if looks_like_path and (why := remote_code_problem(path)):
        where = "" if str(path) == name else f" ({path})"
        raise ModelNotAvailableError(f"Cannot load generator {name!r}{where}: {why}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path) if looks_like_path else name, trust_remote_code=False)
        dtype = "auto" if device == "cuda" else None
        model = AutoModelForCausalLM.from_pretrained(str(path) if looks_like_path else name, dtype=dtype,
                                                     trust_remote_code=False)
    except (OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if "trust_remote_code" in str(exc) or "custom code" in str(exc):  # a cached hub model with its own code
            how = REMOTE_CODE.format(why="transformers says it ships its own Python code")
        elif looks_like_path:
            how = ("The folder is not a model transformers can load: it needs config.json, the tokenizer's files and "
                   "the weights "
                   "(model.safetensors), as save_pretrained() writes them.")
        else:
            how = ("It is not in the local Hugging Face cache and labkit runs offline. Download it once with "
                   "LABKIT_ONLINE=1 (network needed), or pass the path of a local model directory. "
                   f"The default, {DEFAULT_GENERATOR!r}, needs no network.")
        raise ModelNotAvailableError(f"Cannot load generator {name!r}. {how} (details: {detail})") from None
    return tokenizer, model


def load_embedder(name: str | None = None, device: str | None = None):
    """Load the sentence embedder: the embedded all-MiniLM-L6-v2 by default.

    Example: load_embedder().encode(["hello"]).shape -> (1, 384)
    """
    from sentence_transformers import SentenceTransformer

    _set_threads()
    device = check_device(device or get_config().device)
    if name in (None, "", DEFAULT_EMBEDDER):
        return SentenceTransformer(str(embedder_dir()), device=device)
    try:
        return SentenceTransformer(name, device=device)
    except (OSError, ValueError) as exc:
        raise ModelNotAvailableError(
            f"Cannot load embedder {name!r}: not a local directory and not in the Hugging Face cache, and labkit runs "
            f"offline. Use LABKIT_ONLINE=1 to download it once, or the default {DEFAULT_EMBEDDER!r}. "
            f"(details: {str(exc).splitlines()[0][:200]})"
        ) from None
