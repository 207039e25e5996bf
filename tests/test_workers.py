import os

import pytest

from labkit.workers import run_tasks, threads_per_worker


def worker_view(tag: str) -> tuple:
    """What a task sees of its worker process (module level: a spawned worker imports it by name)."""
    import torch

    return tag, os.getpid(), os.environ.get("OMP_NUM_THREADS"), os.environ.get("TQDM_DISABLE"), torch.get_num_threads()


def test_tasks_run_in_other_processes_with_their_share_of_the_cores_and_come_back_in_order():
    seen = run_tasks(worker_view, [("a",), ("b",), ("c",)], workers=2)
    assert [s[0] for s in seen] == ["a", "b", "c"]  # the tasks' order, whichever worker finished first
    assert all(pid != os.getpid() for _, pid, *_ in seen) and len({pid for _, pid, *_ in seen}) <= 2
    share = threads_per_worker(2)
    assert all(s[2:] == (str(share), "1", share) for s in seen)  # threads set before torch loaded; bars off


def test_builtins_and_errors_come_back_and_a_task_gets_the_result_it_needs():
    assert run_tasks(pow, [(2, 3), (3, 2), (2,)], workers=2, needs={2: 0}) == [8, 9, 256]  # pow(2, 8): task 0's result
    with pytest.raises(ValueError, match="only need one before it"):  # refused before any process starts
        run_tasks(pow, [(2, 3), (3, 2)], workers=2, needs={0: 1})
    with pytest.raises(ZeroDivisionError):  # a task's error reaches the caller, not a hung pool
        run_tasks(divmod, [(1, 0)], workers=1)
    with pytest.raises(ValueError, match="at least 1"):
        run_tasks(pow, [(2, 3)], workers=0)
