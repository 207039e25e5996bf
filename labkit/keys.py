"""The names the side-by-side experiment files its results under, each spelled once.

What it holds: `Approach` (the scoreboard's rows), `APPROACHES` (them in scoreboard order) and `SIDE_BY_SIDE`
(notebook 06's rows);
`After` (the freshness figures: each approach after the facts change) and `AFTER_UPDATE` (them
in the order a run writes them); `OLD_NAMES` and `renamed`: a record written under the keys' former names read
under today's. The values are plain strings, not an Enum: `data/results.json`,
the README and saved runs hold them, so a value never changes; code names the constant.

What it leaves out: the behaviour experiment's approaches (`zero_shot`, `few_shot`, `lora`: keys
of `behaviour.run_behaviour`'s dict) and behaviour + facts' (`behaviour_facts.BEHAVIOUR_FACTS_APPROACHES`), and every
metric's name (`labkit.evaluate`).

Example: Approach.FINE_TUNED_RAG -> "fine-tuned + RAG"; After.STALE -> "fine-tuned (stale)"
"""

from __future__ import annotations


class Approach:
    """The scoreboard's rows, by what answers and with what in its prompt.
    Example: Approach.RAFT_RAG -> "RAFT + RAG"."""

    CLOSED_BOOK = "closed-book"  # the base model, no sources
    RAG = "RAG"  # the base model reading the top_k sources
    READER_RAG = "reading adapter + RAG"  # the shipped reading adapter (data/reader) reading them
    FINE_TUNED = "fine-tuned"  # LoRA on the questions and fact statements, no sources
    FINE_TUNED_DOCS = "fine-tuned (docs)"  # LoRA on the documents' raw text alone, no sources
    FINE_TUNED_RAG = "fine-tuned + RAG"  # the fine-tuned model reading the sources
    RAFT_RAG = "RAFT + RAG"  # the retrieval-aware fine-tune reading the sources
    # the base model reading sources that always hold a gold chunk (the reading ceiling)
    RAG_PERFECT = "RAG, perfect retriever"
    READER_PERFECT = "reading adapter, perfect retriever"  # the reading adapter reading them


APPROACHES = (Approach.CLOSED_BOOK, Approach.RAG, Approach.READER_RAG, Approach.FINE_TUNED, Approach.FINE_TUNED_DOCS,
              Approach.FINE_TUNED_RAG, Approach.RAFT_RAG, Approach.RAG_PERFECT, Approach.READER_PERFECT)
# the rows notebook 06 runs and teaches (07 adds RAFT + RAG; 02 the reading adapter and the perfect retriever)
SIDE_BY_SIDE = (Approach.CLOSED_BOOK, Approach.RAG, Approach.FINE_TUNED, Approach.FINE_TUNED_DOCS,
                Approach.FINE_TUNED_RAG)
# measurements, not systems a team could run: no decision picks them
DIAGNOSTIC = (Approach.RAG_PERFECT, Approach.READER_PERFECT)


class After:
    """The freshness figures: who gives a changed fact's new value. Example: After.RAG -> "RAG after update"."""

    RAG = "RAG after update"  # the base model reading the updated index
    FINE_TUNED_RAG = "fine-tuned + RAG after update"  # the fine-tune (not retrained) reading the updated index
    STALE = "fine-tuned (stale)"  # the fine-tune as it is, no sources
    RETRAINED = "fine-tuned retrained"  # its adapter trained further on the changed facts
    READER_RAG = "reading adapter + RAG after update"  # the reading adapter reading the updated index
    RAFT_RAG = "RAFT + RAG after update"  # the retrieval-aware fine-tune reading the updated index


AFTER_UPDATE = (After.RAG, After.FINE_TUNED_RAG, After.STALE, After.RETRAINED, After.READER_RAG, After.RAFT_RAG)


# Keys a results record written before issue 25's renames holds, and their names now: `renamed` reads such a record
# (a learner's cached run, a results.json `labkit publish` is given) under today's names.
OLD_NAMES = {"docs_steps": "num_docs_steps", "raft_steps": "num_raft_steps", "retrain_steps": "num_retrain_steps",
             "behaviour_steps": "num_behaviour_steps", "hybrid_messages": "num_fact_messages",
             "behaviour_num_test": "num_behaviour_test", "hybrid": "behaviour_facts"}


def renamed(record):
    """A results record with every key of OLD_NAMES under its new name, values untouched (a copy; others as they are).

    Example: renamed({"config": {"raft_steps": 60}}) -> {"config": {"num_raft_steps": 60}}
    """
    if isinstance(record, dict):
        return {OLD_NAMES.get(k, k): renamed(v) for k, v in record.items()}
    return [renamed(v) for v in record] if isinstance(record, list) else record
