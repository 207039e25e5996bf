"""The exercises of the RAG track: notebooks 01 (the closed-book baseline), 02 (RAG from scratch) and 03 (freshness and
tuning).

What it holds: `nb01`, `nb02`, `nb03`, each returning its notebook's `Exercise`s by name. Notebook 02's learners write
two of the kit's core pieces, checked against the kit's own: the chunker (`chunker`, against
`corpus.chunk_paragraphs`) and the numbered-sources prompt (`prompt`, against `rag.build_prompt`); the notebook then
goes on with theirs once it passes (`Exercise.use`). Every notebook from 02 has a modify-and-rerun exercise whose check
reads the learner's own run. Every expected answer is computed when checked, from the kit's data or the run.

What it leaves out: what an exercise is and how answers are graded (`labkit.grading`), the other notebooks'
exercises and `for_notebook` (`labkit.exercises`).
"""

from __future__ import annotations

from labkit.grading import READINGS, Exercise, Incorrect, function_like, one_of, reading, same_set


def first_difference(got: list, want: list, what: str = "item") -> str:
    """Where two lists first differ, in words a learner can act on.

    Example: first_difference(["a", "b"], ["a", "c"], "chunk") -> "chunk 2 is 'b'; the kit's is 'c'"
    """
    for i, (g, w) in enumerate(zip(got, want, strict=False), 1):
        if g != w:
            return f"{what} {i} is {g!r}; the kit's is {w!r}"
    return f"you made {len(got)} {what}s; the kit makes {len(want)}"


def _same_run(mine, theirs, setting: str) -> None:
    if mine is theirs:
        raise Incorrect(f"this is the notebook's own run: change {setting}, run the cell again, then answer")


# ---------------------------------------------------------------- 01


def nb01(**_) -> dict:
    from labkit.stats import wilson_interval

    def above_chance(run):
        lo, hi = wilson_interval(run["mc_acc"], run["n"])
        return {"answer": lo > run["chance"], "lo": lo, "hi": hi, **run}

    def grade_chance(answer, e):
        figure = f"{e['mc_acc']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}] over {e['n']} items, chance {e['chance']:.2f}"
        if answer not in (True, False):
            raise Incorrect(f"answer True or False, not {answer!r}")
        if answer == e["answer"]:
            return (f"{figure}: " + ("the whole interval lies above chance, so the model knows some of it." if answer
                                     else "the interval reaches chance, so this is no measurable difference from "
                                          "guessing: the model cannot know the company's facts."))
        raise Incorrect(f"{figure}: " + ("the interval includes chance (or lies below it), so it is not measurably "
                                         "above it." if answer else "the whole interval lies above chance."))

    def interval_grade(answer, expected):
        try:
            lo, hi = (float(x) for x in answer)
        except (TypeError, ValueError):
            raise Incorrect("give the interval as two numbers: (low, high)") from None
        if abs(lo - expected[0]) < 0.01 and abs(hi - expected[1]) < 0.01:
            return (f"12 of 16 is 0.75, but the 95% interval runs from {expected[0]:.2f} to {expected[1]:.2f}: one "
                    "item more or less moves the score 0.06, so small differences between runs on 16 items mean "
                    "little.")
        sd = (0.75 * 0.25 / 16) ** 0.5
        if abs(lo - (0.75 - 1.96 * sd)) < 0.01:
            raise Incorrect("that is the normal approximation (rate ± 1.96·sd); the kit uses the Wilson interval, "
                            "which stays inside [0, 1] at small n")
        raise Incorrect(f"({lo:.2f}, {hi:.2f}) is not the 95% Wilson interval of 12 right out of 16. Try hint().")

    return {
        "q1": Exercise(
            "Is the base model's domain multiple-choice accuracy (printed above with its interval) measurably above "
            "chance, the score of guessing among an item's choices? Answer True or False, and pass the cell's record: "
            "ex.q1.check(answer, run=domain_mc).",
            above_chance, grade_chance,
            ["Chance is one over the number of choices of an item; the record holds it as domain_mc['chance'].",
             "A rate is measurably above chance only when its whole 95% interval lies above chance: compare the "
             "interval's lower end with chance."],
            "from labkit.stats import wilson_interval\n"
            "low, high = wilson_interval(domain_mc['mc_acc'], domain_mc['n'])\nanswer = low > domain_mc['chance']",
            run_name="domain_mc"),
        "q2": Exercise(
            "A fine-tune scores 12 of 16 probe items right. Give the 95% interval of that rate as (low, high).",
            lambda: wilson_interval(12 / 16, 16), interval_grade,
            ["The kit prints every rate with the same interval; the glossary names it.",
             "labkit.stats has a function for it that takes the rate (a share, not a count) and n."],
            "from labkit.stats import wilson_interval\nanswer = wilson_interval(12 / 16, 16)"),
    }


# ---------------------------------------------------------------- 02


def _chunk_cases():
    from labkit.config import KB_DIR
    from labkit.corpus import _units, split_sections, word_count
    from labkit.documents import load_folder

    doc = load_folder(KB_DIR).documents[0]
    real = _units(split_sections(doc.text, doc.title)[0][1], 40, word_count)  # a real section, at a small budget
    return [("faq", ["a b", "c d", "e f"], 4, 2), ("doc", ["one two three", "four five", "six"], 5, 0),
            ("doc", ["a b c", "d e f", "g h i j k"], 6, 3), ("x", ["a", "b"], 10, 2, 7),
            ("y", ["a b c d e f g", "h"], 4, 1), ("z", [], 8, 2), (doc.id, real, 40, 10, 2)]


def _prompt_cases():
    from labkit.config import KB_DIR
    from labkit.corpus import chunk_corpus
    from labkit.documents import load_folder
    from labkit.rag import Source

    chunks = chunk_corpus(load_folder(KB_DIR))[:3]
    real = [Source(i, c.id, c.doc_id, c.path, c.title, c.heading, 0.5, c.text) for i, c in enumerate(chunks, 1)]
    long = Source(2, "b#0", "b", "b.md", "The B Guide", "", 0.4, " ".join(f"w{i}" for i in range(150)))
    spaced = Source(1, "a#1", "a", "a.md", "A", "A > Price", 0.9, "It   costs\n$89.")
    return [("What is the price of the Brimble Kettle?", real), ("  How long?  ", [spaced, long]),
            ("Who?", [spaced])]


def nb02(**_) -> dict:
    from labkit.config import KB_DIR
    from labkit.corpus import CHUNK_OVERLAP, CHUNK_SIZE, chunk_corpus, chunk_paragraphs
    from labkit.documents import load_folder
    from labkit.evaluate import miss_split, recall_at_k
    from labkit.rag import build_prompt

    def grade_chunker(answer, expected):
        if not callable(answer):
            raise Incorrect("pass your function itself (its name, without brackets)")
        for args in _chunk_cases():
            want = chunk_paragraphs(*args)
            try:
                got = answer(*args)
            except Exception as exc:  # the learner's code: say what it raised, on which input
                raise Incorrect(f"your function raised {type(exc).__name__}: {exc} on {args[:4]!r}") from None
            if got is None:
                raise Incorrect("it returned None: did you forget `return`? It returns a list of (id, text) pairs")
            if not isinstance(got, list):
                raise Incorrect(f"it returned {type(got).__name__}; it returns a list of (chunk_id, text) pairs")
            got = [tuple(g) if isinstance(g, list) else g for g in got]
            if got != want:
                raise Incorrect(f"on doc_id={args[0]!r}, chunk_size={args[2]}, overlap={args[3]}, start="
                                f"{args[4] if len(args) > 4 else 0} (paragraphs {args[1][:4]!r}"
                                f"{' ...' if len(args[1]) > 4 else ''}): {first_difference(got, want, 'chunk')}")
        return ("it packs and numbers every case as labkit.corpus does, overlap included: the notebook now chunks the "
                "knowledge base with your function.")

    def grade_prompt(answer, expected):
        if not callable(answer):
            raise Incorrect("pass your function itself (its name, without brackets)")
        for question, sources in _prompt_cases():
            want = build_prompt(question, sources)
            try:
                got = answer(question, sources)
            except Exception as exc:  # the learner's code
                raise Incorrect(f"your function raised {type(exc).__name__}: {exc} (question {question!r})") from None
            if not isinstance(got, str):
                raise Incorrect(f"it returned {type(got).__name__}; it returns the prompt as one string")
            if got != want:
                lines = first_difference(got.split("\n"), want.split("\n"), "line")
                raise Incorrect(f"for {question!r}: {lines}")
        return ("your prompt is the kit's, line for line: sources first, each with its number, then the question, then "
                "the instruction (a 135M model follows an instruction placed after the sources best).")

    def chunks_and_reason():
        count = len(chunk_corpus(load_folder(KB_DIR), chunk_size=64, overlap=16))
        ratio = count / len(chunk_corpus(load_folder(KB_DIR), CHUNK_SIZE, CHUNK_OVERLAP))
        return count, ("a" if ratio > 2.05 else "b" if ratio < 1.95 else "c"), ratio

    def grade_chunks(answer, expected):
        count, letter, ratio = expected
        if not isinstance(answer, tuple) or len(answer) != 2:
            raise Incorrect("answer a pair: (the count, the letter of the reason), e.g. (300, 'c')")
        got, why = answer
        if got != count:
            fewer = isinstance(got, int) and got < count / 1.5
            hint = " (that is fewer: a smaller chunk_size gives more chunks)" if fewer else ""
            raise Incorrect(f"{got!r} is not the count{hint}: run chunk_corpus with chunk_size=64, overlap=16 and "
                            "count the chunks")
        if str(why).strip().lower() not in ("a", "b", "c"):
            raise Incorrect("the reason is one letter: 'a', 'b' or 'c'")
        if str(why).strip().lower() != letter:
            raise Incorrect(f"the count is right ({count}), but it is {ratio:.1f} times the notebook's: read the "
                            "reasons again against that ratio")
        return (f"{count} chunks, {ratio:.1f} times the {CHUNK_SIZE}-word setting's: "
                + ("the overlap repeats words in every chunk, and every section ends in a short chunk, so halving the "
                   "size more than doubles the count." if letter == "a" else
                   f"many sections are shorter than {CHUNK_SIZE} words: they were one chunk and stay one chunk, so "
                   "halving the size does not double the count." if letter == "b" else
                   "here the count doubles, as if every chunk were cut in two."))

    def top_k_reading(run):
        base, mine = run
        _same_run(mine, base, "TOP_K")
        if [r["id"] for r in mine.records] != [r["id"] for r in base.records]:
            raise Incorrect("your run asked other questions than the notebook's: keep `subset` and change only TOP_K")
        r = reading([r["match"] for r in mine.records], [r["match"] for r in base.records])
        k = max((len(x["sources"]) for x in mine.records), default=0)
        return {**r, "k": k, "mine": miss_split(mine.records), "base": miss_split(base.records)}

    def grade_top_k(answer, e):
        why = (f"top_k={e['k']} against 3: accuracy {e['basis']}. Misses by cause, yours against the notebook's: "
               f"retrieval {e['mine']['retrieval_miss']:.2f} vs {e['base']['retrieval_miss']:.2f}, reading "
               f"{e['mine']['reading_miss']:.2f} vs {e['base']['reading_miss']:.2f}")
        return one_of(READINGS, lambda _: why + ". More sources find the gold document more often, and give a 135M "
                      "reader more to read past.",
                      lambda a, _: why + f": that reads as {e['reading']!r}.")(answer, e["reading"])

    recall_cases = [(["a", "b", "c"], {"b"}, 1), (["a", "b", "c"], {"b"}, 2), (["a", "b"], {"c"}, 2),
                    (["a", "b", "c"], {"a", "c"}, 3), (["x", "y"], ["y"], 5), (["a", "b"], {"a", "c"}, 2),
                    (["a", "a", "b"], {"b"}, 2), (["a", "b", "c", "d"], ["d", "b"], 3)]
    return {
        "chunker": Exercise(
            "Write chunk(doc_id, paragraphs, chunk_size, overlap, start=0): pack a section's paragraphs, in order, "
            "into chunks of at most chunk_size words (a paragraph is never split; one longer than chunk_size makes a "
            "chunk alone). When the next paragraph does not fit, close the chunk and start the next one with the "
            "closed chunk's last paragraphs, walking back from its end while they add up to at most overlap words and"
            " still leave room for the new paragraph. Join a chunk's paragraphs with a blank line. Return (chunk_id, "
            "text) pairs; the id is doc_id, '#', and the chunk's position counted on from start. Check it: "
            "ex.chunker.check(chunk).",
            lambda: None, grade_chunker,
            ["Count words with len(text.split()). Keep a list of the current chunk's paragraphs and its word count; "
             "add a paragraph while the count stays within chunk_size.",
             "When a paragraph does not fit (and the chunk is not empty): save the chunk, then build the carry-over by "
             "walking its paragraphs from the last one backwards; stop at the first that would take the carry-over "
             "past overlap, or the carry-over plus the new paragraph past chunk_size.",
             "After the loop, save the last chunk if it holds anything. Number the saved chunks 0, 1, 2, ... and add "
             "start to each number: a document's later sections go on counting where its earlier ones stopped, so an "
             "id names one chunk of one document and no other document's change moves it."],
            "def chunk(doc_id, paragraphs, chunk_size, overlap, start=0):\n"
            "    chunks, current, size = [], [], 0\n"
            "    for para in paragraphs:\n"
            "        n = len(para.split())\n"
            "        if current and size + n > chunk_size:\n"
            "            chunks.append(current)\n"
            "            carry, carried = [], 0\n"
            "            for prev in reversed(current):\n"
            "                c = len(prev.split())\n"
            "                if carried + c > overlap or carried + c + n > chunk_size:\n"
            "                    break\n"
            "                carry.insert(0, prev)\n"
            "                carried += c\n"
            "            current, size = carry, carried\n"
            "        current.append(para)\n"
            "        size += n\n"
            "    if current:\n"
            "        chunks.append(current)\n"
            "    return [(f'{doc_id}#{start + i}', '\\n\\n'.join(c)) for i, c in enumerate(chunks)]\n"
            "ex.chunker.check(chunk)",
            reference=chunk_paragraphs),
        "prompt": Exercise(
            "Write numbered_prompt(question, sources): the prompt RAG gives the model. Its lines: 'Sources:'; one line "
            "per source, '[number] heading: text' (the source's title where it has no heading; the text's words "
            "joined by single spaces, cut to the first rag.MAX_SOURCE_WORDS with ' ...' after a cut); an empty line; "
            "'Question: ' and the question without its surrounding spaces; and rag.INSTRUCTION last. "
            "Check it: ex.prompt.check(numbered_prompt).",
            lambda: None, grade_prompt,
            ["Build a list of lines and join it with '\\n' at the end. Each source has .number, .heading, .title and "
             ".text.",
             "A source's line needs its words: text.split() gives them without the extra spaces and line breaks; keep "
             "at most MAX_SOURCE_WORDS of them and mark a cut.",
             "After the source lines come three more: an empty one, the question line (strip() the question), and the "
             "instruction, in that order."],
            "from labkit.rag import INSTRUCTION, MAX_SOURCE_WORDS\n\n"
            "def numbered_prompt(question, sources):\n"
            "    lines = ['Sources:']\n"
            "    for s in sources:\n"
            "        words = s.text.split()\n"
            "        text = ' '.join(words[:MAX_SOURCE_WORDS]) + (' ...' if len(words) > MAX_SOURCE_WORDS else '')\n"
            "        lines.append(f'[{s.number}] {s.heading or s.title}: {text}')\n"
            "    return '\\n'.join(lines + ['', f'Question: {question.strip()}', INSTRUCTION])\n"
            "ex.prompt.check(numbered_prompt)",
            reference=build_prompt),
        "q1": Exercise(
            f"Predict, then count: how many chunks does the knowledge base give with chunk_size=64 and overlap=16 (the "
            f"notebook used {CHUNK_SIZE} and {CHUNK_OVERLAP})? Then pick why: 'a' more than twice as many, because the "
            "overlap repeats words in every chunk and every section ends in a short chunk; 'b' fewer than twice as "
            f"many, because many sections are shorter than {CHUNK_SIZE} words and stay one chunk either way; 'c' "
            "twice as many, because halving the size cuts every chunk in two. Answer (count, letter), e.g. (300, 'c').",
            chunks_and_reason, grade_chunks,
            ["chunk_corpus takes chunk_size and overlap; count what it returns for the knowledge base (kb).",
             "Divide your count by the notebook's len(chunks): above 2, at 2 or below 2 picks the reason."],
            "from labkit.config import KB_DIR\nfrom labkit.corpus import chunk_corpus\n"
            "from labkit.documents import load_folder\n\nkb = load_folder(KB_DIR)\n"
            "chunks_64 = chunk_corpus(kb, chunk_size=64, overlap=16)\n"
            "ratio = len(chunks_64) / len(chunk_corpus(kb))  # the kit's setting, as the notebook's chunks\n"
            "answer = (len(chunks_64), 'a' if ratio > 2.05 else 'b' if ratio < 1.95 else 'c')"),
        "q2": Exercise(
            "Write recall(retrieved, gold, k): the share of the gold document ids found among the first k distinct "
            "retrieved ids (a document retrieved twice, as two of its chunks, counts once). "
            "Check it by passing the function itself: ex.q2.check(recall).",
            lambda: None,
            function_like(recall_at_k, recall_cases,
                          "it agrees with labkit.evaluate.recall_at_k on every case, repeated documents and several "
                          "gold documents included."),
            ["Drop repeated ids first, keeping the order: a document's second chunk must not push another out of the "
             "first k.",
             "Then look only at the first k of what is left.",
             "The result is a share: how many gold documents are among them, over how many gold documents there are."],
            "def recall(retrieved, gold, k):\n    first = list(dict.fromkeys(retrieved))[:k]\n"
            "    return len(set(gold) & set(first)) / len(set(gold))\nex.q2.check(recall)"),
        "q3": Exercise(
            "Modify and rerun: set TOP_K in the cell to another number of sources (1, 2, 5 or 8), predict how "
            "accuracy moves, and run it. On the same questions as the notebook's top_k=3, did your run's accuracy "
            "read 'higher', 'lower' or 'no measurable difference'? ex.q3.check(answer, run=(with_rag, rerun)).",
            top_k_reading, grade_top_k,
            ["The same questions in the same order: compare the two runs question by question (paired), not by two "
             "separate intervals.",
             "labkit.grading.reading takes the two lists of per-question matches (yours first) and says how they "
             "read; the difference counts only if its 95% interval leaves out zero."],
            "from labkit.grading import reading\n"
            "answer = reading([r['match'] for r in rerun.records], [r['match'] for r in with_rag.records])['reading']",
            run_name="(with_rag, rerun)"),
    }


# ---------------------------------------------------------------- 03


def nb03(**_) -> dict:
    from labkit.data import load_updates
    from labkit.evaluate import is_match

    def miss_causes(run):
        answers, values = run
        misses = {"retrieval": 0, "reading": 0}
        for a, value in zip(answers, values, strict=True):
            if not is_match(a.answer, [value]):
                misses["reading" if any(is_match(s.text, [value]) for s in a.sources) else "retrieval"] += 1
        word = ("equal" if misses["retrieval"] == misses["reading"]
                else max(misses, key=misses.get))
        return {"word": word, **misses, "n": len(values)}

    def grade_causes(answer, e):
        figure = (f"of {e['n']} answers, {e['retrieval'] + e['reading']} do not give the new value: "
                  f"{e['retrieval']} with no source stating it (retrieval), {e['reading']} with a source that stated "
                  "it (reading)")
        return one_of(("retrieval", "reading", "equal"),
                      lambda _: figure + ". The update reached the index at once; what is left is mostly the reader's "
                      "to fix (notebook 02's reading adapter, notebook 07's RAFT).",
                      lambda a, _: figure + ".")(answer, e["word"])

    def chunk_reading(run):
        base, mine = run
        _same_run(mine, base, "CHUNK_SIZE")
        if [r["id"] for r in mine["records"]] != [r["id"] for r in base["records"]]:
            raise Incorrect("score both indexes on the same questions (qa_list)")
        return reading([r["recall@3"] for r in mine["records"]], [r["recall@3"] for r in base["records"]])

    def grade_chunk_reading(answer, e):
        return one_of(READINGS, lambda _: f"recall@3: {e['basis']}. Smaller chunks are more precise but carry less of "
                      "their section; larger ones the reverse, and every chunk competes for the top 3.",
                      lambda a, _: f"recall@3: {e['basis']}: that reads as {e['reading']!r}.")(answer, e["reading"])

    return {
        "q1": Exercise(
            "Which documents does data/updates.jsonl change? Give their doc_ids (a list or set): only these are "
            "re-embedded by an index update.",
            lambda: {u["doc_id"] for u in load_updates()},
            same_set(lambda e: f"{len(e)} documents; the rest of the index is untouched, which is why an update takes "
                     "seconds."),
            ["labkit.data.load_updates() returns one record per changed fact.",
             "Each record names the document it edits; collect those names in a set, so each document counts once."],
            "from labkit.data import load_updates\nanswer = {u['doc_id'] for u in load_updates()}"),
        "q2": Exercise(
            "After the update, some answers still do not give the new value. Among them, which cause is more common: "
            "'retrieval' (no source the model saw states the new value) or 'reading' (a source stated it, and the "
            "answer did not)? Answer 'retrieval', 'reading' or 'equal', and pass the answers and their new values: "
            "ex.q2.check(answer, run=(after, values)).",
            miss_causes, grade_causes,
            ["Each answer in `after` has .answer and .sources (each with .text); `values` holds its new value.",
             "For each answer without the new value, ask whether any of its sources contains the value (is_match "
             "compares as the scorer does): yes is a reading miss, no a retrieval miss."],
            "from labkit.evaluate import is_match\n"
            "wrong = [(a, v) for a, v in zip(after, values) if not is_match(a.answer, [v])]\n"
            "reading_misses = sum(any(is_match(s.text, [v]) for s in a.sources) for a, v in wrong)\n"
            "retrieval_misses = len(wrong) - reading_misses\n"
            "answer = ('equal' if reading_misses == retrieval_misses\n"
            "          else 'reading' if reading_misses > retrieval_misses else 'retrieval')",
            run_name="(after, values)"),
        "q3": Exercise(
            "Modify and rerun: set CHUNK_SIZE in the cell to a size the sweep above did not try (e.g. 48 or 256), "
            "predict recall@3, and run it (a new size embeds the knowledge base once: a minute or so). On the same "
            "questions, did recall@3 read 'higher', 'lower' or 'no measurable difference' against the kit's chunk "
            "size? ex.q3.check(answer, run=(kit_eval, rerun_eval)).",
            chunk_reading, grade_chunk_reading,
            ["Both evaluations score the same questions in the same order: compare them question by question.",
             "labkit.grading.reading takes the two lists of per-question recall@3 (yours first)."],
            "from labkit.grading import reading\n"
            "answer = reading([r['recall@3'] for r in rerun_eval['records']],\n"
            "                 [r['recall@3'] for r in kit_eval['records']])['reading']",
            run_name="(kit_eval, rerun_eval)"),
    }
