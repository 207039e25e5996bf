"""labkit.light_embedder: the embedded embedder run by transformers alone gives sentence-transformers' vectors."""

import json
import shutil

import numpy as np
import pytest

from labkit.embedding import embed_texts, embedder_name
from labkit.light_embedder import LightEmbedder
from labkit.model_cache import embedder_dir

TEXTS = ["How much is the Brimble Kettle?", "x", " ".join(["long"] * 400),  # past the 256-token cut
         "Returns Policy > Return shipping\nA return label costs $6.50."]


def test_the_light_embedder_gives_the_same_vectors_and_name(embedder):
    light = LightEmbedder()
    want, got = embed_texts(embedder, TEXTS, progress=False), embed_texts(light, TEXTS, progress=False)
    assert np.allclose(got, want, atol=1e-5) and got.shape == (len(TEXTS), 384)
    assert embedder_name(light) == embedder_name(embedder)  # an index built with one loads with the other
    assert light.encode("one text").shape == (384,)


def test_a_folder_that_is_not_mean_pooled_is_refused_before_loading(tmp_path):
    folder = tmp_path / "cls-pooled"
    shutil.copytree(embedder_dir(), folder, ignore=shutil.ignore_patterns("*.safetensors"))
    config = json.loads((folder / "1_Pooling" / "config.json").read_text())
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({**config, "pooling_mode_mean_tokens": False}))
    with pytest.raises(ValueError, match="models.load_embedder"):
        LightEmbedder(folder)
