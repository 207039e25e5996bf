"""The reading adapter: a small LoRA whose only job is to read the numbered sources it is given.

The behaviour + facts idea in its purest form: fine-tune the *behaviour*, retrieve the *facts*.
The plain 135M model often answers a RAG prompt with a citation marker or an echo of the
question even when the right source is in front of it; this adapter is trained (RAFT-style,
arXiv 2403.10131) to pick the source that holds the answer among distractors, copy a short
phrase from it with its number, "$89 [2].", or say `ABSTAIN` when no source holds it.

Worked example (what one training example looks like):
    sources: [1] Lamp: ... costs $45 ...  [2] Kettle: ... costs $89 ...  [3] Returns: ...
    question: "How much does the Brimble Kettle cost?"  ->  target "$89 [2]."
    the same question with the kettle's chunks removed          ->  target "The sources do not say."

It is trained on the questions of two thirds of the knowledge base's documents (`data.split_documents`: split by
*document*: the scoreboard's unseen documents), so its score on the other third measures reading, not remembering;
beside them, on questions about two thirds of the documents of three other styles, manual pages, changelogs and FAQs
(`labkit.reader_mix`), so that it meets documents unlike the kit's. The shipped adapter lives in data/reader/ (rank 4,
~3.5 MB of safetensors) so a fresh machine has it without training; `labkit train-reader` re-makes it.

What it holds: `ReaderConfig`, `reader_examples`,
`train_reader`, `save_reader` / `load_reader` / `reader_for` (the shipped adapter, checked
against the base model's fingerprint), `is_abstention` / `is_empty_answer`,
`score_reader` (accuracy, abstentions and empty answers of one RAG system on one question set; with the misses split
into retrieval misses, reading misses and abstentions with the gold passage shown).
What it leaves out: every reader on several question sets (`labkit.reader_sets`), retrieval (`labkit.retrieval`),
prompting (`labkit.rag`), the training loop (`labkit.finetune.train`), reading the shipped records and the foreign
questions (`labkit.data`: `reader_info`, `load_reader_comparison`, `foreign_items`) and the README's tables of them
(`labkit.report`, `labkit.readme`).
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from labkit.adapters import merged_lora, with_lora
from labkit.config import DATA_DIR
from labkit.data import READER_DIR, UNSEEN_EVERY, reader_info
from labkit.evaluate import answer_variants, heldout_questions, is_right, shows_answer
from labkit.finetune import Example, make_config, train
from labkit.folder_index import index_folder
from labkit.models import GENERATE_BATCH, causal_lm
from labkit.rag import ABSTAIN, build_prompt, is_abstention, is_empty_answer, shown_words, sources_from_hits
from labkit.reader_mix import MIX_DIR, MIX_STYLES, mix_items, mix_split
from labkit.retrieval import Hit
from labkit.stats import wilson_interval
from labkit.storage import WRITE_ERRORS, WriteRefused, atomic_dir, write_error_reason


@dataclass
class ReaderConfig:
    # every 3rd document of each kind (sorted by id) is held out: none of its questions is trained on
    held_out_every: int = UNSEEN_EVERY
    # LoRA rank: 4 on the kit's five target layers is ~0.9M weights, ~3.5 MB in float32 (under 5 MB in git)
    rank: int = 4
    lr: float = 2e-3  # AdamW learning rate (the kit's LoRA default)
    # optimizer steps: ~3.5 epochs of the ~140 examples; 48 and 96 steps scored within 0.02 of each other
    num_steps: int = 64
    batch_size: int = 8  # examples per step
    abstain_share: float = 0.15  # training questions that also get an example without any gold source, answered ABSTAIN
    # an abstention example shows, where retrieval found one, a chunk of the question's own document that lacks the
    # answer (in a shuffled place): abstain because the answer is missing, not because the topic is
    abstain_near_gold: bool = False
    top_k: int = 3  # sources per prompt, as `labkit ask` shows them
    seed: int = 0  # seeds the adapter init, the source order and the abstain draw
    # tokens per training example at most: the knowledge base's are under 400, the mix's man pages and changelogs up to
    # ~1150 (their lines are dense with options, versions and addresses); batches pad to their longest, not to this
    max_len: int = 1200
    # other styles trained beside the knowledge base (`reader_mix.MIX_STYLES`, each with its third held out), as the
    # shipped adapter was: which adapter ships is decided on those held-out thirds
    # (benchmarks/bench_reader_candidate.py; its labkit.json names the command and seed that made it)
    mix_styles: tuple = MIX_STYLES


# ---------------------------------------------------------------- training examples


def reader_examples(gen, index, questions: list[dict], reader_config: ReaderConfig | None = None, unseen=()) -> list:
    """Training examples: the RAG prompt of each question's training wording and its target.

    Example: reader_examples(gen, index, qa[:1])[0].target -> "$89 [2].<|im_end|>"
    The sources are what retrieval returns, in a shuffled order (so the answer is not always
    [1]); if none of them shows the answer, the best chunk of a gold document that does
    replaces the last. For a share of the questions a second example shows only chunks
    without the answer and teaches ABSTAIN. Questions whose answer no chunk shows are skipped.
    No chunk of an `unseen` document is ever shown (not even as a distractor): their facts stay untaught.
    """
    reader_config = reader_config or ReaderConfig()
    rng = random.Random(reader_config.seed)
    end = gen.end_of_turn()
    unseen = set(unseen)
    hits = index.search_many([q["question"] for q in questions], max(reader_config.top_k * 4, 12) + 4 * len(unseen))
    examples = []
    for q, found in zip(questions, hits, strict=True):
        found = [h for h in found if h.chunk.doc_id not in unseen]
        accepted = answer_variants(q)
        holds = [h for h in found
                 if h.chunk.doc_id in q["doc_ids"] and shows_answer(shown_words(h.chunk.text), accepted)]
        if not holds:
            holds = [Hit(c, 0.0, 0) for c in index.chunks.values() if c.doc_id in q["doc_ids"]
                     and shows_answer(shown_words(c.text), accepted)]
        if not holds:
            continue
        chosen = found[: reader_config.top_k]
        if not any(h in holds for h in chosen):
            chosen = [*chosen[: reader_config.top_k - 1], holds[0]]
        chosen = rng.sample(chosen, len(chosen))
        sources = sources_from_hits(chosen)
        number = next(s.number for s, h in zip(sources, chosen, strict=True) if h in holds)
        prompt = gen.chat_prompt(build_prompt(q["question"], sources))
        examples.append(Example(prompt, f"{q['answer']} [{number}].{end}", "reader", q["id"]))
        if rng.random() < reader_config.abstain_share:
            lacking = [h for h in found if not shows_answer(shown_words(h.chunk.text), accepted)]
            others = [h for h in lacking if h.chunk.doc_id not in q["doc_ids"]]
            if reader_config.abstain_near_gold:  # one chunk of its own document among them, in a shuffled place
                pool = ([h for h in lacking if h.chunk.doc_id in q["doc_ids"]][:1] + others)[: reader_config.top_k]
                others = rng.sample(pool, len(pool))
            if len(others) >= reader_config.top_k:
                prompt = gen.chat_prompt(build_prompt(q["question"], sources_from_hits(others[: reader_config.top_k])))
                examples.append(Example(prompt, f"{ABSTAIN}{end}", "abstain", q["id"]))
    return examples


def train_reader(gen, index, questions: list[dict], reader_config: ReaderConfig | None = None, progress: bool = True,
                 unseen=(), mix=()):
    """Train the reading adapter on the trainable questions' examples (no chunk of an `unseen` document shown); returns
    (TrainResult, examples).
    Example: result, examples = train_reader(gen, index, trainable, unseen=held); result.train_s -> 540.2
    mix: more (index, questions, unseen) of other styles (`mix_sets`), their examples made the same way, each from its
    own index (the distractors are of the same style), shuffled in with the knowledge base's.
    """
    reader_config = reader_config or ReaderConfig()
    examples = reader_examples(gen, index, questions, reader_config, unseen)
    for other_index, other_questions, other_unseen in mix:
        examples += reader_examples(gen, other_index, other_questions, reader_config, other_unseen)
    train_config = make_config(rank=reader_config.rank, lr=reader_config.lr, num_steps=reader_config.num_steps,
                               batch_size=reader_config.batch_size, max_len=reader_config.max_len,
                               seed=reader_config.seed, fact_statements=0)
    return train(gen, examples, train_config, progress=progress), examples


# ---------------------------------------------------------------- the shipped adapter


def mix_sets(embedder, styles=MIX_STYLES) -> list[tuple]:
    """(index, trainable questions, held-out document ids) of each style of data/reader_mix, for train_reader's mix.

    Example: [len(qs) for _, qs, _ in mix_sets(embedder)] -> [64, 37]
    """
    out = []
    for style in styles:
        index = index_folder(MIX_DIR / style / "docs", embedder, progress=False)
        trained, held = mix_split(index.documents)
        out.append((index, [q for q in mix_items(MIX_DIR / style) if q["doc_ids"][0] in trained], held))
    return out


def base_fingerprint(gen) -> str:
    """A short hash of the base model: its shape and the first rows of its token embeddings.

    Example: base_fingerprint(load_generator()) -> "3f0c9a1e5b7d2c44"
    The adapter only makes sense on the weights it was trained on; this tells them apart
    without hashing all ~540 MB.
    """
    model = causal_lm(gen.model)
    model_config = model.config
    head = model.get_input_embeddings().weight[:16].detach().to("cpu", torch.float32).contiguous()
    shape = (
        f"{model_config.model_type}:{model_config.hidden_size}:{model_config.num_hidden_layers}:{model_config.vocab_size}")
    return hashlib.sha256(shape.encode() + head.numpy().round(4).tobytes()).hexdigest()[:16]


def save_reader(result, path: Path = READER_DIR, meta: dict | None = None) -> Path:
    """Save a trained reading adapter as safetensors plus labkit.json (base fingerprint, config, figures).

    Example: save_reader(result, meta={"train_questions": 120}) -> PosixPath('data/reader')
    A disk that refuses it (read-only, full) raises OSError saying what to do; nothing half-written is left.
    """
    path = Path(path).expanduser()
    try:
        _write_reader(result, path, meta)
    except WRITE_ERRORS as exc:
        reason = write_error_reason(exc)
        raise WriteRefused(f"could not save the reading adapter to {path} ({reason}): free some space there (or make "
                           "it "
                           "writable), or save it elsewhere (--out DIR); the trained model is still in memory",
                           reason) from exc
    return path


def _write_reader(result, path: Path, meta: dict | None) -> None:
    with atomic_dir(path) as tmp:
        result.gen.model.save_pretrained(tmp, safe_serialization=True)
        (tmp / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
        config_file = tmp / "adapter_config.json"
        config = json.loads(config_file.read_text())
        config["base_model_name_or_path"] = result.gen.name  # not this machine's cache path
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True))
        info = {"kind": "reader", "base": result.gen.name, "base_fingerprint": base_fingerprint(result.gen),
                "steps_done": result.steps_done, "train_s": round(result.train_s, 1), "tokens": result.tokens,
                "precision": result.precision, "trainable_params": result.trainable_params, **(meta or {})}
        (tmp / "labkit.json").write_text(json.dumps(info, indent=2))


def load_reader(gen, path: Path = READER_DIR, merged: bool = False):
    """A Generator with the reading adapter applied to a copy of `gen`; ValueError if it was trained on another base.

    Example: reader = load_reader(gen); RAG(index, reader).answer("Price of the kettle?").answer -> "$89 [1]."
    merged: its weights merged in without peft (`adapters.merged_lora`: `labkit ask` starts faster).
    """
    info = reader_info(path)
    mine = base_fingerprint(gen)
    if info.get("base_fingerprint") != mine:
        raise ValueError(f"The reading adapter in {path} was trained on {info.get('base')!r} (fingerprint "
                         f"{info.get('base_fingerprint')}), not on {gen.name!r} ({mine}); use --reader plain, or train "
                         "one for this model with `labkit train-reader --generator ...`.")
    return (merged_lora if merged else with_lora)(gen, path, {"reader": str(path)})


def reader_for(gen, reader: str = "adapter", path: Path = READER_DIR, merged: bool = False) -> tuple[object, str]:
    """(the generator to answer with, one line saying which reader it is). reader: "adapter" (default) or "plain".

    Example: reader_for(gen) -> (<Generator with the adapter>, "reader: the reading adapter (data/reader, rank 4)")
    A base model the shipped adapter does not fit falls back to the plain model, and says so. merged: load_reader's.
    """
    if reader not in ("adapter", "plain"):
        raise ValueError(f"--reader must be 'adapter' or 'plain' (got {reader!r}).")
    if reader == "plain":
        return gen, "reader: the plain model (--reader plain)"
    try:
        tuned = load_reader(gen, path, merged)
    except (ValueError, FileNotFoundError) as exc:
        return gen, f"reader: the plain model ({exc})"
    rank = reader_info(path).get("reader_config", {}).get("rank", "?")
    return tuned, f"reader: the reading adapter ({_short(path)}, rank {rank}; --reader plain turns it off)"


def _short(path: Path) -> str:
    path = Path(path)
    try:
        return path.relative_to(DATA_DIR.parent).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- scoring a reader

def score_reader(rag, items: list[dict], batch_size: int | None = None) -> dict:
    """One RAG system on one question set: right answers, abstentions, empty answers, answer seconds.

    Example: score_reader(RAG(index, reader), items)["accuracy"] -> 0.62
    items: dicts with "asked" (the question put), "answer" (None when no document holds it),
    "aliases" and "doc_ids". Answerable questions score by normalised match; an abstention
    on them is wrong. Unanswerable ones count only towards the abstention rates. "gold_shown": a source of a gold
    document showed the answer in the prompt (`evaluate.shows_answer`: its words, or the identifier verbatim), so the
    gold passage was there to read.
    """
    results = rag.answer_many([it["asked"] for it in items], batch_size or GENERATE_BATCH)
    records = []
    for it, r in zip(items, results, strict=True):
        answerable = it.get("answer") is not None
        accepted = answer_variants(it) if answerable else []
        gold = [s for s in r.sources if s.doc_id in it.get("doc_ids", [])]
        records.append({"id": it["id"], "question": it["asked"], "answer": r.answer, "expected": it.get("answer"),
                        "answerable": answerable,
                        "match": answerable and is_right(r.answer, accepted, it.get("rivals", ())),
                        "retrieved_gold": bool(gold),
                        "gold_shown": answerable and any(shows_answer(shown_words(s.text), accepted) for s in gold),
                        "abstained": is_abstention(r.answer), "empty": is_empty_answer(r.answer, it["asked"]),
                        "answer_kind": r.answer_kind, "cited_by": r.cited_by, "seconds": r.retrieve_s + r.generate_s,
                        "abstain_lead": r.abstain_lead, "term_share": r.term_share})
    return summarize_reader(records)


def _rate(hits: int, n: int) -> dict:
    low, high = wilson_interval(hits / n, n) if n else (0.0, 0.0)
    return {"rate": round(hits / n, 4) if n else None, "hits": hits, "n": n, "ci95": [round(low, 4), round(high, 4)]}


def summarize_reader(records: list[dict]) -> dict:
    """Rates with n and Wilson 95% intervals. Example: summarize_reader(records)["accuracy"] -> 0.62.

    A wrong answer to an answerable question is one of three misses (records that say whether the gold passage was
    shown): a retrieval miss (no source showed it), an abstention with it shown, or a reading miss (shown, misread).
    """
    answerable = [r for r in records if r["answerable"]]
    found = [r for r in answerable if r["retrieved_gold"]]
    not_found = [r for r in records if not r["answerable"] or not r["retrieved_gold"]]
    acc = _rate(sum(r["match"] for r in answerable), len(answerable))
    out = {
        "accuracy": acc["rate"], "n": acc["n"], "accuracy_95": acc["ci95"], "right": acc["hits"],
        "accuracy_gold_found": _rate(sum(r["match"] for r in found), len(found)),
        "abstain_gold_found": _rate(sum(r["abstained"] for r in found), len(found)),  # should be rare
        "abstain_no_answer": _rate(sum(r["abstained"] for r in not_found), len(not_found)),  # should be common
        "empty": _rate(sum(r["empty"] for r in records), len(records)),
        "cited_by_model": _rate(sum(r["cited_by"] == "model" for r in records), len(records)),
        "answer_p50_s": round(statistics.median(r["seconds"] for r in records), 3) if records else None,
        "records": records,
    }
    if all("gold_shown" in r for r in records):
        shown = [r for r in answerable if r["gold_shown"]]
        wrong = [r for r in answerable if not r["match"]]
        unanswerable = [r for r in records if not r["answerable"]]
        out.update({
            "gold_shown": _rate(len(shown), len(answerable)),
            "retrieval_misses": _rate(sum(not r["gold_shown"] for r in wrong), len(answerable)),
            "reading_misses": _rate(sum(r["gold_shown"] and not r["abstained"] for r in wrong), len(answerable)),
            "abstain_gold_shown": _rate(sum(r["abstained"] for r in shown), len(shown)),  # the target: <= 0.10
            "abstain_unanswerable": _rate(sum(r["abstained"] for r in unanswerable), len(unanswerable)),
            "quotes": _rate(sum(r.get("answer_kind") == "quote" for r in records), len(records)),
        })
    return out


def kb_items(questions: list[dict]) -> list[dict]:
    """The kit's questions as items for score_reader: the first held-out paraphrase of each.

    Example: kb_items(load_qa(1))[0]["asked"] -> "What is the price of the Brimble Kettle?"
    """
    return heldout_questions(questions, 1)
