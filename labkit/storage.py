"""Writing a directory so that readers never see it half-written.

The model cache, saved adapters and saved indexes are all directories of several files. If a
learner presses Ctrl-C, or the disk fills, in the middle of writing one, the next run must find
either the old directory or the new one, never a mix. `atomic_dir` gives the writer a private
temporary directory beside the target and swaps it in with renames only when the writer has
finished without an error.

Example:
    >>> from pathlib import Path
    >>> with atomic_dir(Path("/tmp/labkit-demo")) as tmp:
    ...     _ = (tmp / "a.json").write_text("{}")
    >>> sorted(p.name for p in Path("/tmp/labkit-demo").iterdir())
    ['a.json']
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_dir(target) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces `target`, on any error it is deleted.

    The temporary name starts with a dot, so listings that skip hidden entries never show it.
    The old target is moved aside before the new one is renamed in, so the window in which
    neither exists is two renames long, and the old copy is removed only afterwards.
    """
    target = Path(target).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    old = None
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            target.rename(old / "dir")
        tmp.rename(target)
    except BaseException:
        if old is not None and not target.exists():
            (old / "dir").rename(target)  # put the previous version back
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
