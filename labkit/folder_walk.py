"""A folder walked: which of its entries are files to read, and every other entry with its true reason.

What it holds: `walk_folder(folder)` lists the regular files under a folder (sorted; hidden files
and folders left out) and reports everything else as {"path", "reason"}: links to folders (not
followed), unreadable folders, names that are not UTF-8, broken links, FIFOs, devices and sockets
(`special_file`, never opened), links leaving the folder unless `follow_links` (`entry_problem`),
and a built Sphinx site's duplicate sources and index pages. `check_folder` gives the clear error
for a path that is not a folder; `shown_path` prints any name safely. Only stat is used: nothing is
opened here.

What it leaves out: reading the files, their size caps and what a file's content is skipped for
(`labkit.documents`), and text extraction (`labkit.extract`).

Example: walk_folder("data/kb") -> ([PosixPath("data/kb/changelog-app-2-3.md"), ...], [])
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

SPHINX_MARKER = "searchindex.js"  # beside the pages of every built Sphinx site (Python's own docs, most packages' docs)
SPHINX_INDEX_PAGES = re.compile(r"genindex(-\w+)?\.html|py-modindex\.html|search\.html")


def special_file(mode: int) -> str | None:
    """What a file that is not a regular file or folder is, from its stat mode, or None.

    Example: special_file(os.stat("/dev/zero").st_mode) -> "a device file"
    """
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "a special file"


def shown_path(rel: str) -> str:
    """A relative path printable and JSON-safe whatever bytes its names hold.
    Example: shown_path("caf\\udce9.md") -> "caf\\\\xe9.md"."""
    return os.fsencode(rel).decode("utf-8", errors="backslashreplace")


def _utf8(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (os.walk gives them as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


FOLLOW_HINT = "pass --follow-links (labkit ask) or follow_links=True (load_folder / index_folder) to include it"


def entry_problem(path: Path, real_root: Path, follow_links: bool = False) -> str | None:
    """Why a directory entry is not a file to read (a broken link, a FIFO, a device, a link leaving the folder), or
    None.

    Example: entry_problem(Path("kb/zero.md"), Path("/abs/kb"))
        -> "link to a device file: never opened ..." for a link to /dev/zero
    Uses stat only: nothing is opened. A link whose target is inside the folder is read as a file.
    """
    link = path.is_symlink()
    try:
        info = path.stat()  # follows the link
    except FileNotFoundError:
        return "broken link: its target does not exist" if link else "vanished while the folder was read"
    except OSError as exc:  # a link loop (ELOOP), a permission error on the way
        return f"{'broken link' if link else 'unreadable'}: {exc.strerror or exc}"
    if (kind := special_file(info.st_mode)) is not None:
        return f"{'link to ' if link else ''}{kind}, not a document: never opened (reading it could block or never end)"
    if link and not follow_links and not Path(os.path.realpath(path)).is_relative_to(real_root):
        return f"link to a file outside the folder: not followed; {FOLLOW_HINT}"
    return None


def walk_folder(folder, follow_links: bool = False) -> tuple[list[Path], list[dict]]:
    """Files under a folder (sorted; hidden files and folders left out), and what could not be walked.

    Example: walk_folder("data/kb") -> ([PosixPath("data/kb/changelog-app-2-3.md"), ...], [])
    Only regular files are listed, and everything else is reported as {"path", "reason"}, so
    nothing is skipped silently: links to folders (not followed: a link back up would loop
    forever), unreadable folders, names that are not UTF-8 (shown with the bad bytes as \\xNN),
    broken links, FIFOs, devices and sockets (never opened: reading could block or never end),
    and links to files outside the folder unless follow_links (a link to /etc/passwd would
    put a system file in the index). Links to files inside the folder are followed.
    In a built Sphinx site (a folder with searchindex.js) the `_sources` copies of the pages and
    the generated index pages are left out, and reported: the text would be indexed twice.
    """
    root = Path(folder).expanduser()
    real_root = root.resolve()
    files, problems = [], []

    def rel(path: Path) -> str:
        return shown_path(path.relative_to(root).as_posix())

    def unreadable(exc: OSError) -> None:
        problems.append({"path": rel(Path(exc.filename)) if exc.filename else str(root),
                         "reason": f"unreadable folder: {exc.strerror or exc}"})

    for here, dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        base = Path(here)
        sphinx = SPHINX_MARKER in names  # a built Sphinx site: its _sources and index pages repeat its HTML pages
        keep = []
        for d in sorted(dirs):
            if d.startswith(".") or d == "__pycache__":
                continue
            if not _utf8(d):
                problems.append({"path": rel(base / d),
                                 "reason": f"the folder name {os.fsencode(d)!r} is not valid UTF-8: "
                                 "left out with everything in it; rename it to include it"})
                continue
            if sphinx and d == "_sources":
                problems.append({"path": rel(base / d),
                                 "reason": "Sphinx's copies of the pages' sources: the same text as the HTML pages, "
                                 "indexed once (as HTML)"})
                continue
            if (base / d).is_symlink():
                problems.append({"path": rel(base / d), "reason": "link to a folder: not followed (it could loop)"})
                continue
            keep.append(d)
        dirs[:] = keep
        for name in names:
            path = base / name
            if name.startswith("."):
                continue
            if not _utf8(name):  # its id and path could not be saved, printed or hashed as text
                problems.append({"path": rel(path),
                                 "reason": f"the file name {os.fsencode(name)!r} is not valid UTF-8: "
                                 "not read; rename it to include it"})
                continue
            if sphinx and SPHINX_INDEX_PAGES.fullmatch(name):
                problems.append({"path": rel(path), "reason": "Sphinx's generated index page (links, no prose)"})
                continue
            problem = entry_problem(path, real_root, follow_links)
            if problem is None:
                files.append(path)
            else:
                problems.append({"path": rel(path), "reason": problem})
    return sorted(files), problems


def list_files(folder, follow_links: bool = False) -> list[Path]:
    """Files under a folder, sorted, hidden files and folders left out.
    Example: list_files("data/kb")[0].name -> "changelog-app-2-3.md"."""
    return walk_folder(folder, follow_links)[0]


def check_folder(folder) -> Path:
    """The folder as a Path, or the clear error for a missing folder, a file, or a path that is not UTF-8.

    Example: check_folder("data/kb") -> PosixPath("data/kb"); check_folder("nope") raises FileNotFoundError
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"The folder {shown_path(str(root))} does not exist. Give the path of a folder of .md, "
                                ".txt, .html or .pdf files.")
    if root.is_file():
        raise ValueError(f"{shown_path(str(root))} is a file, not a folder. Put it in a folder and pass the folder "
                         "(labkit reads every document in it).")
    if not _utf8(str(root.resolve())):
        raise ValueError(f"The folder's path {os.fsencode(str(root.resolve()))!r} is not valid UTF-8; rename it (or "
                         "copy the documents to a folder that is).")
    return root
