"""labkit.behaviour_tasks: the run's sizes reach the behaviour task and behaviour + facts, and one triage LoRA serves
both (the tasks themselves are recorded, not run: test_behaviour and test_behaviour_facts run them)."""

from types import SimpleNamespace

from labkit import behaviour_tasks
from labkit.compare_config import default_compare_config


def test_one_triage_lora_serves_both_tasks_at_the_runs_sizes(monkeypatch):
    ccfg = default_compare_config(quick=True, num_behaviour_test=2, num_behaviour_steps=3, num_fact_messages=4)
    setup = SimpleNamespace(gen="gen", embedder="emb", index="index")
    lora = SimpleNamespace(gen="lora gen")
    calls = []
    monkeypatch.setattr(behaviour_tasks, "train_triage", lambda *a: calls.append(("train_triage", *a)) or lora)
    monkeypatch.setattr(behaviour_tasks, "run_behaviour",
                        lambda *a, lora=None: calls.append(("run_behaviour", *a, lora)) or {"lora": {}})
    monkeypatch.setattr(behaviour_tasks, "run_behaviour_facts",
                        lambda *a: calls.append(("run_behaviour_facts", *a)) or {"before": {}})
    out = behaviour_tasks.behaviour_serially(setup, ccfg, 7)
    assert out == {"lora": {}, "behaviour_facts": {"before": {}}}
    assert calls == [("train_triage", "gen", 3, ccfg.rank, ccfg.lr, 7),
                     ("run_behaviour", "gen", "emb", 2, 3, ccfg.rank, ccfg.lr, 7, lora),
                     ("run_behaviour_facts", "gen", "lora gen", "emb", "index", 4, ccfg.top_k)]
    calls.clear()
    no_facts = default_compare_config(quick=True, num_fact_messages=0)
    assert "behaviour_facts" not in behaviour_tasks.behaviour_serially(setup, no_facts, 0)
    assert [c[0] for c in calls] == ["train_triage", "run_behaviour"]
