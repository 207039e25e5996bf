"""Independent tasks side by side in worker processes, each with its share of the cores.

What it holds: `run_tasks(fn, tasks, workers)`: spawned processes (a fresh interpreter: no
forked threads or half-initialised libraries), each limited to cores // workers threads
before it imports torch (two workers each taking every core would thrash), progress bars off
(two processes would draw over each other), and each ending itself when the process that
started it is gone (killed, not Ctrl-C'd): no orphans training on. Tasks are handed out in
the order given, one at a time, to whichever worker is free: give the longest first. A task
may need another's result (`needs`): it waits for it, keeping its place in the order, and gets
that result as its last argument.

What it leaves out: what a task is (`labkit.compare` runs a seed's trainings, the behaviour
experiment and behaviour + facts, which needs its LoRA this way), and sharing memory between workers:
each loads its own models.

Example: run_tasks(pow, [(2, 3), (3, 2)], workers=2) -> [8, 9]
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait


def threads_per_worker(workers: int) -> int:
    """The threads each of `workers` processes gets: the cores shared out, at least one.
    Example: threads_per_worker(2) -> 1 on 2 cores."""
    return max(1, (os.cpu_count() or 1) // workers)


def _exit_with_parent(parent: int, every_s: float = 5.0) -> None:
    def watch():
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _start_worker(threads: int, parent: int) -> None:
    """Runs once in each worker process, before its first task."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch is imported: its thread pool is sized once
    os.environ["TQDM_DISABLE"] = "1"
    import torch

    torch.set_num_threads(threads)
    _exit_with_parent(parent)


def _call(job):
    fn, args = job
    return fn(*args)


def run_tasks(fn, tasks: list[tuple], workers: int, needs: dict[int, int] | None = None) -> list:
    """fn(*task) for every task, on `workers` spawned processes; the results in the tasks' order.

    Example: run_tasks(pow, [(2, 3), (3, 2)], workers=2) -> [8, 9]
    `fn` must be importable by name (a module-level function) and its arguments picklable.
    `needs` {i: j}: task i runs once task j (earlier in the list) is done, as fn(*tasks[i], result_j);
    e.g. run_tasks(pow, [(2, 3), (2,)], 2, needs={1: 0}) -> [8, 256].
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    needs = needs or {}
    if any(not 0 <= j < i < len(tasks) for i, j in needs.items()):
        raise ValueError(f"a task can only need one before it in the list, got {needs}")
    context = multiprocessing.get_context("spawn")
    results, running, waiting = {}, {}, list(range(len(tasks)))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(threads_per_worker(workers), os.getpid())) as pool:
        while waiting or running:
            # one task per free worker, the first that can start: none queued ahead, so a task that becomes ready keeps
            # its place
            for i in [i for i in waiting if i not in needs or needs[i] in results][: workers - len(running)]:
                waiting.remove(i)
                args = tuple(tasks[i]) + ((results[needs[i]],) if i in needs else ())
                running[pool.submit(_call, (fn, args))] = i
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                results[running.pop(future)] = future.result()  # a task's error reaches the caller here
    return [results[i] for i in range(len(tasks))]
