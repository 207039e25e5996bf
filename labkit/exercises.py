"""Exercises at the end of each notebook, and inside them where learners write the kit's core pieces: a task,
`check(answer)`, `hint()` and `solution()` (after Kaggle's learntools).

What it holds: notebooks 06 (side by side), 07 (combining and choosing) and 08 (your own documents, the capstone)'s
exercises, and `for_notebook("02")`: a notebook's exercises as attributes (`q1`, `q2`, ..., and named ones such as
`chunker` for a function the learner writes). The RAG track's are `labkit.exercises_rag`'s, the fine-tuning track's
`labkit.exercises_tuning`'s.

Every expected answer is computed when checked, from the kit's data, its committed results (`data/results.json`, the
forgetting sweep), labkit's own functions, or the learner's own run (a modify-and-rerun exercise:
`check(answer, run=...)`): never a typed number, so an exercise stays right when the data change. Hints climb towards
the answer and stop short of it; `solution()` prints it.

Example (notebook 01):
    >>> ex = for_notebook("01")
    >>> ex.q2.check((0.5, 0.9))
    Not yet: (0.50, 0.90) is not the 95% Wilson interval of 12 right out of 16. Try hint().
    False

What it leaves out: what an exercise is and how answers are graded (`labkit.grading`); the notebooks' own asserts
check the kit's numbers, exercises check the learner's reading and reasoning.
"""

from __future__ import annotations

from types import SimpleNamespace

from labkit.exercises_rag import nb01, nb02, nb03
from labkit.exercises_tuning import nb04, nb05
from labkit.grading import READINGS, Exercise, Incorrect, equal, one_of, reading, same_set
from labkit.keys import SIDE_BY_SIDE, After

# ---------------------------------------------------------------- 06


def nb06(**_) -> dict:
    from labkit.stats import intervals_overlap
    from labkit.verdicts import paired

    def taught_only(results):
        taught, untaught = results.get("differences") or {}, results.get("untaught_differences")
        if not untaught:
            raise Incorrect("these results have no untaught column (a record older than it): run the experiment live")
        ahead = {a for a in SIDE_BY_SIDE if (taught.get(a) or {}).get("measurable") and taught[a]["diff"] > 0}
        return {a for a in ahead if not ((untaught.get(a) or {}).get("measurable") and untaught[a]["diff"] > 0)}

    def retrained_apart(results):
        fresh = results.get("freshness") or {}
        rag, tuned = (fresh.get(After.RAG) or {}).get("new"), (fresh.get(After.RETRAINED) or {}).get("new")
        if not rag or not tuned:
            raise Incorrect("these results have no freshness figures for RAG and the retrained fine-tune")
        d = paired(results, "after_update", After.RAG, After.RETRAINED)
        if d is not None:
            return {"answer": d["measurable"], "basis": f"RAG minus retrained {d['diff']:+.2f} [{d['lo']:+.2f}, "
                    f"{d['hi']:+.2f}] over {d['n']} questions (paired bootstrap)"}
        apart = not intervals_overlap((rag["lo"], rag["hi"]), (tuned["lo"], tuned["hi"]))
        return {"answer": apart, "basis": f"RAG [{rag['lo']:.2f}, {rag['hi']:.2f}], retrained [{tuned['lo']:.2f}, "
                f"{tuned['hi']:.2f}] (95% intervals)"}

    def grade_fresh(answer, e):
        return equal(lambda _: f"{e['basis']}: " + ("measurable." if e["answer"] else "the interval includes zero, no "
                                                    "measurable difference; compare what each cost to get there."),
                     lambda a, _: f"{e['basis']}: a difference is measurable only when its 95% interval leaves out "
                     "zero; does this one?")(answer, e["answer"])

    def n_reading(run):
        closed, with_rag = run
        if [r["id"] for r in closed.records] != [r["id"] for r in with_rag.records]:
            raise Incorrect("ask both the same questions (`asked`)")
        return {**reading([r["match"] for r in with_rag.records], [r["match"] for r in closed.records]),
                "n": len(closed.records)}

    def grade_n(answer, e):
        return one_of(READINGS, lambda _: f"RAG against closed-book on your {e['n']} questions: {e['basis']}. The "
                      "interval narrows about as one over the square root of n: four times the questions, half the "
                      "width.",
                      lambda a, _: f"RAG against closed-book: {e['basis']}: that reads as {e['reading']!r}.")(
            answer, e["reading"])

    return {
        "q1": Exercise(
            "Which of this notebook's rows are measurably ahead of RAG on the taught column but NOT measurably ahead "
            "of it on the untaught column (questions nobody trained for)? Give a set of names (an empty set if none): "
            "ex.q1.check(answer, run=results).",
            taught_only,
            same_set(lambda e: f"{sorted(e) or 'none'}: a lead on the questions the team anticipated that does not "
                     "carry over to the ones nobody listed."),
            ["results['differences'] (taught) and results['untaught_differences'] hold each row's difference from "
             "RAG: diff, lo, hi and measurable.",
             "Keep the rows measurably ahead on the first; drop those measurably ahead on the second too. This "
             "notebook's rows are labkit.keys.SIDE_BY_SIDE."],
            "from labkit.keys import SIDE_BY_SIDE\n"
            "taught, untaught = results['differences'], results['untaught_differences']\n"
            "def ahead(d, a):\n    return a in d and d[a]['measurable'] and d[a]['diff'] > 0\n"
            "answer = {a for a in SIDE_BY_SIDE if ahead(taught, a) and not ahead(untaught, a)}",
            run_name="results"),
        "q2": Exercise(
            "After the facts change, the fine-tune retrained on them and RAG reading the updated index each give the "
            "new value in some share of answers. Is the difference between those two shares measurable? Answer True "
            "or False: ex.q2.check(answer, run=results).",
            retrained_apart, grade_fresh,
            ["Both answered the same changed-fact questions: compare them question by question.",
             "The kit pairs two rows' answers question by question and bootstraps the difference: labkit.verdicts "
             "has the function the claims table uses; the freshness rows' names are labkit.keys.After's."],
            "from labkit.keys import After\nfrom labkit.verdicts import paired\n"
            "answer = paired(results, 'after_update', After.RAG, After.RETRAINED)['measurable']",
            run_name="results"),
        "q3": Exercise(
            "Modify and rerun: the cell asks NUM_QUESTIONS of the kit's questions closed-book and with RAG. Predict "
            "whether RAG's lead is measurable at that n, run it, then ask four times as many and run it again. On your "
            "last run, does RAG read 'higher', 'lower' or 'no measurable difference' against closed-book? "
            "ex.q3.check(answer, run=(closed_mine, rag_mine)).",
            n_reading, grade_n,
            ["Both runs answered the same questions: compare them question by question.",
             "labkit.grading.reading takes RAG's per-question matches first, closed-book's second."],
            "from labkit.grading import reading\n"
            "answer = reading([r['match'] for r in rag_mine.records], [r['match'] for r in closed_mine.records])"
            "['reading']",
            run_name="(closed_mine, rag_mine)"),
    }


# ---------------------------------------------------------------- 07


def nb07(**_) -> dict:
    from labkit.choose import pick, recommend
    from labkit.data import load_shipped

    answers = {"need": "knowledge", "change": "never", "traceability": "nice to have", "compute": "no training",
               "latency_s": 60}

    def how_decided(rec):
        if set(rec.chosen) != {"knowledge"}:
            raise Incorrect("keep 'need': 'knowledge' in MY_ANSWERS (and leave some approach allowed) for this one")
        best, runner, tied = pick(rec.candidates)
        word = "only candidate" if runner is None else "cheapest among ties" if tied else "measurable lead"
        return {"word": word, "approach": best.approach, "runner": runner.approach if runner else None}

    def grade_decided(answer, e):
        why = {"only candidate": "every other approach was excluded by your constraints",
               "cheapest among ties": "a candidate is not measurably worse than the best score, so the cheapest over "
                                      "a year among them won",
               "measurable lead": f"every other candidate, {e['runner']} first, is measurably worse"}[e["word"]]
        return one_of(("measurable lead", "cheapest among ties", "only candidate"),
                      lambda _: f"{e['approach']}: {why}.",
                      lambda a, _: f"{e['approach']}: {why}; read the guide's reasons again.")(answer, e["word"])

    return {
        "q1": Exercise(
            "Predict, then ask the guide: knowledge that never changes, traceability nice to have, no training budget. "
            "Which approach does choose.recommend pick on the shipped results? Give its scoreboard name.",
            lambda: recommend(answers, load_shipped()).approach,
            equal(lambda e: f"{e}: with no training budget every trained row is excluded, whatever its accuracy.",
                  lambda a, e: f"{a!r} is not what the guide picks; print(recommend(answers, results).text()) and read "
                  "its reasons."),
            ["Which rows are left once every approach that trains is ruled out?",
             "labkit.choose.recommend takes the answers (as a dict) and the results, and says why it picked."],
            "from labkit.choose import recommend\nfrom labkit.data import load_shipped\n"
            f"answers = {answers!r}\nanswer = recommend(answers, load_shipped()).approach"),
        "q2": Exercise(
            "Modify and rerun: change one answer in MY_ANSWERS (how often the data changes, or how many questions you "
            "can list in advance), predict the pick, and run the guide. How was its pick decided: a 'measurable "
            "lead' over the runner-up, the 'cheapest among ties' (candidates not measurably worse), or the 'only "
            "candidate' left? ex.q2.check(answer, run=my_rec).",
            how_decided, grade_decided,
            ["The guide's reasons name the runner-up and say whether it is within the best one's 95% interval.",
             "Any candidate within the interval makes a tie: the guide then takes the cheapest over a year among them "
             "(which may still be the best score). Only when all others are measurably worse does the lead decide."],
            "from labkit.choose import pick\n"
            "best, runner, tied = pick(my_rec.candidates)\n"
            "answer = 'only candidate' if runner is None else 'cheapest among ties' if tied else 'measurable lead'",
            run_name="my_rec"),
    }


# ---------------------------------------------------------------- 08


def nb08(**_) -> dict:
    def plain_misses(run):
        misses = run["readers"]["plain"]["misses"]
        kinds = {k: len(v) for k, v in misses.items()}
        word = "equal" if kinds["retrieval"] == kinds["reading"] else max(kinds, key=kinds.get)
        return {"word": word, **misses, "example": run["example"], "n": run["n"]}

    def grade_misses(answer, e):
        why = (f"of {e['n']} questions, retrieval misses {e['retrieval'] or 'none'} (no gold file among the sources: "
               f"better chunks or more sources would help), reading misses {e['reading'] or 'none'} (the file was "
               "there: a better reader would help)"
               + (". This is the kit's example folder: point FOLDER at your own documents." if e["example"] else "."))
        return one_of(("retrieval", "reading", "equal"), lambda _: why, lambda a, _: why)(answer, e["word"])

    def readers_reading(run):
        plain, tuned = (run["readers"][k]["records"] for k in ("plain", "reading adapter"))
        return reading([r["match"] for r in tuned], [r["match"] for r in plain])

    def grade_readers(answer, e):
        return one_of(READINGS, lambda _: f"the reading adapter against the plain model: {e['basis']}. Five questions "
                      "separate only a large difference: add questions to make the interval narrower.",
                      lambda a, _: f"the reading adapter against the plain model: {e['basis']}: that reads as "
                      f"{e['reading']!r}.")(answer, e["reading"])

    return {
        "q1": Exercise(
            "On your documents, which kind of miss did the plain model make more often: 'retrieval' (the file holding "
            "the answer was not among the sources) or 'reading' (it was, and the answer was still wrong)? Answer "
            "'retrieval', 'reading' or 'equal' (also when it missed none): ex.q1.check(answer, run=capstone_run).",
            plain_misses, grade_misses,
            ["The table above gives each answer's cause; count the plain column's.",
             "capstone_run['readers']['plain']['misses'] lists the questions of each kind."],
            "misses = capstone_run['readers']['plain']['misses']\n"
            "r, g = len(misses['retrieval']), len(misses['reading'])\n"
            "answer = 'equal' if r == g else 'retrieval' if r > g else 'reading'",
            run_name="capstone_run"),
        "q2": Exercise(
            "Did the reading adapter answer your questions right measurably more often than the plain model? Answer "
            "'higher', 'lower' or 'no measurable difference': ex.q2.check(answer, run=capstone_run).",
            readers_reading, grade_readers,
            ["Both readers answered the same questions from the same sources: compare them question by question.",
             "labkit.grading.reading takes the adapter's per-question matches first, the plain model's second."],
            "from labkit.grading import reading\nreaders = capstone_run['readers']\n"
            "answer = reading([r['match'] for r in readers['reading adapter']['records']],\n"
            "                 [r['match'] for r in readers['plain']['records']])['reading']",
            run_name="capstone_run"),
    }


NOTEBOOKS = {"01": nb01, "02": nb02, "03": nb03, "04": nb04, "05": nb05, "06": nb06, "07": nb07, "08": nb08}


def for_notebook(number: str, **context) -> SimpleNamespace:
    """The exercises of one notebook by name (q1, q2, ..., chunker, step, ...); `context` hands them what the notebook
    has loaded (gen=...), so a check need not load it again. Example: for_notebook("04", gen=gen).labels.check(f)."""
    if number not in NOTEBOOKS:
        raise ValueError(f"no exercises for notebook {number!r}; choose one of {', '.join(NOTEBOOKS)}")
    return SimpleNamespace(**NOTEBOOKS[number](**context))


__all__ = ["NOTEBOOKS", "Exercise", "Incorrect", "for_notebook"]
