"""The training commands: `labkit finetune`, `labkit train-reader` and `labkit sweep`.

Each checks what it will write (a free adapter name, a writable folder with room) before any model loads, trains, and
prints what it measured: `run_finetune` the forgetting history and the final scores (`forgetting.run_forgetting`;
Ctrl-C exits 130, scored on the weights it kept), `run_train_reader` the reading adapter and its score against the
plain model (`reader.train_reader`), `run_sweep` the forgetting lab's sweep as JSON (`forgetting.compute_sweep`). A
save the disk refuses after the check goes to a rescue folder the message names. What it leaves out: the training
itself (`finetune`, `reader`, `forgetting`) and argument parsing (`labkit.cli`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from labkit.config import get_config
from labkit.limits import check


def run_train_reader(steps: int | None = None, seed: int = 0, out: str | None = None, overwrite: bool = False,
                     generator: str | None = None, evaluate: bool = True, mix: bool = True,
                     abstain_share: float | None = None) -> int:
    """`labkit train-reader`: train the reading adapter on two thirds of the documents, save it, score it against plain.

    Example: run_train_reader() prints the training figures and a table of plain vs adapter, returns 0
    The shipped adapter (data/reader) was made by this command with its defaults. The --out folder is checked writable,
    with room, before any model loads; a save the disk refuses anyway goes to a rescue folder it names (exit 1).
    mix: train on the other styles of data/reader_mix too (`reader.mix_sets`: a third of their documents held out), as
    the shipped adapter was; False: the knowledge base only (`--no-mix`). abstain_share: the share of training
    questions that also get an example without their gold source, answered with the abstention (ReaderConfig's
    default where None).
    """
    from labkit.adapters import adapter_bytes, model_skeleton, save_or_rescue
    from labkit.config import DATA_DIR, KB_DIR
    from labkit.data import READER_DIR, load_qa, reader_info, split_documents, split_questions
    from labkit.finetune import TrainConfig
    from labkit.folder_index import index_folder
    from labkit.lora_targets import lora_targets
    from labkit.models import load_embedder, load_generator
    from labkit.reader import ReaderConfig, mix_sets, save_reader, train_reader
    from labkit.reader_mix import MIX_STYLES
    from labkit.reader_sets import evaluate_readers, format_evaluation
    from labkit.readme import READER, write_block
    from labkit.report import reader_markdown
    from labkit.storage import room_problem

    steps = None if steps is None else check("num_reader_steps", steps, "--steps")
    seed = check("seed", seed, "--seed")
    abstain_share = None if abstain_share is None else check("abstain_share", abstain_share, "--abstain-share")
    target = Path(out).expanduser() if out else READER_DIR
    if (target / "labkit.json").exists() and not overwrite:
        raise ValueError(f"A reading adapter exists already in {target}; add --overwrite to replace it, or --out DIR "
                         "for a new one.")
    reader_config = ReaderConfig(seed=seed, mix_styles=MIX_STYLES if mix else ())
    if steps is not None:
        reader_config.num_steps = steps
    if abstain_share is not None:
        reader_config.abstain_share = abstain_share

    def room(model) -> None:  # a read-only or full --out must not cost the training and the scoring
        # the reader's layers
        need = 0 if model is None else adapter_bytes(model, "lora", reader_config.rank,
                                                     lora_targets(model, TrainConfig().target_modules))
        if (problem := room_problem(target.parent, need)) is not None:
            raise ValueError(f"--out {target}: {problem}. Choose a folder you can write, with room (--out DIR).")

    room(skeleton := model_skeleton(generator))
    embedder, gen = load_embedder(), load_generator(generator)
    if skeleton is None:  # the base's shapes were not known before the load
        room(gen.model)
    index = index_folder(KB_DIR, embedder)
    trained_docs, held_docs = split_documents(list(index.documents), reader_config.held_out_every)
    qa = load_qa()
    trainable, held_out = split_questions(qa, held_docs)
    # no word of a held-out document
    mixed = mix_sets(embedder, reader_config.mix_styles)
    result, examples = train_reader(gen, index, trainable, reader_config, unseen=held_docs, mix=mixed)
    meta = {"reader_config": asdict(reader_config),
            "command": "labkit train-reader" + (f" --steps {steps}" if steps else "")
            + (f" --seed {seed}" if seed else "") + ("" if mix else " --no-mix")
            + (f" --abstain-share {abstain_share:g}" if abstain_share is not None else ""),
            "train_documents": len(trained_docs), "held_out_documents": held_docs, "train_questions": len(trainable),
            "examples": len(examples), "abstain_examples": sum(e.kind == "abstain" for e in examples)}
    if mixed:
        meta["mix"] = {style: {"train_questions": len(qs), "held_out_documents": held}
                       for style, (_, qs, held) in zip(reader_config.mix_styles, mixed, strict=True)}
    print(f"labkit train-reader: {result.steps_done} steps on {len(examples)} examples ({meta['abstain_examples']} "
          "abstain) from "
          f"{len(trainable)} questions of {len(trained_docs)} documents, {result.train_s:.0f} s, {result.tokens} "
          f"tokens, {result.precision}")
    if evaluate:
        evaluation = evaluate_readers({"plain": gen, "reading adapter": result.gen}, embedder, index, held_out, qa)
        meta["evaluation"] = evaluation
        print(format_evaluation(evaluation))
    path, problem = save_or_rescue(lambda folder: save_reader(result, folder, meta), target, "reading adapter")
    print(f"saved {path} ({sum(f.stat().st_size for f in path.iterdir()) / 1e6:.1f} MB)")
    if problem:  # the disk refused it after the check: kept in a rescue folder, the READMEs left as they are
        print(f"labkit train-reader: {problem}", file=sys.stderr)
        return 1
    if target.resolve() == READER_DIR.resolve() and evaluate:
        for readme in (DATA_DIR / "README.md", DATA_DIR.parent / "README.md"):
            write_block(readme, READER, reader_markdown(reader_info(target)))
        print("wrote its figures into README.md and data/README.md")
    return 0


def run_finetune(method: str = "lora", rank: int | None = None, lr: float | None = None, num_steps: int | None = None,
                 replay: float = 0.0, fact_statements: int | None = None, save: str | None = None,
                 as_json: bool = False,
                 overwrite: bool = False, save_partial: bool = False, generator: str | None = None) -> int:
    """`labkit finetune`: train with the forgetting history, print it and the final scores; 130 if interrupted.

    Example: run_finetune("lora", num_steps=8, as_json=True) -> 0 (prints {"history": [...], "final": {...}})
    An interrupted run (Ctrl-C) is scored on the weights it kept and saved only with
    save_partial, as NAME-partial, its labkit.json saying how many steps it did. With --save the adapters
    folder is checked writable, with room for the adapter, before the model loads; a save the disk refuses
    anyway goes to a rescue folder the message names (exit 1).
    """
    from labkit.adapters import adapter_bytes, adapters_dir, model_skeleton, save_or_rescue, write_adapter
    from labkit.forgetting import change_text, final_scores, lab_config, probe_change, run_forgetting
    from labkit.lora_targets import lora_targets
    from labkit.models import load_generator
    from labkit.storage import check_name, dir_size, room_problem

    train_config = lab_config(method=method, rank=rank, lr=lr, num_steps=num_steps, replay=replay,
                              fact_statements=fact_statements)

    def room(model) -> None:  # a full or read-only cache must not cost a training run either
        # None: writable is all we know; the layers are the model's own (lora_targets), whatever its architecture
        targets = () if model is None or train_config.method != "lora" else lora_targets(model,
                                                                                          train_config.target_modules)
        need = 0 if model is None else adapter_bytes(model, train_config.method, train_config.rank, targets)
        if (problem := room_problem(adapters_dir(), need)) is not None:
            raise ValueError(f"--save {save}: {problem}. Free some space, or point LABKIT_CACHE at a folder you can "
                             "write "
                             "with room (or leave out --save).")

    if save is not None:  # before any work: a bad or taken name must not cost a training run
        check_name(save)
        check_name(f"{save}-partial")
        if (adapters_dir() / save / "labkit.json").exists() and not overwrite:
            raise ValueError(f"An adapter named {save!r} exists already in {adapters_dir()}; pick another --save name "
                             "or add --overwrite.")
        skeleton = model_skeleton(generator)  # the base's shapes from its config.json, no weights read
        room(skeleton)
    gen = load_generator(generator)
    if save is not None and skeleton is None:  # shapes not known before the load: sized now, still before training
        room(gen.model)
    run = run_forgetting(gen, train_config, progress=not as_json, on_point=None if as_json else _print_point)
    interrupted = run.result.interrupted
    final = final_scores(gen, run)
    out = {"config": asdict(train_config), "message": run.result.message, "interrupted": interrupted,
           "history": run.history, "final": final}
    name = None if save is None else (f"{save}-partial" if interrupted else save)
    problem = None
    if name is not None and (save_partial or not interrupted):
        try:  # a disk that filled during the run: the adapter goes to a rescue folder the message names
            path, problem = save_or_rescue(lambda folder: write_adapter(run.result, folder, name),
                                           adapters_dir() / name)
            out["saved"] = {"name": name, "path": str(path), "bytes": dir_size(path)}
        except RuntimeError as exc:
            problem = str(exc)
        if problem:
            out["save_problem"] = problem
    elif name is not None:
        out["not_saved"] = (f"interrupted after step {run.result.steps_done} of {train_config.num_steps}: {save!r} was "
                            "not written "
                            f"(add --save-partial to keep these weights as {name!r})")
    if as_json:
        print(json.dumps(out, indent=2, default=list))
    else:
        print(run.result.message)
        print(f"trainable parameters: {run.result.trainable_params:,} of {run.result.total_params:,}")
        for key, value in final.items():
            print(f"{key:<28} {value}")
        print(f"forgetting: {change_text(probe_change(final))}")
        if "saved" in out:
            print(f"saved {out['saved']['bytes'] / 1e6:.1f} MB to {out['saved']['path']}")
        if "not_saved" in out:
            print(out["not_saved"])
    if problem:
        print(f"labkit finetune: {problem}", file=sys.stderr)
    return 130 if interrupted else 1 if problem else 0


def _print_point(rec: dict) -> None:
    loss = "  -   " if rec.get("loss") is None else f"{rec['loss']:.3f}"
    print(f"step {rec['step']:>4}  loss {loss}  mc_acc {rec['mc_acc']:.3f}  general_acc {rec['general_acc']:.3f}  "
          f"{rec['seconds']:6.1f} s", flush=True)


SWEEP_BYTES = 1_000_000  # the sweep's JSON is ~60 kB (data/forgetting_sweep.json); a megabyte is ample


def run_sweep(out: str | None = None, quick: bool = False, generator: str | None = None) -> int:
    """`labkit sweep`: recompute the forgetting sweep and write it as JSON.
    Example: run_sweep(out="/tmp/s.json", quick=True) -> 0.

    A quick sweep runs the first two grid entries for 8 steps. The default output is in the
    cache, not the shipped data/forgetting_sweep.json: replacing that takes `--out` naming
    it, and never a quick sweep.
    """
    from labkit.data import SWEEP_PATH
    from labkit.forgetting import SWEEP_GRID, SWEEP_STEPS, compute_sweep
    from labkit.models import load_generator

    path = Path(out).expanduser() if out else get_config().cache_dir / "forgetting_sweep.json"
    if quick and path.resolve() == SWEEP_PATH.resolve():
        raise ValueError(f"a quick sweep would replace the shipped {SWEEP_PATH} with 8-step runs; write it elsewhere "
                         "(--out)")
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; name a .json file")
    from labkit.storage import room_problem

    if (why := room_problem(path.parent, SWEEP_BYTES)) is not None:  # before an hour of training, not after
        raise ValueError(f"--out {path}: {why}; choose a place you can write (--out), or free some space")
    payload = compute_sweep(load_generator(generator), path, num_steps=8 if quick else SWEEP_STEPS,
                            entries=SWEEP_GRID[:2] if quick else SWEEP_GRID, log=lambda s: print(s, flush=True))
    print(f"wrote {len(payload['runs'])} runs to {path}")
    return 0
