"""labkit.models: loading the generator and embedder, the chat format, greedy generation and the shared helpers."""

import pytest

from labkit import models
from labkit.model_cache import ModelNotAvailableError


def test_generator_answers_a_general_question_greedily(generator):
    first = generator.generate("What is the capital of France?", max_new_tokens=12)
    assert "paris" in first.lower()
    assert generator.generate("What is the capital of France?", max_new_tokens=12) == first


def test_chat_prompt_is_compact(generator):
    prompt = generator.chat_prompt("Hi")
    assert prompt == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    assert "SmolLM" not in prompt  # no default system prompt


def test_batch_generation_matches_single(generator):
    questions = ["What is the capital of France?", "Name a primary colour."]
    batch = generator.generate(questions, max_new_tokens=10)
    assert batch[0] == generator.generate(questions[0], max_new_tokens=10)
    assert len(batch) == 2


def test_new_tokens_are_bounded(generator, monkeypatch):
    from labkit import models
    from labkit.config import Config, get_config

    assert Config().max_new_tokens_limit == 256  # the kit's cap; a lower one here keeps the story short to write
    monkeypatch.setattr(models, "get_config", lambda: get_config(max_new_tokens_limit=12))
    text = generator.generate("Write a very long story about a dragon.", max_new_tokens=10_000)
    n_tokens = len(generator.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert 8 <= n_tokens <= 12 + 2  # cut at the cap, not at the 10,000 asked; decoding may merge a token or two


def test_long_prompt_is_truncated_to_the_limit_keeping_its_end(generator, monkeypatch):
    from labkit.config import get_config

    seen = []
    model_generate = generator.model.generate

    def recording(**batch):
        seen.append(batch["input_ids"][0].tolist())
        return model_generate(**batch)

    monkeypatch.setattr(generator.model, "generate", recording)
    question = "word " * 5000 + "What is the capital of France?"
    answer = generator.generate(question, max_new_tokens=8)
    limit = min(get_config().max_prompt_tokens, generator.max_context - 8)
    full = generator.prompt_ids(question)
    assert len(full) > limit  # the prompt really is over the limit ...
    assert seen == [full[-limit:]]  # ... and the model reads exactly its last `limit` tokens: the question survives
    assert answer  # and still answers


@pytest.mark.parametrize("name",
                         ["no-such-org/no-such-model", "/nonexistent/model/dir", "/nonexistent/reader.Q4_0.gguf"])
def test_unknown_model_offline_gives_clear_error(name):
    with pytest.raises(ModelNotAvailableError) as err:
        models.load_generator(name)
    assert name in str(err.value)


def test_embedder_gives_normalisable_384d_vectors(embedder):
    vectors = embedder.encode(["a kettle", "a teapot", "tax law"], normalize_embeddings=True)
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_token_counting_and_memoised_prompt_ids(generator):
    assert generator.count_tokens("Hello world") == len(generator.tokenizer("Hello world",
                                                                            add_special_tokens=False)["input_ids"])
    ids = generator.prompt_ids("What is the capital of France?")
    assert ids == generator.tokenizer(generator.chat_prompt("What is the capital of France?"),
                                      add_special_tokens=False)["input_ids"]
    assert generator.prompt_ids("What is the capital of France?") is ids  # memoised on this generator


def test_causal_lm_and_embedding_dim(generator, embedder):
    assert models.causal_lm(generator.model) is generator.model  # no peft wrapper: the model itself
    assert models.embedding_dim(embedder) == 384


def test_cuda_without_a_gpu_is_a_clear_error():
    import torch

    from labkit.config import check_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        check_device("cuda")
    with pytest.raises(ValueError, match="cpu, cuda or mps"):
        check_device("tpu")


def _remote_code_folder(tmp_path, where="config.json"):
    """A model folder whose config names its own Python classes (auto_map): loading it would run modeling_x.py."""
    import json

    folder = tmp_path / "remote-model"
    folder.mkdir()
    config = {"model_type": "x-remote", "architectures": ["XModel"], "hidden_size": 8}
    tok = {"tokenizer_class": "PreTrainedTokenizerFast"}
    auto_map = {"AutoConfig": "configuration_x.XConfig", "AutoModelForCausalLM": "modeling_x.XModel",
                "AutoTokenizer": ["tokenizer_x.XTok", None]}
    (config if where == "config.json" else tok)["auto_map"] = auto_map
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))
    marker = tmp_path / "remote-code-ran"
    for module in ("modeling_x", "configuration_x", "tokenizer_x"):
        (folder / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    return folder, marker


@pytest.mark.parametrize("where", ["config.json", "tokenizer_config.json"])
def test_a_model_folder_that_needs_remote_code_is_refused_for_that_reason(tmp_path, where):
    """It used to be refused as "not in the local Hugging Face cache", which sent the user looking for a download."""
    folder, marker = _remote_code_folder(tmp_path, where)
    with pytest.raises(ModelNotAvailableError) as err:
        models.load_generator(str(folder))
    message = str(err.value)
    assert "remote code" in message and "trust_remote_code" in message and str(folder) in message and where in message
    assert "not in the local Hugging Face cache" not in message
    assert not marker.exists()  # nothing of the folder's code ran


def test_unknown_precision_says_what_to_use(generator, monkeypatch):
    monkeypatch.setattr(generator, "precision", "fp8")
    with pytest.raises(ValueError, match="LABKIT_PRECISION"):
        generator.generate("Hi", max_new_tokens=2)


def test_resolve_precision_passes_a_named_one_and_picks_bf16_for_auto_only_on_bf16_hardware(monkeypatch):
    import torch

    assert [models.resolve_precision(p) for p in ("float32", "bfloat16")] == ["float32", "bfloat16"]
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert models.resolve_precision("auto") == "float32"  # bf16 would be emulated, slower
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert models.resolve_precision("auto") == "bfloat16"
    with pytest.raises(ValueError, match="LABKIT_PRECISION"):
        models.resolve_precision("fp8")


def test_bf16_instructions_name_what_auto_precision_relies_on(monkeypatch):
    import torch

    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert models.bf16_instructions() == ""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert models.bf16_instructions() == "AVX512-BF16" and models.resolve_precision("auto") == "bfloat16"
