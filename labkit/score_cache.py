"""Scores that cannot change, kept: a base model's multiple-choice scores, computed once per cache and reused.

Every notebook and several tests score the untouched base model on the same general probe (120 items, ~9 s on one
core) before they train anything; its log-probabilities are the same every time, so `cached_scores` keeps them in
LABKIT_CACHE/scores/ under a key of everything they depend on: the weights themselves (`weights_fingerprint`, so a
full fine-tune, whose weights changed, gets its own key), the tokenizer, the items, the scoring arguments, the
precision, the device, torch's version and the source of the code that scores (multiple_choice.py, models.py: an
edit there is a new key). Models the kit trained (with adapters, or fully) are never cached: scored once, discarded.

Example: cached_scores(gen, ("q",), (("a", "b"),), {"batch_size": 16}, lambda: [[-1.0, -2.0]]) -> [[-1.0, -2.0]]
         (the second call with the same model and items reads the file and does not call the lambda)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

_SOURCES = ("multiple_choice.py", "models.py")  # the code whose edits change a score


def weights_fingerprint(model) -> str:
    """A digest of every weight's name, shape and float64 sum (~0.2 s for 135M parameters): a changed weight, a new
    one or a reshaped one gives another fingerprint. Example: weights_fingerprint(gen.model) -> "3f1c..."."""
    import torch

    digest = hashlib.sha256()
    with torch.no_grad():
        for name, p in model.named_parameters():
            digest.update(f"{name}{tuple(p.shape)}{p.dtype}{float(p.double().sum())!r}".encode())
    return digest.hexdigest()


def score_key(gen, questions, choices, args: dict) -> str | None:
    """The cache key of one mc_scores call, or None where nothing is cached (a model the kit trained).
    Example: score_key(gen, ["q"], [["a", "b"]], {"batch_size": 16, "reduce": "sum"}) -> "9b2e..."."""
    import torch

    from labkit.models import resolve_precision

    # a model the kit trained (finetune.prepare_model marks its info with the method) is scored once and discarded:
    # keeping a full fine-tune's every curve point would only fill the cache
    if hasattr(gen.model, "peft_config") or "method" in (getattr(gen, "info", None) or {}):
        return None
    here = Path(__file__).parent
    device = next(gen.model.parameters()).device.type
    parts = {
        "weights": weights_fingerprint(gen.model),
        "tokenizer": [getattr(gen.tokenizer, "name_or_path", ""), len(gen.tokenizer)],
        "items": [list(questions), [list(map(str, c)) for c in choices]],
        "args": args, "device": device, "precision": resolve_precision(gen.precision, device),
        "torch": torch.__version__,
        "code": [hashlib.sha256((here / name).read_bytes()).hexdigest() for name in _SOURCES],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def cached_scores(gen, questions, choices, args: dict, compute):
    """`compute()`'s scores, read from LABKIT_CACHE/scores/ when this model scored these items before (see the module
    docstring); written there after computing. LABKIT_SCORE_CACHE=0 turns it off. A damaged file is scored again."""
    from labkit.config import get_config

    if os.environ.get("LABKIT_SCORE_CACHE", "1").strip() == "0":
        return compute()
    key = score_key(gen, questions, choices, args)
    if key is None:
        return compute()
    path = get_config().cache_dir / "scores" / f"{key}.json"
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))
        if len(scores) == len(questions) and all(len(s) == len(c) for s, c in zip(scores, choices, strict=True)):
            return scores
    except (OSError, ValueError):
        pass  # not there yet, or damaged: scored again below
    scores = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # written whole, then renamed: two processes scoring at once never leave half a file
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
            json.dump(scores, f)
        os.replace(f.name, path)
    except OSError:
        pass  # a read-only cache: the scores are still right, only not kept
    return scores
