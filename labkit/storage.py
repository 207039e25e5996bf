"""Writing a directory so that readers never see it half-written, and naming it safely.

The model cache, saved adapters and saved indexes are all directories of several files. If a learner presses Ctrl-C, or
the disk fills, in the middle of writing one, the next run must find either the old directory or the new one, never a
mix. `atomic_dir` gives the writer a private temporary directory beside the target and swaps it in with renames only
when the writer has finished without an error. `check_name` vets a user-given name before it becomes a folder
(adapters), `dir_size` measures what was written and `room_problem` whether a folder can take it; a write the disk
refuses anyway raises one of `WRITE_ERRORS` (safetensors has its own error), `write_error_reason` says why in short.
What it leaves out: what goes inside the directories (models, adapters and indexes write their own files), and a warm
cache carried as one file (`labkit.cache_bundle`).

Example:
    >>> from pathlib import Path
    >>> with atomic_dir(Path("/tmp/labkit-demo")) as tmp:
    ...     _ = (tmp / "a.json").write_text("{}")
    >>> sorted(p.name for p in Path("/tmp/labkit-demo").iterdir())
    ['a.json']
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safetensors import SafetensorError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _owner(path: Path) -> int | None:
    """The writer's process id written into a temporary name (".name.tmp-<pid>-xyz"), or None."""
    try:
        return int(path.name.rsplit(".", 1)[-1].split("-")[1])
    except (IndexError, ValueError):
        return None


def recover(target) -> list[str]:
    """Undo what a killed writer left beside `target`; returns what was done, one line each.

    Example: recover(cache / "adapters" / "keeper") -> ["restored keeper from .keeper.old-4242-ab12"]
    A writer killed between its two renames left the previous version moved aside and no
    target: it is put back. Temporary folders of writers that are no longer running are
    deleted (they held half-written copies). Folders of a writer still running are left alone.
    """
    target = Path(target).expanduser()
    done: list[str] = []
    if not target.parent.is_dir():
        return done
    for aside in sorted(target.parent.glob(f".{target.name}.old-*")):
        pid = _owner(aside)
        if pid is not None and pid != os.getpid() and _pid_alive(pid):
            continue
        if not target.exists() and (aside / "dir").exists():
            (aside / "dir").rename(target)
            done.append(f"restored {target.name} from {aside.name}")
        shutil.rmtree(aside, ignore_errors=True)
    for tmp in sorted(target.parent.glob(f".{target.name}.tmp-*")):
        pid = _owner(tmp)
        if pid is None or (pid != os.getpid() and not _pid_alive(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            done.append(f"removed {tmp.name}, left by a writer that was stopped")
    return done


@contextmanager
def atomic_dir(target) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces `target`, on any error it is deleted.

    The temporary name starts with a dot, so listings that skip hidden entries never show it,
    and carries the writer's process id, so `recover` (run first) can tell a killed writer's
    leftovers from a live one's. The old target is moved aside before the new one is renamed
    in, so the window in which neither exists is two renames long, and a kill inside it is
    undone by the next `recover`; the old copy is removed only afterwards.
    """
    target = Path(target).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    olds: list[Path] = []
    try:
        yield tmp
        # Two writers of one target (two test workers building the same index, say) may race:
        # the other may move the target aside first, or put its copy in place between our two
        # renames. Either way both copies are whole; the last writer's stays.
        for _ in range(5):
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
                olds.append(old)
                try:
                    target.rename(old / "dir")
                except FileNotFoundError:
                    pass  # the other writer moved it aside first
            try:
                tmp.rename(target)
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
        else:
            raise OSError(f"could not put {target} in place: other writers kept replacing it; try again")
    except BaseException:
        for old in reversed(olds):
            if not target.exists() and (old / "dir").exists():
                (old / "dir").rename(target)  # put the previous version back
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


def dir_size(path) -> int:
    """Total bytes of the files under a folder. Example: dir_size(adapters_dir() / "kettle-facts") -> 7_390_000."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def room_problem(folder, need: int) -> str | None:
    """Why `need` bytes cannot be written into a folder (made if missing): it cannot be written, or its disk is too
    full; else None.

    Example: room_problem("/tmp/x", 4_000_000) -> None; room_problem("/etc/passwd/x", 1)
        -> "/etc/passwd/x cannot be written (Not a directory)"
    Checked before the work whose result is written (training, scoring), so a full or read-only disk costs no run.
    A tenth more than `need`, and 1 MiB, is asked for: slack for an estimated size and the file system's own blocks.
    """
    from labkit.config import writable_dir

    folder = Path(folder).expanduser()
    if (why := writable_dir(folder)) is not None:
        return f"{folder} cannot be written ({why})"
    free = shutil.disk_usage(folder).free
    if need > 0 and free < need * 1.1 + 2**20:
        return f"{folder} has {free / 1e6:.0f} MB free on its disk, and about {need * 1.1 / 1e6 + 1:.0f} MB are needed"
    return None


# what a write refused by the disk (full, read-only) raises: safetensors reports it as its own error, not an OSError
WRITE_ERRORS = (OSError, SafetensorError)


class WriteRefused(OSError):
    """A save the disk refused (full, read-only): the message says what to do, `reason` is the disk's part, short."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def write_error_reason(exc: BaseException) -> str:
    """The disk's reason in a failed write, short. Example: write_error_reason(SafetensorError("...I/O error: No space
    left on device (os error 28)")) -> "No space left on device"."""
    if isinstance(exc, WriteRefused):
        return exc.reason
    while getattr(exc, "strerror", None) is None and exc.__cause__ is not None:  # a wrapped error: the disk's own words
        exc = exc.__cause__
    text = getattr(exc, "strerror", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    # safetensors: "Error while serializing: I/O error: No space left on device (os error 28)"
    if "I/O error: " in text:
        text = text.split("I/O error: ", 1)[1].split(" (os error")[0]
    return text


_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_RESERVED = {"labkit", "base", "cache", "default", "adapters", "tmp", "con", "nul", "prn", "aux"}


def _module_names() -> set[str]:
    import pkgutil

    import labkit

    return {m.name for m in pkgutil.iter_modules(labkit.__path__)}


def check_name(name: str) -> str:
    """Return the name if it is safe to use as a folder name (an adapter's, say), else raise ValueError.

    Example: check_name("kettle-facts") -> "kettle-facts"; check_name("../x") -> ValueError
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):  # fullmatch: "$" would let a trailing newline through
        raise ValueError(
            f"Adapter name {name!r} is not allowed: use 1 to 64 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit (no '/', '..' or spaces)."
        )
    if name in _RESERVED or name in _module_names():
        raise ValueError(f"Adapter name {name!r} is reserved (it is a labkit module or a cache folder name); pick "
                         "another.")
    return name
