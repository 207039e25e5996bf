"""labkit.export: a saved adapter exported as a merged model folder and as a PEFT folder, each loaded back in a fresh
interpreter where labkit cannot be imported, answering as the kit does; destinations refused before any load."""

import json
import os
import subprocess
import sys

import pytest

from labkit.adapters import save_adapter
from labkit.data import load_qa
from labkit.export import KIT_CHATML_TEMPLATE, check_destination, export_merged, export_peft, run_export
from labkit.finetune import TrainConfig, build_examples, train

# run by a fresh interpreter: labkit blocked, only transformers and peft, as a learner's own script would
OUTSIDE = r'''
import json, sys
sys.modules["labkit"] = None  # "import labkit" now fails: the folders must stand on their own
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

merged, peft_dir, questions, n = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])


def run(model, tok, answer=True):
    answers, logits = [], []
    for q in questions:
        text = tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits.append(model(input_ids=ids).logits[0, -1])
            if answer:
                out = model.generate(ids, max_new_tokens=n, do_sample=False)
                answers.append(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip())
    return answers, torch.stack(logits), text


tok = AutoTokenizer.from_pretrained(merged)
merged_answers, merged_logits, prompt = run(AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32), tok)
base_dir = json.load(open(f"{peft_dir}/adapter_config.json"))["base_model_name_or_path"]
base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
_, base_logits, _ = run(base, tok, answer=False)
peft_answers, peft_logits, _ = run(PeftModel.from_pretrained(base, peft_dir), AutoTokenizer.from_pretrained(peft_dir))
print(json.dumps({"merged": merged_answers, "peft": peft_answers, "prompt": prompt,
                  "merged_vs_base": float((merged_logits - base_logits).abs().max()),
                  "merged_vs_peft": float((merged_logits - peft_logits).abs().max()),
                  "labkit_imported": any(k.split(".")[0] == "labkit" and m is not None
                                         for k, m in sys.modules.items())}))
'''


@pytest.fixture(scope="module")
def trained(generator, tmp_path_factory):
    """A tiny LoRA (2 steps on 2 questions) saved in a cache of its own."""
    cache = tmp_path_factory.mktemp("export-cache")
    result = train(generator, build_examples(generator, load_qa(2), fact_statements=0),
                   TrainConfig(num_steps=2, batch_size=2, rank=4, lr=1e-2), progress=False)
    save_adapter(result, "tiny", cache_dir=cache)
    return cache, result


def test_exported_folders_answer_as_the_kit_without_labkit(generator, trained, tmp_path):
    cache, result = trained
    merged = export_merged("tiny", tmp_path / "merged", generator, cache_dir=cache)  # run_export loads the base itself
    peft = export_peft("tiny", tmp_path / "peft", cache_dir=cache)
    assert (merged / "model.safetensors").is_file() and not list(merged.glob("*.bin"))
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= {p.name for p in peft.iterdir()}
    questions = [q["question"] for q in load_qa(2)]  # the two it trained on, so the LoRA shows
    result.gen.precision = "float32"  # the loader outside runs float32 matmuls
    kit_answers = result.gen.generate(questions, max_new_tokens=12, progress=False)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # labkit is not on the path either
    env["PYTHONPATH"] = os.pathsep.join(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                                        if p and "netguard" in p)  # the network guard only
    done = subprocess.run([sys.executable, "-c", OUTSIDE, str(merged), str(peft), json.dumps(questions), "12"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    outside = json.loads(done.stdout.strip().splitlines()[-1])
    assert outside["labkit_imported"] is False
    assert outside["prompt"] == result.gen.chat_prompt(questions[-1])  # the chat template the kit trained with
    assert outside["merged"] == kit_answers and outside["peft"] == kit_answers, (kit_answers, outside)
    assert outside["merged_vs_base"] > 1e-3 and outside["merged_vs_peft"] < 1e-3  # the LoRA is in, merged right


def test_destinations_are_refused_before_any_load(trained, tmp_path, monkeypatch):
    import labkit.export

    cache, _ = trained
    monkeypatch.setattr(labkit.export, "load_generator", lambda *a, **k: pytest.fail("loaded a model first"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        run_export("tiny", merged=str(tmp_path / "full"), cache_dir=cache)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="Saved adapters: tiny"):
        run_export("nope", merged=str(tmp_path / "x"), cache_dir=cache)
    with pytest.raises(ValueError, match="--merged DIR"):
        run_export("tiny", cache_dir=cache)
    with pytest.raises(ValueError, match="same folder"):
        run_export("tiny", merged=str(tmp_path / "a"), peft=str(tmp_path / "a"), cache_dir=cache)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        check_destination(tmp_path / "file", 0)
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    with pytest.raises(ValueError, match="repository"):
        check_destination(tmp_path / "repo", 0, overwrite=True)


def test_the_kit_template_writes_the_kit_prompt(generator):
    from jinja2 import Template

    text = Template(KIT_CHATML_TEMPLATE).render(messages=[{"role": "user", "content": "Hi"}],
                                                add_generation_prompt=True)
    assert text == generator.chat_prompt("Hi")


def test_labkit_export_on_the_command_line_refuses_with_exit_2(tmp_path, monkeypatch, capsys):
    from labkit.cli import main

    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    assert main(["export", "nothing-saved", "--merged", str(tmp_path / "out")]) == 2
    assert "Saved adapters: none yet" in capsys.readouterr().err and not (tmp_path / "out").exists()
