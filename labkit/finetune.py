"""Fine-tuning: training examples from the knowledge base, a LoRA or full training loop.

What is here:
- `TrainConfig` and `make_config`: every training setting, and the one way to build a
  config from overrides (None keeps a default; any value given is validated, never replaced).
- `build_examples`: question/answer pairs in their training wording, statements of the
  facts (the `fact_statements` knob: how many of each question's `facts` to add) and,
  optionally, raw document text. The held-out paraphrases of data/qa.jsonl are never used.
  `chat_example` is the one way to turn a prompt and a reply into a training example.
- `encode` / `answer_labels`: an example's tokens in the compact chat format, loss on the answer tokens only
  (labels -100 elsewhere); the batches they go into are `labkit.batching`'s (length bucketing so
  that padding wastes little CPU, and replay: a share of every batch drawn from general text,
  data/general_text.jsonl).
- `train`: one plain PyTorch loop (AdamW) for LoRA (through peft) and
  for full fine-tuning, seeded, with a callback every N steps that notebooks, the widget
  and the command line share, a tqdm.auto progress bar, and a clean stop (Ctrl-C or a
  stop event) that keeps the weights of the last completed step. `first_step`: the parts of its first
  step (the model copy, the optimizer, the batch), for taking that step by hand (notebook 04).

What is left out: a step's parts (the answer-only loss, frozen weights in bf16, Ctrl-C held
during the update: `labkit.train_step`), which layers a LoRA adapts (`labkit.lora_targets`), quantised training
(QLoRA), gradient accumulation across steps (a batch of long rows is split within its step:
`labkit.batching.micro_batches`), multi-device training and learning-rate schedules beyond a short warm-up; scoring
while training (`labkit.forgetting`), saving and loading adapters (`labkit.adapters`), LoRA on one
layer by hand (`labkit.lora_demo`) and the `labkit finetune` command (`labkit.cli`). The loop
never touches the base model it is given: it trains a copy.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field

from labkit.batching import collate, iter_batches, micro_batches, padding_waste
from labkit.config import KB_DIR, progress_bars, set_seed
from labkit.data import load_general_text
from labkit.documents import load_folder
from labkit.limits import check
from labkit.lora_targets import RECIPE_TARGETS, lora_targets
from labkit.models import Generator, causal_lm, resolve_precision
from labkit.train_step import FrozenInBf16, answer_loss, defer_sigint


@dataclass
class TrainConfig:
    method: str = "lora"  # "lora": train small low-rank adapters (peft); "full": train every weight
    rank: int = 16  # LoRA rank r: each adapted matrix W gets W + (alpha / r) * B @ A, with A: r x in, B: out x r
    alpha: float | None = None  # LoRA scale numerator; None means 2 * rank (scale 2)
    dropout: float = 0.0  # LoRA dropout on the adapter input (0 keeps runs deterministic and fast)
    # which linear layers get adapters, by name; a model without all of them (GPT-NeoX, GPT-2, Phi, ...) gets every
    # linear layer of its blocks instead (lora_targets)
    target_modules: tuple = RECIPE_TARGETS
    lr: float = 2e-3  # AdamW learning rate, for LoRA and full alike (full usually wants ~1e-5)
    num_steps: int = 24  # optimizer steps
    batch_size: int = 8  # examples per step (domain + replay)
    num_warmup_steps: int = 2  # linear warm-up of the learning rate over the first steps
    weight_decay: float = 0.0  # AdamW weight decay
    fact_statements: int = 1  # how many of each question's fact statements are trained beside its QA pair (0 to 4)
    include_docs: bool = False  # also train on the raw text of the documents the questions come from
    replay: float = 0.0  # share of every batch drawn from general text (0 to 0.9)
    max_len: int = 96  # examples longer than this many tokens are cut (document chunks mostly)
    seed: int = 0  # seeds the adapter init, the example order and the replay draw
    # attention kernel while training: with bfloat16, "eager" ran 1.06-1.09x "sdpa" on CPU (sdpa's bf16 backward is
    # slow; benchmarks/bench_train_variants.py)
    attention: str = "eager"
    # "bfloat16": matmuls under autocast (weights, adapters, optimizer stay float32), 1.4-1.7x on this CPU; "auto":
    # bfloat16 where the hardware has bf16 matmuls, else "float32"
    precision: str = "auto"

    def __post_init__(self):
        if self.method not in ("lora", "full"):
            raise ValueError(f"method must be 'lora' or 'full', not {self.method!r}")
        # the ranges are labkit.limits' (one table for the command line, compare --set and this); num_steps is
        # checked here, before train() plans a single step
        for name in ("rank", "lr", "num_steps", "batch_size", "replay", "fact_statements"):
            check(name, getattr(self, name))
        if self.attention not in ("eager", "sdpa"):
            raise ValueError(f"attention must be 'eager' or 'sdpa', not {self.attention!r}")
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', not {self.precision!r}")

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha if self.alpha is not None else 2 * self.rank)


def make_config(base: TrainConfig | None = None, **overrides) -> TrainConfig:
    """A TrainConfig from a base (default: TrainConfig()) with the given values; None keeps the base's value.

    Example: make_config(rank=4, lr=None).rank -> 4 (lr stays 0.002); make_config(rank=0) -> ValueError
    The one way configs are built from settings (command line, widget, sweep, experiment):
    a value given is validated by TrainConfig, never swapped for a default.
    """
    return dataclasses.replace(base or TrainConfig(), **{k: v for k, v in overrides.items() if v is not None})


# ---------------------------------------------------------------- training examples


@dataclass
class Example:
    """One training example: a prompt (no loss) and a target (loss on every token of it)."""

    prompt: str  # chat prompt text ("" for plain statements and document text)
    target: str  # what the model learns to write
    kind: str  # "qa", "fact", "doc" or "general"
    source: str = ""  # qa id, document id or general-text id


def chat_example(gen, prompt: str, target: str, kind: str, source: str = "") -> Example:
    """A chat training example: the prompt as a user turn, the target as the assistant's reply closed by end-of-turn.

    Example: chat_example(gen, "Price?", "$89", "qa").target -> "$89<|im_end|>"
    """
    return Example(gen.chat_prompt(prompt), f"{target}{gen.end_of_turn()}", kind, source)


def build_examples(gen, questions: list[dict], fact_statements: int = 1, include_qa: bool = True,
                   include_docs: bool = False) -> list[Example]:
    """Training examples for a list of qa.jsonl records; the held-out paraphrases are never used.

    Example: build_examples(gen, qa[:1], fact_statements=1) -> [Example(prompt="<|im_start|>user\\nHow much does
    the Brimble Kettle cost?...", target="$89<|im_end|>", kind="qa"), Example(prompt="", target="The Brimble Kettle
    costs $89.", kind="fact")]
    """
    examples = []
    for q in questions:
        if include_qa:
            examples.append(chat_example(gen, q["question"], q["answer"], "qa", q["id"]))
        for fact in q.get("facts", [])[: max(0, int(fact_statements))]:
            examples.append(Example("", fact, "fact", q["id"]))
    if include_docs:
        examples += doc_examples({d for q in questions for d in q.get("doc_ids", [])})
    return examples


def doc_examples(doc_ids, documents=None, words_per_chunk: int = 60) -> list[Example]:
    """Plain-text pieces of knowledge-base documents, `words_per_chunk` words each (Markdown front matter dropped).

    Example: doc_examples({"policy-returns"})[0].kind -> "doc"
    `documents` defaults to the knowledge base as `labkit.corpus` reads it.
    """
    by_id = {d.id: d for d in (documents if documents is not None else load_folder(KB_DIR).documents)}
    out = []
    for doc_id in sorted(doc_ids):
        if doc_id not in by_id:
            continue
        text = by_id[doc_id].text
        if text.startswith("---"):
            text = text.split("---", 2)[-1]
        words = text.split()
        for i in range(0, len(words), words_per_chunk):
            out.append(Example("", " ".join(words[i : i + words_per_chunk]), "doc", doc_id))
    return out


def general_examples(gen, rows: list[dict] | None = None) -> list[Example]:
    """General chat pairs as training examples for replay. Example: general_examples(gen)[0].kind -> "general"."""
    rows = load_general_text() if rows is None else rows
    return [chat_example(gen, r["question"], r["answer"], "general", r["id"]) for r in rows]


def answer_labels(prompt_ids: list[int], answer_ids: list[int]) -> tuple[list[int], list[int]]:
    """The ids a training example feeds the model, and its labels: -100 (no loss) under every prompt token, the answer's
    own ids after. Example: answer_labels([5, 6], [7, 8]) -> ([5, 6, 7, 8], [-100, -100, 7, 8])
    The model is asked to predict the answer, never the question it is given: the question is there at answer time.
    """
    return list(prompt_ids) + list(answer_ids), [-100] * len(prompt_ids) + list(answer_ids)


def check_answers_fit(rows: list[dict], max_len: int) -> None:
    """Refuse encoded examples (`encode`'s rows) that kept no token of their answer.

    Example: check_answers_fit([encode(tok, Example("word " * 900, "$89", "qa"), 640)], 640) -> ValueError
    `encode` keeps an example's start: a prompt of max_len tokens or more leaves it no answer, and a batch of such
    examples has no token to learn from (its loss is 0/0: nan). Documents (an empty prompt) are cut and still trained
    on.
    """
    cut = sum(1 for r in rows if all(label == -100 for label in r["labels"]))
    if cut:
        raise ValueError(f"{cut} of {len(rows)} training examples have a prompt of max_len ({max_len} tokens) or "
                         "more, so no token of their answer would be trained on: raise max_len, or shorten their "
                         "prompts (fewer or shorter sources).")


def encode(tokenizer, example: Example, max_len: int = 96) -> dict:
    """Token ids and labels of one example; labels are -100 on the prompt.
    Example: -> {"input_ids": [...], "labels": [-100, ..., 3, 13]}."""
    p = tokenizer(example.prompt, add_special_tokens=False)["input_ids"] if example.prompt else []
    t = tokenizer(example.target, add_special_tokens=False)["input_ids"]
    ids, labels = answer_labels(p, t)
    return {"input_ids": ids[:max_len], "labels": labels[:max_len], "kind": example.kind}


# ---------------------------------------------------------------- models


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts. Example: count_parameters(lora_model) -> (1_843_200, 136_358_208)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def prepare_model(gen, train_config: TrainConfig):
    """A trainable copy of the generator: LoRA-wrapped or fully trainable; the given model is never changed. A generator
    that already carries a LoRA adapter gets that adapter trained further (train_config's rank is then unused).

    Example: prepare_model(gen, TrainConfig(rank=4)).model -> PeftModelForCausalLM (base weights frozen)
    """
    set_seed(train_config.seed)
    model = copy.deepcopy(gen.model)
    # an adapter already: train it further (e.g. on changed facts)
    if train_config.method == "lora" and hasattr(model, "peft_config"):
        for name, p in model.named_parameters():
            p.requires_grad_("lora_" in name)
    elif train_config.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=int(train_config.rank), lora_alpha=train_config.lora_alpha, lora_dropout=float(train_config.dropout),
            target_modules=lora_targets(model, train_config.target_modules), bias="none", task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    return Generator(model, gen.tokenizer, gen.name, gen.source, 0.0, gen.from_cache,
                     {**gen.info, "method": train_config.method})


def _optimizer(params, train_config: TrainConfig):
    """AdamW and its linear warm-up: the learning rate is already the first step's when it is made."""
    import torch

    opt = torch.optim.AdamW(params, lr=train_config.lr, weight_decay=train_config.weight_decay)
    warm = max(1, int(train_config.num_warmup_steps))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm))


@dataclass
class FirstStep:
    """What `train` uses for its first step, for taking that step by hand."""

    gen: Generator  # a fresh trainable copy, made as train() makes it (the same seed: the same adapter at the start)
    optimizer: object  # AdamW over its trainable weights, at the learning rate of train()'s first step (warm-up)
    batch: dict  # train()'s first batch, collated: input_ids, attention_mask, labels (-100 on prompts and padding)
    rows: list  # that batch's encoded rows (input_ids, labels, kind)


def first_step(gen, examples: list[Example], train_config: TrainConfig | None = None) -> FirstStep:
    """The parts of `train`'s first step on these examples: the model copy, its optimizer and the first batch.

    Example: parts = first_step(gen, examples); plain_step(parts.gen.model, parts.optimizer, parts.batch) -> 2.31
    A step taken by hand on them gives train()'s first step with this config (run it with precision="float32": the hand
    step has no bf16 autocast). Replay is left out: with replay 0 the first batch is train()'s.
    """
    train_config = train_config or TrainConfig()
    mg = prepare_model(gen, train_config)
    causal_lm(mg.model).set_attn_implementation(train_config.attention)
    mg.model.train()
    set_seed(train_config.seed)
    rows = [encode(mg.tokenizer, e, train_config.max_len) for e in examples]
    # the whole run's plan, as train() draws it (its first bucket is sorted by length over several steps)
    first = next(iter_batches(rows, [], int(train_config.num_steps), int(train_config.batch_size), 0.0,
                              train_config.seed))
    pad = mg.tokenizer.pad_token_id if mg.tokenizer.pad_token_id is not None else mg.tokenizer.eos_token_id
    opt, _ = _optimizer([p for p in mg.model.parameters() if p.requires_grad], train_config)
    return FirstStep(mg, opt, collate(first, pad), first)


@dataclass
class TrainResult:
    """What a run returns: the trained generator, its history and how it ended."""

    gen: object  # a Generator holding the trained copy (peft-wrapped for LoRA)
    config: TrainConfig
    history: list = field(default_factory=list)  # dicts: step, loss, seconds, tokens, plus what the callback added
    steps_done: int = 0  # optimizer steps completed (the model holds the weights of this step)
    interrupted: bool = False  # True if Ctrl-C or the stop event ended the run early
    message: str = ""  # one line saying how the run ended
    seconds: float = 0.0  # wall time of the whole run, callbacks included
    train_s: float = 0.0  # wall time of the optimizer steps alone
    tokens: int = 0  # real (non-padding) tokens processed
    padding_waste: float = 0.0  # share of padded slots in the batches
    precision: str = "float32"  # the matmul precision the run used ("auto" resolved)
    trainable_params: int = 0
    total_params: int = 0
    num_examples: int = 0


def train(gen, examples: list[Example], train_config: TrainConfig | None = None, general: list[Example] | None = None,
          callback=None, every: int = 0, stop=None, progress: bool = True) -> TrainResult:
    """Fine-tune a copy of `gen` on the examples; returns a TrainResult holding the trained copy.

    Example: train(gen, build_examples(gen, qa[:8]), TrainConfig(num_steps=10)).history[-1]["loss"] -> 0.9
    `callback(record, model_gen)` runs before the first step, every `every` steps and after the
    last; a dict it returns is merged into that step's history record. `stop` is any object
    with `is_set()` (a threading.Event): when set, the run ends after the current step.
    Ctrl-C does the same; either way the model keeps the weights of the last completed step.
    """
    import torch
    from tqdm.auto import tqdm

    train_config = train_config or TrainConfig()
    t_start = time.perf_counter()
    # encoded before any model work (prepare_model's copy shares gen's tokenizer), so a refusal costs nothing
    domain_rows = [encode(gen.tokenizer, e, train_config.max_len) for e in examples]
    general_rows = [encode(gen.tokenizer, e, train_config.max_len) for e in (general or [])]
    check_answers_fit(domain_rows, train_config.max_len)
    mg = prepare_model(gen, train_config)
    model, tok = mg.model, mg.tokenizer
    device = next(model.parameters()).device
    answering_attention = causal_lm(model).config._attn_implementation  # generation keeps its kernel
    causal_lm(model).set_attn_implementation(train_config.attention)
    precision = resolve_precision(train_config.precision, device.type)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    frozen = FrozenInBf16(model, enabled=precision == "bfloat16")
    set_seed(train_config.seed)
    # the plan is drawn a bucket at a time as the steps reach it; its padding share is counted on a second, identical
    # draw
    plan_args = (domain_rows, general_rows, int(train_config.num_steps), int(train_config.batch_size),
                 float(train_config.replay), train_config.seed)
    plan, n = iter_batches(*plan_args), int(train_config.num_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = _optimizer(params, train_config)
    trainable, total = count_parameters(model)
    result = TrainResult(mg, train_config, trainable_params=trainable, total_params=total, num_examples=len(examples),
                         padding_waste=round(padding_waste(iter_batches(*plan_args)), 4), precision=precision)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    last_loss = float("nan")

    def record(step, extra=True):
        rec = {"step": step, "loss": None if math.isnan(last_loss) else round(last_loss, 4),
               "seconds": round(time.perf_counter() - t_start, 2), "tokens": result.tokens}
        if callback is not None and extra:
            more = callback(dict(rec), mg)
            if isinstance(more, dict):
                rec.update(more)
            rec["seconds"] = round(time.perf_counter() - t_start, 2)
        result.history.append(rec)
        return rec

    bar = tqdm(total=n, desc=f"{train_config.method} training", disable=not progress_bars(progress), leave=False)
    try:
        record(0)
        for step, rows in enumerate(plan, 1):
            if stop is not None and stop.is_set():
                result.interrupted = True
                break
            t0 = time.perf_counter()
            model.train()
            with frozen.swapped():
                loss = 0.0
                for part, share in micro_batches(rows):  # one part, the whole batch, unless its rows are long
                    with autocast:
                        part_loss = answer_loss(model, {k: v.to(device) for k, v in collate(part, pad).items()})
                    (part_loss * share if share != 1.0 else part_loss).backward()
                    loss = loss + part_loss.detach() * share
            with defer_sigint():
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                result.steps_done = step
                result.tokens += sum(len(r["input_ids"]) for r in rows)
                last_loss = float(loss.detach())
            result.train_s += time.perf_counter() - t0
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.3f}")
            if (every and step % every == 0) or step == n:
                record(step)
        if result.interrupted and result.history[-1]["step"] != result.steps_done:
            record(result.steps_done)
    except KeyboardInterrupt:
        result.interrupted = True
        if result.history[-1]["step"] != result.steps_done:
            record(result.steps_done, extra=False)
    finally:
        bar.close()
        causal_lm(model).set_attn_implementation(answering_attention)
        model.eval()
    result.seconds = time.perf_counter() - t_start
    if result.interrupted:
        result.message = (
            f"Stopped after step {result.steps_done} of {n}: the model keeps the weights of step {result.steps_done}."
        )
    else:
        result.message = f"Finished {n} steps in {result.seconds:.0f} s."
    return result


