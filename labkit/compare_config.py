"""The sizes of a side-by-side run: `CompareConfig`, its quick and full defaults, and `--set` overrides.

`labkit.compare` runs the experiment these describe; this module only says how big it is, so
the command line can check a user's `--set num_steps=96` before anything loads. Every number is
checked against its range in `labkit.limits` (the one table of ranges), whether it comes from
`--set`, from `default_compare_config(rank=8)` or from `CompareConfig(...)` itself.

Example: default_compare_config(quick=True).num_questions -> 12
         parse_settings(["num_steps=96", "multi_document=false"]) -> {"num_steps": 96, "multi_document": False}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from labkit.config import get_config
from labkit.keys import APPROACHES
from labkit.limits import check, read


@dataclass
class CompareConfig:
    num_questions: int | None = None  # qa records taught and asked (spread over the trained documents); None = all 120
    num_untaught: int | None = None  # qa records asked, never taught: those touching an unseen document (None = all 75)
    # fact changes applied (None = all 16 of trained documents); their questions are taught too
    num_updates: int | None = None
    # every question needing two trained documents (8) taught and asked too (quick mode: False)
    multi_document: bool = True
    # LoRA steps of the knowledge fine-tunes: 160 x 8 is ~3.6 epochs of the 120 questions' QA pairs and fact statements
    num_steps: int = 160
    rank: int = 16  # LoRA rank
    lr: float = 2e-3  # LoRA learning rate
    fact_statements: int = 2  # fact statements per question trained beside the QA pairs
    # LoRA steps of the documents-only fine-tune: ~75-token examples (4x a QA pair), so 48 x 8 is ~1.9 epochs and twice
    # the QA fine-tune's tokens
    num_docs_steps: int = 48
    # LoRA steps of the retrieval-aware fine-tune (its examples are ~450 tokens: 10x a QA pair); 40 x 4 is ~1.3 epochs
    # of 120 questions. At 80 steps (the shipped run of d6481c9) seeds 0 and 1 scored taught 0.74 / 0.65, untaught
    # 0.57 / 0.55; at 40, taught 0.73 / 0.68, untaught 0.56 / 0.60, in half the training (173 s against 384 s, seed 0)
    num_raft_steps: int = 40
    raft_batch_size: int = 4  # examples per RAFT step
    top_k: int = 3  # sources per RAG prompt
    max_new_tokens: int = 32  # answer length cap
    # LoRA steps that bring the fine-tuned adapter up to date: the changed facts plus as many unchanged ones (so those
    # are not forgotten); 24 got the new value in 0.27 of answers, 48 in 0.50, 96 in 0.62 (seed 0)
    num_retrain_steps: int = 48
    # general-probe items scored for forgetting (None = the whole probe, 120 items; quick mode scores 40 spread over it,
    # a third of the time for each trained row: its interval is wider and says so)
    num_probe: int | None = None
    num_behaviour_test: int | None = 40  # triage test messages scored (stratified; None = all)
    num_behaviour_steps: int = 80  # LoRA steps on the triage training examples
    # support messages asking a product fact, for behaviour + facts (labkit.behaviour_facts); 0 skips it
    num_fact_messages: int | None = 24
    seeds: list = field(default_factory=lambda: [0, 1, 2])  # one run per seed; the scoreboard shows mean ± spread
    approaches: tuple = APPROACHES  # which rows to run (notebook 06 leaves RAFT to notebook 07)
    # time a build from scratch (False: load the cached index; tests do, and the "build" time is then the load time)
    rebuild_index: bool = True

    def __post_init__(self):
        for f in fields(self):
            check_setting(f.name, getattr(self, f.name))


def default_compare_config(quick: bool | None = None, seeds: int | None = None, **overrides) -> CompareConfig:
    """The run's sizes for this mode (quick: a parameter, `labkit compare --quick`; None: $LABKIT_QUICK says).

    Example: default_compare_config(quick=True).seeds -> [0]
    """
    quick = get_config().quick if quick is None else quick
    base = (CompareConfig(num_questions=12, num_untaught=8, num_updates=8, num_steps=24, num_docs_steps=12,
                          num_raft_steps=6, num_retrain_steps=8, multi_document=False,
                          num_probe=40, num_behaviour_test=8, num_behaviour_steps=24, num_fact_messages=4,
                          seeds=[0])
            if quick else CompareConfig())
    if seeds is not None:
        base.seeds = list(range(check("seeds", seeds, "--seeds")))
    for key, value in overrides.items():
        if not hasattr(base, key):
            raise ValueError(f"{key!r} is not a CompareConfig setting; choose from {', '.join(asdict(base))}.")
        setattr(base, key, check_setting(key, value))
    return base


def check_setting(key: str, value):
    """A CompareConfig value checked: a number against its range (`labkit.limits`), None only where a field allows it.

    Example: check_setting("rank", 8) -> 8; check_setting("rank", 1000) -> ValueError("rank must be at most 256, ...")
    """
    kind = str(next(f.type for f in fields(CompareConfig) if f.name == key))
    if key == "approaches":
        if isinstance(value, str) or not value or any(a not in APPROACHES for a in value):
            raise ValueError(f"approaches are rows of the scoreboard: {', '.join(APPROACHES)}")
        return tuple(value)
    if key == "seeds":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise ValueError(f"seeds is a list of seeds, e.g. [0, 1, 2] (--seeds N runs 0 to N - 1), not {value!r}")
        check("seeds", len(value), "the number of seeds")
        return [check("seed", s) for s in value]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{key} is true or false, not {value!r}")
        return value
    if value is None and "None" in kind:
        return None
    return check(key, value)


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def parse_settings(pairs: list[str] | None) -> dict:
    """`key=value` texts (`labkit compare --set`) as CompareConfig overrides, each value read as its field's type.

    Example: parse_settings(["num_questions=all", "num_raft_steps=48", "approaches=RAG,RAFT + RAG"])
    -> {"num_questions": None, "num_raft_steps": 48, "approaches": ("RAG", "RAFT + RAG")}
    "all" or "none" is None where the field allows it (every question, every update); booleans
    are true/false (yes/no, 1/0); approaches is a comma-separated list of scoreboard rows.
    Seeds are `--seeds`. Anything else is refused with what would have been accepted.
    """
    types = {f.name: f.type for f in fields(CompareConfig)}
    out = {}
    for pair in pairs or []:
        key, sep, value = str(pair).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or key not in types or key == "seeds":
            names = ", ".join(k for k in types if k != "seeds")
            raise ValueError(f"--set {pair!r}: write key=value with one of {names} (seeds: use --seeds).")
        out[key] = _read_setting(key, value, str(types[key]), pair)
    return out


def _read_setting(key: str, value: str, kind: str, pair: str):
    def refuse(why):
        raise ValueError(f"--set {pair!r}: {why}")

    if key == "approaches":
        chosen = tuple(a.strip() for a in value.split(",") if a.strip())
        if not chosen or any(a not in APPROACHES for a in chosen):
            refuse(f"approaches are rows of the scoreboard, comma-separated: {', '.join(APPROACHES)}")
        return chosen
    if kind == "bool":
        if value.lower() not in _TRUE | _FALSE:
            refuse(f"{key} is true or false")
        return value.lower() in _TRUE
    if value.lower() in ("all", "none") and "None" in kind:
        return None
    try:
        return read(key, value, other="all" if "None" in kind else "")
    except ValueError as exc:
        refuse(str(exc))
