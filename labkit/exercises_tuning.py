"""The exercises of the fine-tuning track: notebooks 04 (LoRA from scratch) and 05 (watching forgetting).

What it holds: `nb04` and `nb05`, each returning its notebook's `Exercise`s by name. Learners write the core pieces,
checked against the kit's own: the labels with the prompt masked (`labels`, against `finetune.answer_labels`), one
training step by hand (`step`: its loss and every adapter weight it moves must match `finetune.train`'s first step on
the same batch), and the replay mixer's plan (`mixer`, against `batching.replay_counts`). Each notebook has a
modify-and-rerun exercise whose check reads the learner's own run. Expected answers are computed when checked, from
the model, the shipped sweep or the run.

What it leaves out: what an exercise is and how answers are graded (`labkit.grading`), the other notebooks'
exercises and `for_notebook` (`labkit.exercises`).
"""

from __future__ import annotations

from labkit.grading import READINGS, Exercise, Incorrect, close_to, equal, function_like, one_of, reading

HAND_BATCH = 4  # rows in the batch of the step taken by hand (a smaller batch than the loop's: a quicker check)


def hand_step_config(train_config):
    """The settings of notebook 04's step by hand: the lab's, on a batch of HAND_BATCH rows, in float32 (the hand step
    has no bf16 autocast, so train() is compared in float32 too), on question/answer examples only (a fact statement
    has no prompt to mask, and batches group examples of a length: a batch of them would not test the mask).

    Example: hand_step_config(lab_config("lora")).precision -> "float32"
    """
    from labkit.finetune import make_config

    return make_config(train_config, batch_size=HAND_BATCH, precision="float32", fact_statements=0)


def _step_checker(gen):
    """The grader of notebook 04's training step, and the kit's first step it compares with (computed once)."""
    import threading

    import torch

    from labkit.finetune import build_examples, first_step, train
    from labkit.forgetting import default_setup, lab_config, lesson

    state: dict = {}

    def setup():
        if "setup" not in state:
            from labkit.models import load_generator

            g = gen or load_generator()
            cfg = hand_step_config(lab_config("lora"))
            questions, _, _ = lesson(default_setup())
            state["setup"] = g, build_examples(g, questions, fact_statements=cfg.fact_statements), cfg
        return state["setup"]

    def kit_first_step():
        if "kit" not in state:
            g, examples, cfg = setup()
            stop = threading.Event()
            done = train(g, examples, cfg, callback=lambda rec, mg: stop.set() if rec["step"] >= 1 else None, every=1,
                         stop=stop, progress=False)
            state["kit"] = {"loss": done.history[1]["loss"],
                            "weights": {n: p.detach().clone() for n, p in done.gen.model.named_parameters()
                                        if p.requires_grad}}
        return state["kit"]

    def usual_mistakes(model, batch):
        """The losses of the two usual slips on this batch: every token scored, or no shift by one."""
        f = torch.nn.functional
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
            every = batch["input_ids"][:, 1:].masked_fill(batch["attention_mask"][:, 1:] == 0, -100)
            flat = logits[:, :-1].reshape(-1, logits.shape[-1])
            right = f.cross_entropy(flat, batch["labels"][:, 1:].reshape(-1)).item()
            slips = [(f.cross_entropy(flat, every.reshape(-1)).item(),
                     "your loss counts every token, the prompt's too: only the answer's count (labels are -100 under "
                     "the prompt; cross_entropy skips -100)"),
                    (f.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1)).item(),
                     "your loss compares each position's prediction with its own token: a model predicts the NEXT "
                     "token, so logits[:, :-1] go with labels[:, 1:]")]
            return [(value, why) for value, why in slips if abs(value - right) > 2e-3]  # a slip that changes nothing

    def grade(answer, _):
        if not callable(answer):
            raise Incorrect("pass your function itself (its name, without brackets)")
        g, examples, cfg = setup()
        parts = first_step(g, examples, cfg)
        model = parts.gen.model
        before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        slips = usual_mistakes(model, parts.batch)
        try:
            got = answer(model, parts.optimizer, parts.batch)
        except Exception as exc:  # the learner's code: say what it raised
            raise Incorrect(f"your function raised {type(exc).__name__}: {exc}") from None
        if got is None:
            raise Incorrect("it returned None: did you forget `return`? It returns the loss as a number (loss.item())")
        try:
            loss = float(got)
        except (TypeError, ValueError):
            raise Incorrect(f"return the loss as a number (loss.item()), not {type(got).__name__}") from None
        for value, why in slips:  # before the kit's own step: a usual slip is named without training anything
            if abs(loss - value) < 2e-3:
                raise Incorrect(why)
        kit = kit_first_step()
        if abs(loss - kit["loss"]) > 2e-3:
            raise Incorrect(f"your loss is {loss:.4f}; finetune.train's first step on this batch had {kit['loss']:.4f}")
        after = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
        if all(torch.equal(before[n], after[n]) for n in before):
            raise Incorrect("the loss is right, but no weight moved: after loss.backward(), call optimizer.step()")
        lr = parts.optimizer.param_groups[0]["lr"]
        agree = [((after[n] - before[n]) - (kit["weights"][n] - before[n])).abs().le(0.05 * lr).float().mean().item()
                 for n in before]
        if min(agree) < 0.999:
            raise Incorrect("the loss is right, but the weights moved differently from train()'s first step: after "
                            "backward, clip the gradients to norm 1.0 (torch.nn.utils.clip_grad_norm_ over the weights "
                            "that train), then take one step with the optimizer you are given (its learning rate is "
                            "train()'s first, warm-up included)")
        return (f"loss {loss:.4f}, and every adapter weight moved as in finetune.train's first step on the same batch: "
                "the loop runs this step again and again (adding bf16 matmuls where the CPU has them and a Ctrl-C "
                "guard).")

    return grade, kit_first_step


# ---------------------------------------------------------------- 04


def nb04(gen=None, **_) -> dict:
    import torch

    from labkit.finetune import TrainConfig, answer_labels
    from labkit.train_step import plain_step

    def lora_forward_reference(x, W, A, B, alpha, rank):
        return x @ W.T + (alpha / rank) * (x @ A.T @ B.T)

    g = torch.Generator().manual_seed(0)
    x, W = torch.randn(3, 6, generator=g), torch.randn(5, 6, generator=g)
    A, B = torch.randn(2, 6, generator=g), torch.randn(5, 2, generator=g)

    def same_tensor(answer, expected):
        if not callable(answer):
            raise Incorrect("pass your function itself (its name, without brackets)")
        try:
            got = answer(x, W, A, B, 16.0, 2)
        except Exception as exc:  # the learner's code
            raise Incorrect(f"your function raised {type(exc).__name__}: {exc}") from None
        want = lora_forward_reference(x, W, A, B, 16.0, 2)
        if not torch.is_tensor(got):
            raise Incorrect(f"your function returned {type(got).__name__}; it should return the output tensor (batch × "
                            "d_out)")
        if tuple(got.shape) != tuple(want.shape):
            raise Incorrect(
                f"the output has shape {tuple(got.shape)}; it should be {tuple(want.shape)} (batch × d_out)")
        if torch.allclose(got, x @ W.T + x @ A.T @ B.T, atol=1e-4):
            raise Incorrect("the update is not scaled: LoRA multiplies B·A·x by alpha / rank")
        if not torch.allclose(got, want, atol=1e-4):
            raise Incorrect("the numbers differ from W·x + (alpha / rank)·B·A·x; check the order of the products")
        return "W stays frozen; only A (rank × d_in) and B (d_out × rank) train, and alpha / rank scales their product."

    targets = TrainConfig().target_modules
    model_state: dict = {}

    def shapes() -> dict:
        """(d_in, d_out) of each adapted matrix of the model's first layer."""
        if "shapes" not in model_state:
            from labkit.models import causal_lm, load_generator

            layer = causal_lm((gen or load_generator()).model).model.layers[0]
            model_state["shapes"] = {name: (m.in_features, m.out_features) for name, m in layer.named_modules()
                                     if name.split(".")[-1] in targets}
        return model_state["shapes"]

    def one_layer():
        return sum(8 * (i + o) for i, o in shapes().values())

    def q_only(_):
        i, o = next(v for k, v in shapes().items() if k.endswith("q_proj"))
        return 8 * (i + o)

    def rerun_reading(run):
        base, mine = run
        if mine is base:
            raise Incorrect("this is the notebook's own run: change RANK, LR or NUM_STEPS, run the cell again, then "
                            "answer")
        n = base.setup.num_questions
        e = reading((mine.history[-1]["mc_acc"], n), (base.history[-1]["mc_acc"], n))
        return {**e, "general": (mine.history[-1]["general_acc"], base.history[-1]["general_acc"]),
                "changed": {k: getattr(mine.config, k) for k in ("rank", "lr", "num_steps")
                            if getattr(mine.config, k) != getattr(base.config, k)}}

    def grade_rerun(answer, e):
        why = (f"with {e['changed']}, the last point's mc_acc reads {e['basis']}; general_acc on the curve's items "
               f"{e['general'][0]:.2f} against {e['general'][1]:.2f}")
        return one_of(READINGS, lambda _: why + ". A single seed and these few items separate only large changes: "
                      "notebook 05's sweep and its whole-probe figures say more.",
                      lambda a, _: why + f": that reads as {e['reading']!r}.")(answer, e["reading"])

    step_grade, kit_step = _step_checker(gen)
    return {
        "labels": Exercise(
            "Write build_labels(prompt_ids, answer_ids): return (input_ids, labels), where input_ids are the prompt's "
            "token ids followed by the answer's, and labels are -100 for every prompt token followed by the answer's "
            "own ids. Check it: ex.labels.check(build_labels).",
            lambda: None,
            function_like(answer_labels, [([5, 6], [7, 8]), ([], [1, 2]), ([1, 2, 3], []), ([9], [9, 9, 4])],
                          "the prompt is masked (-100: no loss) and the answer kept, as labkit.finetune.encode does."),
            ["The two lists are the same length: one label per input token.",
             "A label of -100 means 'no loss here' (PyTorch's cross_entropy skips it); the prompt's tokens get it.",
             "The answer's positions keep the answer's own token ids as labels: that is what the model must learn to "
             "write."],
            "def build_labels(prompt_ids, answer_ids):\n"
            "    return list(prompt_ids) + list(answer_ids), [-100] * len(prompt_ids) + list(answer_ids)\n"
            "ex.labels.check(build_labels)",
            reference=answer_labels),
        "step": Exercise(
            "Write training_step(model, optimizer, batch): one step by hand. batch holds input_ids, attention_mask and "
            "labels (-100 under the prompt and the padding). Run the model on input_ids and attention_mask; take the "
            "cross-entropy of its prediction at each position against the next position's label, skipping -100; call "
            "backward; clip the gradients to norm 1.0 as the kit's loop does; take one optimizer step; clear the "
            "gradients; return the loss as a number. Check it: ex.step.check(training_step) (slower than the other "
            "checks: it takes finetune.train's first step too).",
            kit_step, step_grade,
            ["model(input_ids=..., attention_mask=...).logits has one row of vocabulary scores per position "
             "(batch × positions × vocabulary).",
             "The scores at position t predict the token at t + 1: drop the last position of the logits and the "
             "first of the labels, flatten both, and let torch.nn.functional.cross_entropy skip -100 (its "
             "ignore_index).",
             "Then backward on the loss; torch.nn.utils.clip_grad_norm_ over the weights that require a gradient "
             "(model.parameters(), filtered), with 1.0; then step and zero_grad on the optimizer. Return loss.item()."],
            "import torch\nimport torch.nn.functional as F\n\n"
            "def training_step(model, optimizer, batch):\n"
            "    logits = model(input_ids=batch['input_ids'], attention_mask=batch['attention_mask']).logits\n"
            "    scores, targets = logits[:, :-1], batch['labels'][:, 1:]\n"
            "    loss = F.cross_entropy(scores.reshape(-1, scores.shape[-1]).float(), targets.reshape(-1),\n"
            "                           ignore_index=-100)\n"
            "    loss.backward()\n"
            "    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)\n"
            "    optimizer.step()\n    optimizer.zero_grad()\n    return loss.item()\n"
            "ex.step.check(training_step)",
            reference=plain_step, lazy=True),
        "q1": Exercise(
            "The kit's LoRA adapts five matrices of every layer (TrainConfig().target_modules: "
            f"{', '.join(targets)}). How many parameters does a rank-8 adapter train on ONE layer? Read the "
            "matrices' shapes from the model: print(gen.model.model.layers[0]).",
            one_layer,
            close_to(0.0, lambda e: f"{e}: each matrix adds 8 × (d_in + d_out), and the five differ in shape "
                     "(v_proj is narrower: its heads are shared between query heads; up_proj and down_proj are wider).",
                     {q_only: "that is q_proj alone: the adapter sits on all five",
                      lambda e: q_only(e) * len(targets): "that gives every matrix q_proj's shape: read each one's "
                      "in_features and out_features"}),
            ["LoRA on a matrix with d_in inputs and d_out outputs trains A (rank × d_in) and B (d_out × rank).",
             "Each Linear in the printout shows in_features and out_features; add rank × (d_in + d_out) over the five "
             "named ones."],
            "from labkit.finetune import TrainConfig\n\nlayer = gen.model.model.layers[0]\n"
            "answer = sum(8 * (m.in_features + m.out_features) for name, m in layer.named_modules()\n"
            "             if name.split('.')[-1] in TrainConfig().target_modules)"),
        "q2": Exercise(
            "Write lora_forward(x, W, A, B, alpha, rank): a linear layer W (d_out × d_in) plus the LoRA update, for a "
            "batch x (batch × d_in). Check it with ex.q2.check(lora_forward).",
            lambda: None, same_tensor,
            ["The frozen layer alone is a product of x with W, arranged so that rows of x (batch × d_in) come out as "
             "rows of d_out numbers.",
             "The update goes through A first (down to rank numbers a row), then through B (back up to d_out), "
             "each arranged as the frozen product is.",
             "Scale the update before adding it: alpha / rank. With the kit's default alpha = 2 × rank, the update "
             "counts twice whatever the rank."],
            "def lora_forward(x, W, A, B, alpha, rank):\n    return x @ W.T + (alpha / rank) * (x @ A.T @ "
            "B.T)\nex.q2.check(lora_forward)"),
        "q3": Exercise(
            "Modify and rerun: in the cell, change RANK, LR or NUM_STEPS from the notebook's run, predict what "
            "happens to new knowledge, and run it. Did the last point's mc_acc read 'higher', 'lower' or 'no "
            "measurable difference' against the notebook's run? ex.q3.check(answer, run=(run, rerun_run)).",
            rerun_reading, grade_rerun,
            ["Both runs score mc_acc on the same held-out paraphrases, one item per taught question: "
             "run.setup.num_questions of them.",
             "labkit.grading.reading takes (rate, n) for each run (yours first) and compares their 95% intervals."],
            "from labkit.grading import reading\nn = run.setup.num_questions\n"
            "answer = reading((rerun_run.history[-1]['mc_acc'], n), (run.history[-1]['mc_acc'], n))['reading']",
            run_name="(run, rerun_run)"),
    }


# ---------------------------------------------------------------- 05


def nb05(**_) -> dict:
    from labkit.batching import replay_counts
    from labkit.data import load_sweep
    from labkit.forgetting import change_text, drop_and_gain, lab_config, nearest_run, probe_change, sweep_runs

    def rank_runs():
        return sweep_runs(load_sweep(), "lora", lr=2e-3, replay=0.0)

    def most_forgetful():
        return max(rank_runs(), key=lambda r: drop_and_gain(r)["drop"])["entry"]["rank"]

    def explain_rank(answer, expected):
        drops = ", ".join(f"rank {r['entry']['rank']} {drop_and_gain(r)['drop']:.2f}" for r in rank_runs())
        elsewhere = max(sweep_runs(load_sweep(), "lora", replay=0.0), key=lambda r: drop_and_gain(r)["drop"])
        blame = (f" Rank {answer}'s largest drop in the whole sweep is at lr {elsewhere['entry']['lr']:g}: the "
                 "learning rate did that, not the rank. Compare ranks at one learning rate."
                 if answer == elsewhere["entry"].get("rank") and elsewhere["entry"]["lr"] != 2e-3 else "")
        return f"at lr 2e-3 the drops are {drops}.{blame}"

    def measurable():
        run = max(rank_runs(), key=lambda r: drop_and_gain(r)["drop"])
        return probe_change(run)["measurable"]

    def live_reading(run):
        live, final = run
        lab = lab_config("lora")
        if all(getattr(live.config, k) == getattr(lab, k) for k in ("method", "rank", "lr", "num_steps", "replay")):
            raise Incorrect("this run used the lab's own settings: change LR or REPLAY in the cell, run it again, then "
                            "answer")
        change = probe_change(final)
        c = live.config
        near = nearest_run(load_sweep(), c.method, c.rank, c.lr, c.replay)
        return {"answer": change["measurable"], "text": change_text(change),
                "near": f"{near['key']}: {change_text(probe_change(near))}"}

    def grade_live(answer, e):
        return equal(lambda _: f"{e['text']}. The shipped sweep's nearest run, {e['near']}.",
                     lambda a, _: f"{e['text']}: read the two intervals again.")(answer, e["answer"])

    return {
        "mixer": Exercise(
            "Write replay_counts(num_steps, batch_size, replay): how many general-text rows each batch of a run holds "
            "(the replay mixer's plan). Over the first s batches there are round(s × replay × batch_size) general rows "
            "in all, so the running share tracks replay; a batch always keeps at least one row of the lesson, and "
            "never holds fewer than zero general rows. Check it: ex.mixer.check(replay_counts).",
            lambda: None,
            function_like(replay_counts, [(4, 8, 0.25), (2, 8, 0.1), (5, 8, 0.0), (6, 4, 0.3), (3, 2, 0.9),
                                          (10, 8, 0.15), (1, 1, 0.5)],
                          "the same plan as labkit.batching.replay_counts, so the batches you see below are the ones "
                          "the lab trains on."),
            ["Work with running totals: the total wanted after batch s (counting from 1) is round(s × replay × "
             "batch_size).",
             "Batch s gets the total after it minus the total after the batch before it (0 before the first).",
             "Cap each batch's count at batch_size − 1 (one lesson row always stays) and at 0 from below."],
            "def replay_counts(num_steps, batch_size, replay):\n"
            "    def total(s):\n        return round(s * replay * batch_size)\n"
            "    return [max(0, min(batch_size - 1, total(s + 1) - total(s))) for s in range(num_steps)]\n"
            "ex.mixer.check(replay_counts)",
            reference=replay_counts),
        "q1": Exercise(
            "In the rank comparison of section 5 (LoRA at lr 2e-3, no replay), which rank lost the most general "
            "knowledge (the largest general_acc drop on the whole probe)? Give the rank.",
            most_forgetful,
            equal(lambda e: f"rank {e}; now look at its interval before calling it a trend (q2).",
                  lambda a, e: explain_rank(a, e)),
            ["sweep_runs(sweep, 'lora', lr=2e-3, replay=0.0) lists the three runs the section compares.",
             "drop_and_gain(run)['drop'] is a run's general_acc drop on the whole probe; the largest wins."],
            "from labkit.data import load_sweep\nfrom labkit.forgetting import drop_and_gain, sweep_runs\n"
            "runs = sweep_runs(load_sweep(), 'lora', lr=2e-3, replay=0.0)\n"
            "answer = max(runs, key=lambda r: drop_and_gain(r)['drop'])['entry']['rank']"),
        "q2": Exercise(
            "Is that run's drop measurable? Its final scores, run['final'], are general_acc_before and "
            "general_acc_after over run['final']['n_probe'] probe items (the whole probe). Answer True if their 95% "
            "Wilson intervals do not overlap, else False.",
            measurable,
            equal(lambda e: ("the intervals do not overlap: a measurable loss." if e else
                             "the intervals overlap: on this many probe items the drop is no measurable difference."),
                  lambda a, e: "compute both intervals with wilson_interval(rate, n) over run['final']['n_probe'] "
                  "items and compare their ends."),
            ["One item moves a score by 1/n: over the whole probe that is small, over a curve's few items large.",
             "labkit.stats.wilson_interval takes a rate and its n; two intervals overlap when each starts below the "
             "other's end."],
            "from labkit.data import load_sweep\nfrom labkit.stats import wilson_interval\n"
            "from labkit.forgetting import drop_and_gain, sweep_runs\n"
            "runs = sweep_runs(load_sweep(), 'lora', lr=2e-3, replay=0.0)\n"
            "f = max(runs, key=lambda r: drop_and_gain(r)['drop'])['final']\n"
            "(lo1, hi1) = wilson_interval(f['general_acc_before'], f['n_probe'])\n"
            "(lo2, hi2) = wilson_interval(f['general_acc_after'], f['n_probe'])\nanswer = not (lo1 <= hi2 and lo2 <= "
            "hi1)"),
        "q3": Exercise(
            "Modify and rerun: in the live run's cell (section 1), change LR or REPLAY, predict whether the model "
            "will forget measurably, and run it. Did your run lose general knowledge measurably (general_acc before "
            "and after, on the whole probe, intervals apart)? Answer True or False: "
            "ex.q3.check(answer, run=(live, live_final)).",
            live_reading, grade_live,
            ["probe_change(live_final) holds both rates with their intervals over the whole probe.",
             "Measurable means the two 95% intervals do not overlap."],
            "from labkit.forgetting import probe_change\nanswer = probe_change(live_final)['measurable']",
            run_name="(live, live_final)"),
    }
