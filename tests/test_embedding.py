"""labkit.embedding: unit-length vectors, equal to sentence-transformers' own, and bf16 only for a large batch."""

import numpy as np

from labkit.embedding import embed_texts


def test_embeddings_are_unit_length(embedder):
    vectors = embed_texts(embedder, ["hello", "a kettle costs money", "x"], batch_size=2, progress=False)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_embeddings_are_those_of_sentence_transformers_and_a_large_batch_runs_bf16(embedder, monkeypatch):
    import torch

    from labkit import embedding
    from labkit.models import resolve_precision

    texts = ["hello", "a kettle costs money", "The Brimble Kettle holds 1.7 litres and costs $89.", "x"]
    reference = embedder.encode(texts, normalize_embeddings=True)
    assert np.array_equal(embed_texts(embedder, texts, progress=False), reference)  # a few texts: float32, unchanged
    monkeypatch.setattr(embedding, "BF16_EMBED_MIN", 4)  # as if these were a corpus of thousands
    monkeypatch.setenv("LABKIT_PRECISION", "bfloat16")
    large = embed_texts(embedder, texts, progress=False)
    assert large.dtype == np.float32 and np.allclose(np.linalg.norm(large, axis=1), 1.0, atol=1e-5)
    cosine = (large * reference).sum(axis=1)
    assert cosine.min() > 0.999 and not np.array_equal(large, reference)  # close, and computed another way
    monkeypatch.setenv("LABKIT_PRECISION", "float32")  # the switch turns it off
    assert np.array_equal(embed_texts(embedder, texts, progress=False), reference)
    assert resolve_precision("float32") == "float32" and torch.is_autocast_enabled("cpu") is False


def test_a_big_corpus_reads_each_text_up_to_its_first_128_tokens_and_the_embedder_is_left_as_it_was(embedder,
                                                                                                     monkeypatch):
    from labkit import embedding

    long_text = " ".join(f"word{i} costs {i} dollars." for i in range(120))  # far over 256 tokens
    texts = [long_text, "a kettle costs money"]
    monkeypatch.setenv("LABKIT_PRECISION", "float32")  # the cut alone, compared exactly
    whole = embed_texts(embedder, texts, progress=False)
    assert embedder.max_seq_length == 256
    monkeypatch.setattr(embedding, "BF16_EMBED_MIN", 2)  # as if these were a corpus of thousands
    big = embed_texts(embedder, texts, progress=False)
    assert embedder.max_seq_length == 256  # put back
    embedder.max_seq_length = embedding.BIG_CORPUS_TOKENS
    try:
        cut = embedder.encode(texts, normalize_embeddings=True)
    finally:
        embedder.max_seq_length = 256
    assert np.allclose(big, cut, atol=1e-6)  # the first 128 tokens, as the embedder itself reads them so cut
    assert not np.allclose(big[0], whole[0], atol=1e-3) and np.allclose(big[1], whole[1], atol=1e-6)  # short: whole
    # a sample timed as part of a big corpus is cut the same way (labkit doctor)
    monkeypatch.setattr(embedding, "BF16_EMBED_MIN", 2048)
    assert np.allclose(embed_texts(embedder, texts, progress=False, corpus_size=4096), big, atol=1e-6)
