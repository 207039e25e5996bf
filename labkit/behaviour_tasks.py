"""The behaviour task and behaviour + facts as two tasks of a side-by-side run, on one triage LoRA.

What it holds: `triage_lora` (the triage LoRA at the run's sizes, `behaviour.train_triage`),
`behaviour_task` (the behaviour experiment, `behaviour.run_behaviour`: zero-shot, few-shot and that
LoRA), `behaviour_facts_task` (behaviour + facts, `behaviour_facts.run_behaviour_facts`, over the
run's index, replying with that LoRA), and `behaviour_serially` (both in this process, the LoRA
trained once). Each takes the run's `rows.Setup` and `CompareConfig` and returns what it measured.

What it leaves out: the tasks themselves (`labkit.behaviour`, `labkit.behaviour_facts`), and where
they run: serially or in worker processes beside the seeds' trainings (`labkit.compare`).

Example: behaviour_task(setup, ccfg, 0)["lora"]["label_accuracy"] -> 0.88
"""

from __future__ import annotations

from labkit.behaviour import run_behaviour, train_triage
from labkit.behaviour_facts import run_behaviour_facts
from labkit.compare_config import CompareConfig
from labkit.rows import Setup


def triage_lora(setup: Setup, ccfg: CompareConfig, seed: int):
    """The triage LoRA the behaviour task scores and behaviour + facts replies with (`behaviour.train_triage` at the
    run's sizes).

    Example: triage_lora(setup, ccfg, 0).gen
    """
    return train_triage(setup.gen, ccfg.num_behaviour_steps, ccfg.rank, ccfg.lr, seed)


def behaviour_task(setup: Setup, ccfg: CompareConfig, seed: int, lora=None) -> dict:
    """The behaviour experiment: zero-shot, few-shot and the triage LoRA (`lora`, trained here unless given).

    Example: behaviour_task(setup, ccfg, 0)["lora"]["label_accuracy"] -> 0.88
    """
    return run_behaviour(setup.gen, setup.embedder, ccfg.num_behaviour_test, ccfg.num_behaviour_steps, ccfg.rank,
                         ccfg.lr, seed, lora=lora)


def behaviour_facts_task(setup: Setup, ccfg: CompareConfig, lora_gen) -> dict:
    """Behaviour + facts (labkit.behaviour_facts) over the run's index: the base model, and the triage LoRA's
    `lora_gen`.

    Example: behaviour_facts_task(setup, ccfg, triage_lora(setup, ccfg, 0).gen)["after"]["behaviour LoRA +
        RAG"]["fact_accuracy"] -> 0.64
    """
    return run_behaviour_facts(setup.gen, lora_gen, setup.embedder, setup.index, ccfg.num_fact_messages, ccfg.top_k)


def behaviour_serially(setup: Setup, ccfg: CompareConfig, seed: int) -> dict:
    """Both tasks in this process, on one triage LoRA: the behaviour task's result with behaviour + facts in it
    (under "behaviour_facts", unless the run asks for no fact messages).

    Example: behaviour_serially(setup, ccfg, 0)["behaviour_facts"]["before"]
    """
    # trained once: the behaviour task scores it, behaviour + facts replies with it
    lora = triage_lora(setup, ccfg, seed)
    out = behaviour_task(setup, ccfg, seed, lora)
    return {**out,
            "behaviour_facts": behaviour_facts_task(setup, ccfg, lora.gen)} if ccfg.num_fact_messages != 0 else out
