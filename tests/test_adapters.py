"""Tests of labkit.adapters with the real model: a saved adapter loads back to the same outputs; bad names say what
exists."""

import json

import pytest
import torch

from labkit import adapters
from labkit.adapters import list_adapters, load_adapter, merged_lora, save_adapter, with_lora
from labkit.data import load_qa
from labkit.finetune import TrainConfig, build_examples, train


def test_adapter_round_trip_gives_identical_outputs(generator, tmp_path):
    examples = build_examples(generator, load_qa(2), fact_statements=0)
    result = train(generator, examples, TrainConfig(num_steps=2, batch_size=2, rank=4, lr=1e-2), progress=False)
    path = save_adapter(result, "test-adapter", cache_dir=tmp_path)
    assert (path / "adapter_model.safetensors").is_file() and not list(path.glob("*.bin"))
    loaded = load_adapter("test-adapter", generator, cache_dir=tmp_path)
    ids = generator.tokenizer(generator.chat_prompt(load_qa(1)[0]["question"]), return_tensors="pt")["input_ids"]
    with torch.no_grad():
        a = result.gen.model(input_ids=ids).logits
        b = loaded.model(input_ids=ids).logits
        base = generator.model(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, base, atol=1e-3)
    assert list_adapters(tmp_path) == ["test-adapter"]


def test_missing_adapter_lists_what_exists(generator, tmp_path):
    (tmp_path / "adapters" / "kettle").mkdir(parents=True)
    (tmp_path / "adapters" / "kettle" / "labkit.json").write_text('{"kind": "lora"}')
    with pytest.raises(ValueError, match="kettle"):
        load_adapter("nothing-here", generator, cache_dir=tmp_path)


def test_an_existing_adapter_is_kept_unless_overwrite(generator, tmp_path):
    result = train(generator, build_examples(generator, load_qa(2), fact_statements=0),
                   TrainConfig(num_steps=1, batch_size=2, rank=4), progress=False)
    path = save_adapter(result, "kept", cache_dir=tmp_path)
    before = (path / "labkit.json").read_text()
    with pytest.raises(ValueError, match="overwrite"):
        save_adapter(result, "kept", cache_dir=tmp_path)
    assert (path / "labkit.json").read_text() == before  # refused: nothing lost
    assert save_adapter(result, "kept", cache_dir=tmp_path, overwrite=True, meta={"note": "again"}) == path
    assert '"note": "again"' in (path / "labkit.json").read_text()


def _adapter_folder(cache, name, kind, files):
    import json

    folder = cache / "adapters" / name
    folder.mkdir(parents=True)
    (folder / "labkit.json").write_text(json.dumps({"kind": kind, "name": name}))
    for file, data in files.items():
        (folder / file).write_bytes(data)
    return folder


LORA_FILES = {"adapter_config.json": b'{"peft_type": "LORA", "r": 4}',
              "adapter_model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      "}


@pytest.mark.parametrize("kind, files, says", [
    # a LoRA whose labkit.json says full: it used to end in "couldn't connect to huggingface.co"
    ("full", LORA_FILES, "config.json"),
    ("full", {"config.json": b'{"model_type": "llama"}', "model.safetensors": b"garbage, not safetensors"},
     "model.safetensors"),
    ("lora",
     {"adapter_config.json": b"{not json", "adapter_model.safetensors": LORA_FILES["adapter_model.safetensors"]},
     "adapter_config.json"),
    ("lora", {"adapter_config.json": LORA_FILES["adapter_config.json"]}, "adapter_model.safetensors"),
    ("rainbow", LORA_FILES, "kind"),
])
def test_an_adapter_folder_that_does_not_hold_what_its_labkit_json_says_is_named_before_any_load(tmp_path, monkeypatch,
                                                                                                 kind, files, says):
    import labkit.adapters

    monkeypatch.setattr(labkit.adapters, "load_generator", lambda *a,
                        **k: pytest.fail("loaded the base model for a broken adapter"))
    folder = _adapter_folder(tmp_path, "broken", kind, files)
    with pytest.raises(ValueError) as err:
        load_adapter("broken", cache_dir=tmp_path)
    assert str(folder) in str(err.value) and says in str(err.value)


class _FullDisk(torch.nn.Module):
    """A trained LoRA stand-in whose save fails as safetensors reports a full disk."""

    peft_config = {"default": None}

    def __init__(self):
        super().__init__()
        self.lora_A = torch.nn.Linear(4, 2, bias=False)

    def save_pretrained(self, folder, safe_serialization=True):
        from safetensors import SafetensorError

        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_a_save_the_disk_refuses_says_what_to_do_and_leaves_nothing_behind(tmp_path):
    from types import SimpleNamespace

    with pytest.raises(OSError) as err:
        save_adapter(SimpleNamespace(gen=SimpleNamespace(model=_FullDisk(), name="base")), "kettle", cache_dir=tmp_path)
    message = str(err.value)
    assert str(tmp_path / "adapters"
               / "kettle") in message and "No space left on device" in message and "free" in message
    assert list((tmp_path / "adapters").iterdir()) == []  # no temporary folder left to fill the disk further


def test_the_adapter_size_is_known_from_the_config_before_loading_and_bounds_what_is_saved():
    """The room check before training sizes the adapter from the base's config.json (no weights read): the shipped
    reading adapter (rank 4, the kit's five target layers) must fit the estimate, with little to spare."""
    from labkit.adapters import adapter_bytes, model_skeleton
    from labkit.finetune import TrainConfig
    from labkit.reader import READER_DIR
    from labkit.storage import dir_size

    skeleton = model_skeleton()
    assert skeleton is not None and next(skeleton.parameters()).device.type == "meta"
    need = adapter_bytes(skeleton, "lora", 4, TrainConfig().target_modules)
    assert dir_size(READER_DIR) <= need <= 1.5 * dir_size(READER_DIR)
    from labkit.model_cache import generator_cache_dir

    full = adapter_bytes(skeleton, "full", 4, TrainConfig().target_modules)
    assert (generator_cache_dir() / "model.safetensors").stat().st_size <= full <= 1.1 * dir_size(generator_cache_dir())


def test_a_merged_lora_computes_what_peft_computes(generator, tmp_path, monkeypatch):
    from labkit.data import READER_DIR

    ids = generator.tokenizer("The sources say the kettle costs $89.", return_tensors="pt")["input_ids"]
    peft_model, merged = with_lora(generator, READER_DIR).model, merged_lora(generator, READER_DIR).model
    assert not hasattr(merged, "get_base_model")  # plain transformers: peft is not needed to answer
    with torch.no_grad():
        want, got, base = (m(ids).logits for m in (peft_model, merged, generator.model))
    assert torch.allclose(got, want, atol=1e-3) and not torch.allclose(got, base, atol=1e-3)
    dora = tmp_path / "dora"  # an adapter that is not plain LoRA goes through peft
    dora.mkdir()
    for f in ("adapter_model.safetensors", "adapter_config.json"):
        (dora / f).write_bytes((READER_DIR / f).read_bytes())
    config = json.loads((dora / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps({**config, "use_rslora": True}))
    monkeypatch.setattr(adapters, "with_lora", lambda gen, path, info=None: "peft's")
    assert merged_lora(generator, dora) == "peft's"
