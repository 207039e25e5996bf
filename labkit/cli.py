"""The `labkit` command: argparse and the dispatch to each command's body.

Each command's body is a short function in the module named for what it does, over the modules that do the work,
so that notebooks, tests and the command line run the same code:
- `labkit doctor`        environment check (`doctor.doctor_report`)
- `labkit ask`           RAG answer with sources (`ask.run_ask`: `folder_index.index_folder` + `rag.RAG`), through the
                         background process that keeps them loaded when one runs (`ask_server`)
- `labkit unload`        stop that background process now (`ask_server.stop_servers`)
- `labkit train-reader`  train the reading adapter, score it against the plain model (`train_commands.run_train_reader`)
- `labkit finetune`      LoRA or full fine-tune with the forgetting history (`train_commands.run_finetune`)
- `labkit sweep`         recompute the forgetting lab's shipped sweep (`train_commands.run_sweep`)
- `labkit compare`       the side-by-side experiment and its report (`experiment_commands.run_compare`)
- `labkit publish`       make a full run's results the shipped ones (`experiment_commands.run_publish`)
- `labkit bundle`        pack a warm cache into one file for other laptops, or unpack one (`bundle.run_bundle`)
- `labkit sheet`         the instructor's results sheet from the committed records (`sheet.write_sheet`)
- `labkit render`        each notebook run in default mode, as HTML with its outputs, into rendered/ (`rendered.render`)
- `labkit export`        a saved adapter as a merged model folder and/or a PEFT folder, for other tools
                         (`export.run_export`)
Option values are checked while parsing, by the types of `labkit.limits`, before any work. Exit codes: 0 done;
1 done with a problem (doctor found one, a save went to a rescue folder, compare could not write its report or a
row has no accuracy); 2 refused (a bad value, a missing model or file); 130 interrupted (Ctrl-C).
What it leaves out: every command's body (the modules above) and any logic a notebook would also need.
"""

from __future__ import annotations

import argparse
import json
import sys

import labkit  # noqa: F401  (offline variables first)
from labkit.ask import ASK_RETRIEVER, run_ask
from labkit.bundle import run_bundle
from labkit.doctor import doctor_report, format_doctor
from labkit.experiment_commands import run_compare, run_publish
from labkit.export import run_export
from labkit.limits import option
from labkit.retrieval import RETRIEVERS
from labkit.train_commands import run_finetune, run_sweep, run_train_reader

GENERATOR_HELP = ("a model id in your Hugging Face cache, a local model folder, or a .gguf file (dequantised once and "
                  "cached; default: the embedded SmolLM2-135M-Instruct)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit",
                                     description="Measure RAG against LoRA fine-tuning, offline, on a CPU.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check the environment: versions, model files, cache, load times")
    p.add_argument("--no-load", action="store_true", help="skip loading the models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("ask", help="answer a question with RAG, citing sources")
    p.add_argument("question")
    p.add_argument("--docs", help="a folder of your own documents (default: the kit's knowledge base)")
    p.add_argument("--top-k", type=option("top_k"), default=3, help="sources per prompt (1 to 20)")
    p.add_argument("--json", action="store_true", help="print the answer, sources and timings as JSON")
    p.add_argument("--generator", help=GENERATOR_HELP)
    p.add_argument("--reader", choices=["adapter", "plain"], default="adapter",
                   help="adapter (default): the shipped reading adapter reads the sources; plain: the model as it is")
    p.add_argument("--retriever", choices=list(RETRIEVERS), default=ASK_RETRIEVER,
                   help=f"how sources are found: dense (embeddings), bm25 (keywords) or hybrid (both fused; default "
                        f"{ASK_RETRIEVER}, measured best: the README's retrieval table)")
    p.add_argument("--max-file-mb", type=option("max_file_mb", "--max-file-mb"), default=None, metavar="N",
                   help="read files of up to N MB (default 5, at most 100); bigger ones are skipped and reported")
    p.add_argument("--follow-links", action="store_true",
                   help="also read links to files outside the --docs folder (by default they are skipped and reported)")
    p.add_argument("--store", default=None,
                   help="where the index's vectors live: faiss (default, or $LABKIT_STORE), qdrant:memory, "
                   "qdrant:FOLDER (embedded Qdrant) or qdrant://host:port (a Qdrant server)")
    p.add_argument("--verbose", action="store_true",
                   help="show the libraries' progress bars, warnings and log lines too")
    p.add_argument("--keep-loaded", type=option("keep_loaded", "--keep-loaded"), default=None, metavar="MINUTES",
                   help="keep the model and the folder's index loaded in the background for later questions, which "
                        "then answer in about a second (default 10 minutes, or $LABKIT_KEEP_LOADED; 0: keep nothing; "
                        "labkit unload frees it now)")

    sub.add_parser("unload", help="stop the background process labkit ask keeps loaded (frees its memory now)")

    p = sub.add_parser("train-reader",
                       help="train the reading adapter (data/reader) and score it against the plain model")
    p.add_argument("--steps", type=option("num_reader_steps", "--steps"), default=None,
                   help="optimizer steps (default: ReaderConfig's)")
    p.add_argument("--seed", type=option("seed"), default=0)
    p.add_argument("--out", default=None,
                   help="where to save it (default data/reader, the shipped one: needs --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an adapter already there")
    p.add_argument("--no-eval", action="store_true", help="skip scoring plain vs adapter (about 6 minutes)")
    p.add_argument("--mix", action=argparse.BooleanOptionalAction, default=True,
                   help="train on documents of other styles too, data/reader_mix's manual pages, changelogs and "
                        "FAQs (the default, as the shipped adapter was; their prompts are up to 3x longer: about 20 "
                        "minutes on 2 cores, up to 17 GB of memory); --no-mix: the knowledge base only (about 16 "
                        "minutes)")
    p.add_argument("--abstain-share", type=option("abstain_share", "--abstain-share"), default=None,
                   help="share of training questions that also get an example without their gold source, answered "
                        "'The sources do not say.' (default 0.15)")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("finetune", help="fine-tune on the knowledge base and show learning and forgetting")
    p.add_argument("--method", choices=["lora", "full"], default="lora")
    p.add_argument("--rank", type=option("rank"), default=None, help="LoRA rank (default 16)")
    p.add_argument("--lr", type=option("lr"), default=None, help="learning rate (default 0.002)")
    p.add_argument("--num-steps", "--steps", dest="num_steps", type=option("num_steps"), default=None,
                   help="optimizer steps (default 24; 12 in quick mode)")
    p.add_argument("--replay", type=option("replay"), default=0.0,
                   help="fraction of general text mixed into each batch (0 to 0.9)")
    p.add_argument("--fact-statements", dest="fact_statements", type=option("fact_statements"), default=None,
                   help="fact statements per question trained beside its QA pair (0 to 4)")
    p.add_argument("--save", help="save the adapter (or model) under this name")
    p.add_argument("--overwrite", action="store_true", help="replace an adapter of the same name")
    p.add_argument("--save-partial", action="store_true", help="after Ctrl-C, keep the weights as NAME-partial")
    p.add_argument("--json", action="store_true")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("sweep", help="recompute the forgetting lab's precomputed sweep")
    p.add_argument("--out", default=None,
                   help="where to write it (default: the cache; name data/forgetting_sweep.json to replace the shipped "
                   "one)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--generator", help=GENERATOR_HELP)

    p = sub.add_parser("compare", help="run the side-by-side experiment and write a Markdown report")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seeds", type=option("seeds"), default=None,
                   help="how many seeds (runs) to average over (default 3; 1 in quick mode)")
    p.add_argument("--out", default="reports")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in --out")
    p.add_argument("--generator", help=GENERATOR_HELP)
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None,
                   help="where every model runs (default: $LABKIT_DEVICE, else a CUDA GPU if PyTorch sees one, else "
                   "the CPU); on a GPU answers run in bf16 and batches grow with its memory")
    p.add_argument("--workers", type=option("workers", "--workers"), default=1,
                   help="run the seeds and the behaviour experiment side by side in this many processes (each gets "
                   "cores / workers threads)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change one size of the run, e.g. --set num_questions=all --set num_steps=96 (repeatable; "
                   "labkit.compare_config)")

    p = sub.add_parser("bundle", help="carry a warm cache to other laptops: pack it into one file, or unpack one")
    p.add_argument("action", choices=["pack", "unpack"])
    p.add_argument("file", nargs="?", default="labkit-bundle.tar", help="the bundle file (default labkit-bundle.tar)")
    p.add_argument("--include-docs", action="append", default=[], metavar="DIR",
                   help="pack: also carry this folder's index, i.e. its full text (repeatable; default: only the kit's "
                   "data/kb)")

    p = sub.add_parser("export", help="write a saved adapter for other tools: a merged model folder, a PEFT folder")
    p.add_argument("name", help="the adapter's name (labkit finetune --save NAME)")
    p.add_argument("--merged", metavar="DIR", help="a standard Hugging Face model folder, the LoRA merged in")
    p.add_argument("--peft", metavar="DIR", help="the plain PEFT adapter folder (its base: the model it trained on)")
    p.add_argument("--overwrite", action="store_true", help="replace what is in DIR")

    p = sub.add_parser("publish",
                       help="make a full run's results the shipped ones: data/results.json and the README's figures")
    p.add_argument("results", help="a full-mode results.json (make report writes reports/results.json)")
    p.add_argument("--note", default="",
                   help="a sentence the README prints with the run (e.g. what else the machine was doing)")

    sub.add_parser("sheet", help="write the instructor's results sheet (docs/results_sheet.md and .html) from the "
                   "committed records")

    p = sub.add_parser("render", help="run notebooks as a learner opens them (default mode) and write each as HTML "
                       "with its outputs, with a manifest (make rendered)")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="names or numbers, e.g. 01 (default: all)")
    p.add_argument("--out", default=None, help="the folder to write (default: rendered/, the copies the README links)")
    return parser


def _ask(args) -> int:
    """`labkit ask`: through the background process that holds this folder and these settings loaded, if one runs
    (`labkit.ask_server`); else answered here, and one is started for the next question."""
    from labkit import ask_server

    minutes = ask_server.idle_minutes() if args.keep_loaded is None else args.keep_loaded
    settings = ask_server.settings_of(args.docs, args.generator, args.reader, args.max_file_mb, args.follow_links,
                                      args.store, args.retriever)
    if minutes > 0 and not args.verbose and (reply := ask_server.ask_via_server(settings, args.question, args.top_k,
                                                                                   args.json)) is not None:
        sys.stdout.write(reply["stdout"])
        sys.stderr.write(reply["stderr"])
        return int(reply["code"])
    from labkit.quiet import quiet_libraries

    with quiet_libraries(args.verbose):  # library bars and warnings stay out of the answer's output
        code = run_ask(args.question, docs=args.docs, top_k=args.top_k, as_json=args.json, generator=args.generator,
                       reader=args.reader, max_file_mb=args.max_file_mb, follow_links=args.follow_links,
                       store=args.store, retriever=args.retriever)
    if code == 0 and minutes > 0 and ask_server.start_server(settings, minutes) is not None:
        print(f"labkit ask: keeping the model and this folder's index loaded for {minutes:g} minutes, so later "
              "questions answer in about a second (labkit unload frees it now; --keep-loaded 0 keeps nothing)",
              file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `labkit` console script.
    Example: main(["doctor", "--no-load"]) -> 0; main(["finetune", "--rank", "0"]) -> 2."""
    try:
        args = _parser().parse_args(argv)
    # argparse printed its usage error (a bad option value: labkit.limits) or --help; its code, returned
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "doctor":
            report = doctor_report(load=not args.no_load, generator=args.generator)
            print(json.dumps(report, indent=2) if args.json else format_doctor(report))
            return 1 if report["problems"] else 0
        if args.command == "ask":
            return _ask(args)
        if args.command == "unload":
            from labkit.ask_server import stop_servers

            print(f"labkit unload: stopped {stop_servers()} background process(es) of labkit ask")
            return 0
        if args.command == "train-reader":
            return run_train_reader(steps=args.steps, seed=args.seed, out=args.out, overwrite=args.overwrite,
                                    generator=args.generator, evaluate=not args.no_eval, mix=args.mix,
                                    abstain_share=args.abstain_share)
        if args.command == "finetune":
            return run_finetune(
                method=args.method, rank=args.rank, lr=args.lr, num_steps=args.num_steps, replay=args.replay,
                fact_statements=args.fact_statements, save=args.save, as_json=args.json, overwrite=args.overwrite,
                save_partial=args.save_partial, generator=args.generator,
            )
        if args.command == "sweep":
            return run_sweep(out=args.out, quick=args.quick, generator=args.generator)
        if args.command == "compare":
            import os

            from labkit.compare_config import parse_settings
            from labkit.config import check_device

            if args.device:  # read by every model load, in this process and in the workers it spawns
                os.environ["LABKIT_DEVICE"] = check_device(args.device)

            return run_compare(seeds=args.seeds, out=args.out, overwrite=args.overwrite, generator=args.generator,
                               workers=args.workers, quick=True if args.quick else None, **parse_settings(args.set))
        if args.command == "bundle":
            return run_bundle(args.action, args.file, include_docs=args.include_docs)
        if args.command == "export":
            from labkit.quiet import quiet_libraries

            with quiet_libraries():  # the libraries' bars and warnings stay out of where it went
                return run_export(args.name, merged=args.merged, peft=args.peft, overwrite=args.overwrite)
        if args.command == "publish":
            return run_publish(args.results, note=args.note)
        if args.command == "sheet":
            from labkit.sheet import write_sheet  # claims and findings load numpy: only this command needs them

            for path in write_sheet():
                print(f"wrote {path}")
            return 0
        if args.command == "render":
            from labkit.rendered import RENDERED_DIR, render  # nbconvert and a kernel: only this command needs them

            return 1 if render(args.notebooks, out=args.out or RENDERED_DIR) else 0
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # ModelNotAvailableError is a RuntimeError
        print(f"labkit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"labkit {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
