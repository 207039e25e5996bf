"""Embedding: texts to unit-length vectors with the sentence embedder, and the embedder's name in cache keys.

What it holds:
- `embed_texts`: batched, normalised sentence embeddings with a tqdm.auto progress bar; from
  `BF16_EMBED_MIN` texts on (a real corpus), matmuls in bf16 where `models.resolve_precision` says so, and each
  text read up to `BIG_CORPUS_TOKENS` tokens (`read_at_most`).
- `embedder_name`: the name an index records and a cache key holds for its embedder.
- `few_threads`: torch on one thread while a handful of questions is embedded.

What it leaves out: loading the embedder (`labkit.models`), chunking (`labkit.corpus`) and the index
the vectors go into (`labkit.retrieval`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from labkit.config import get_config, progress_bars
from labkit.model_cache import DEFAULT_EMBEDDER, embedder_dir
from labkit.models import embedding_dim, resolve_precision


def embedder_name(embedder) -> str:
    """A name for an embedder, used in cache keys. Example: embedder_name(load_embedder()) -> "all-minilm-l6-v2"."""
    if isinstance(getattr(embedder, "name", None), str):  # light_embedder.LightEmbedder: the default's own name
        return embedder.name
    try:
        path = str(embedder[0].auto_model.name_or_path)
    except Exception:  # not a sentence-transformers model: fall back on its class name
        return type(embedder).__name__
    try:
        if Path(path).resolve() == embedder_dir().resolve():
            return DEFAULT_EMBEDDER
    except Exception:
        pass
    return path


# texts in one call from which embedding runs its matmuls in bf16 (where they pay) and reads BIG_CORPUS_TOKENS of
# each: a real corpus, not the kit's 323 chunks
BF16_EMBED_MIN = 2048
# a big corpus's chunks are embedded from their first 128 tokens: all-MiniLM-L6-v2 was trained on texts of at most 128
# tokens (its config allows 256), and half the tokens is half the work. benchmarks/bench_embed_cut.py prints both sides:
# retrieval on every corpus with questions at 128 against 256, and chunks/s on Python's HTML documentation.
BIG_CORPUS_TOKENS = 128


def embed_texts(embedder, texts: list[str], batch_size: int = 32, progress: bool = True,
                desc: str = "embedding", corpus_size: int | None = None) -> np.ndarray:
    """Unit-length float32 embeddings of texts, in batches with a progress bar.

    Example: embed_texts(embedder, ["hello", "world"]).shape -> (2, 384)
    From BF16_EMBED_MIN texts on, where `models.resolve_precision` says bf16 (LABKIT_PRECISION), the
    matmuls run in bf16: 2.7x faster on Python's documentation here, cosine to the float32 vectors
    0.99997 at worst (benchmarks/bench_index_corpus.py); and each text is read up to BIG_CORPUS_TOKENS
    tokens, whatever the precision (another 2x: benchmarks/bench_embed_cut.py). Fewer texts (the kit's knowledge
    base, every question) stay float32 and whole, so the shipped figures are not moved by it: on the kit's 390
    questions and paraphrases, bf16 changed the top 3 of 7. corpus_size (default: len(texts)) is the size of the
    corpus these texts are part of, for a sample timed as the whole would be (`labkit doctor`).
    """
    import torch
    from tqdm.auto import tqdm

    texts = list(texts)
    dim = embedding_dim(embedder)
    if not texts:
        return np.zeros((0, dim), dtype="float32")
    device = str(getattr(embedder, "device", "cpu")).split(":")[0]
    big = (corpus_size or len(texts)) >= BF16_EMBED_MIN
    bf16 = big and resolve_precision(get_config().precision, device) == "bfloat16"
    # Batches of similar length (longest first, so the ETA starts pessimistic): a batch is padded
    # to its longest text, and in document order one long chunk makes 31 short ones pay for its length.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    batches = range(0, len(texts), batch_size)
    out = np.zeros((len(texts), dim), dtype="float32")
    with read_at_most(embedder, BIG_CORPUS_TOKENS if big else None):
        for start in tqdm(batches, desc=desc, unit="batch", disable=not progress_bars(progress) or len(batches) < 2,
                          leave=False):
            chosen = order[start : start + batch_size]
            with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
                vectors = embedder.encode([texts[i] for i in chosen], batch_size=batch_size, convert_to_tensor=True,
                                          show_progress_bar=False)
            # normalised in float32: unit length either way
            out[chosen] = torch.nn.functional.normalize(vectors.float(), dim=-1).cpu().numpy()
    return out


@contextmanager
def read_at_most(embedder, tokens: int | None):
    """The embedder reads at most `tokens` of each text inside the block (None: as configured), then as before.

    Example: with read_at_most(embedder, 128): embedder.encode(["a long chunk ..."])  # its first 128 tokens
    Works on anything with a settable `max_seq_length` (sentence-transformers, `LightEmbedder`); others are left whole.
    """
    before = getattr(embedder, "max_seq_length", None)
    cut = tokens is not None and isinstance(before, int) and before > tokens
    if cut:
        embedder.max_seq_length = tokens
    try:
        yield
    finally:
        if cut:
            embedder.max_seq_length = before


@contextmanager
def few_threads(n_texts: int):
    """Run torch on one thread while embedding a handful of short texts. Example: with few_threads(1): ...

    Why: a single question is too small to gain from two threads, and when the CPU is
    shared, OpenMP's spinning threads make it 10-20x slower (12 ms -> 200 ms measured).
    """
    import torch

    before = torch.get_num_threads()
    if n_texts <= 8 and before > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
