"""A warm cache carried to another laptop as one tar file, for a classroom without a network.

`pack_cache` / `unpack_cache` carry a warm cache (the dequantised model, the knowledge-base index) to another laptop as
one tar file; `check_bundle_entry` says which folders a bundle may write (never adapters, never outside the cache);
`model_folders` lists what a cache holds to carry; `bundle_info` says whether a cache came from one. A bundle is
checked whole (members, bundle.json, entries, room) before the first entry is written, and each entry is written with
`storage.atomic_dir`. What it leaves out: the `labkit bundle` command (`labkit.bundle`: what to pack, the destination's
room) and writing a directory atomically (`labkit.storage`).

Example:
    >>> check_bundle_entry("indexes/kb-0123456789abcdef0123")
    'indexes/kb-0123456789abcdef0123'
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from labkit.storage import atomic_dir, dir_size, room_problem

BUNDLE_MARKER = "bundle.json"  # written into a cache unpacked from a bundle: where it came from
# What a bundle may carry, by entry name: a model cache folder (`model_cache.generator_cache_dir`: "<gguf stem>-<16
# hex>")
# or one saved index ("indexes/<folder name>-<20 hex>", `folder_index.index_folder`), each one path component that
# cannot be "..", hidden or absolute. Nothing else: a learner's adapters stay theirs, and an entry unpack was never
# meant to write (an absolute path, "..", ".") would replace a folder outside what the bundle holds.
_PART = r"[^/\\\x00-\x1f.][^/\\\x00-\x1f]{0,150}"
MODEL_ENTRY = re.compile(_PART + r"-[0-9a-f]{16}")
INDEX_ENTRY = re.compile(r"indexes/" + _PART + r"-[0-9a-f]{20}")
_LEGACY_INDEXES = "indexes"  # bundles packed before the entries named single indexes held the whole folder
_BUNDLE_HELP = "make one with `labkit bundle pack` on a laptop whose cache is warm"


def check_bundle_entry(name) -> str:
    """Return a bundle entry name if unpacking it writes only the one cache folder it names, else raise ValueError.

    Example: check_bundle_entry("indexes/kb-0123456789abcdef0123") -> "indexes/kb-0123456789abcdef0123";
    check_bundle_entry("/home/me") -> ValueError
    """
    if isinstance(name, str) and name.split("/",
                                            1)[0] != "adapters" and (MODEL_ENTRY.fullmatch(name)
                                                                     or INDEX_ENTRY.fullmatch(name)):
        return name
    raise ValueError(f"bundle entry {name!r} is not one a bundle may hold: only a model cache folder (<model>-<16 hex "
                     "digits>) "
                     "or a saved index (indexes/<folder>-<20 hex digits>); adapters are never carried")


def model_folders(cache_dir) -> list[str]:
    """The model cache folders in a cache, by name.
    Example: model_folders("~/.cache/labkit") -> ["smollm2-135m-instruct-e81ea9205682f72f"]."""
    cache_dir = Path(cache_dir).expanduser()
    if not cache_dir.is_dir():
        return []
    return sorted(p.name for p in cache_dir.iterdir() if p.is_dir() and MODEL_ENTRY.fullmatch(p.name))


def pack_cache(cache_dir, out, entries=None, about: dict | None = None) -> dict:
    """Write some folders of the cache into one tar file (no compression: the weights do not compress).

    Example: pack_cache("~/.cache/labkit", "b.tar", ["smollm2-...", "indexes/kb-..."])
        -> {"entries": [...], "sizes": {...}, "bytes": 5.4e8, ...}
    `entries` (default: the model folders) are checked names; the caller picks which indexes go in, since an index
    holds the full text of its folder. An existing `out` is replaced only when the new file is complete.
    """
    import datetime
    import io
    import json
    import tarfile

    cache_dir, out = Path(cache_dir).expanduser(), Path(out).expanduser()
    entries = sorted(dict.fromkeys(model_folders(cache_dir) if entries is None else entries))
    for name in entries:
        check_bundle_entry(name)
        if not (cache_dir / name).is_dir():
            raise FileNotFoundError(f"{cache_dir / name} is not in the cache: run notebook 00 (or `labkit doctor`) "
                                    "once, then pack")
    if not entries:
        raise FileNotFoundError(f"{cache_dir} holds no model yet: run notebook 00 (or `labkit doctor`) once, then pack")
    info = {"created": datetime.datetime.now().isoformat(timespec="seconds"), "entries": entries, **(about or {})}
    sizes = {name: dir_size(cache_dir / name) for name in entries}
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with tarfile.open(tmp, "w") as tar:
            for name in entries:
                tar.add((cache_dir / name).resolve(), arcname=name)  # a linked model folder goes in as its files
            data = json.dumps(info, indent=1).encode()
            member = tarfile.TarInfo(BUNDLE_MARKER)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {**info, "sizes": sizes, "bytes": out.stat().st_size}


def _bundle_plan(bundle: Path, members: list, read_marker) -> tuple[dict, dict[str, list]]:
    """Check a bundle whole (members, bundle.json, entries) and say which members go into which entry; writes
    nothing."""
    import json
    from pathlib import PurePosixPath

    def unsafe(m):
        parts = PurePosixPath(m.name).parts
        return (not parts or m.name.startswith("/") or "\\" in m.name or any(p in (".", "..") for p in parts)
                or not (m.isfile() or m.isdir()))  # links, devices and fifos have no place in a cache

    bad = [m.name for m in members if unsafe(m)]
    if bad:
        raise ValueError(f"{bundle} is not a labkit bundle: it has unsafe entries ({', '.join(bad[:3])}); "
                         f"{_BUNDLE_HELP}")
    marker = [m for m in members if m.name == BUNDLE_MARKER]
    if not marker or not marker[-1].isfile():
        raise ValueError(f"{bundle} is not a labkit bundle: no {BUNDLE_MARKER} in it; {_BUNDLE_HELP}")
    if marker[-1].size > 1_000_000:
        raise ValueError(f"{bundle} is not a labkit bundle: its {BUNDLE_MARKER} is {marker[-1].size} bytes; "
                         f"{_BUNDLE_HELP}")
    try:
        info = json.loads(read_marker(marker[-1]))
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValueError(
            f"{bundle} is not a labkit bundle: its {BUNDLE_MARKER} is not JSON ({exc}); {_BUNDLE_HELP}") from None
    entries = info.get("entries") if isinstance(info, dict) else None
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
        raise ValueError(f"{bundle} is not a labkit bundle: its {BUNDLE_MARKER} must be an object whose \"entries\" is "
                         "a list of "
                         f"folder names, not {str(info)[:120]}; {_BUNDLE_HELP}")
    names = [m.name for m in members if m.name != BUNDLE_MARKER]
    expanded = []
    for entry in dict.fromkeys(entries):
        if entry == _LEGACY_INDEXES:  # an older bundle: each index in it is one entry, merged beside the learner's own
            expanded += sorted({"/".join(n.split("/")[:2]) for n in names if n.startswith("indexes/")})
        else:
            expanded.append(entry)
    if not expanded:
        raise ValueError(f"{bundle} is not a labkit bundle: its {BUNDLE_MARKER} lists no folder to unpack; "
                         f"{_BUNDLE_HELP}")
    for entry in expanded:
        try:
            check_bundle_entry(entry)
        except ValueError as exc:
            raise ValueError(f"{bundle} is not a labkit bundle: {exc}. Nothing was unpacked; {_BUNDLE_HELP}") from None
    plan = {entry: [m for m in members if m.name == entry or m.name.startswith(entry + "/")] for entry
            in dict.fromkeys(expanded)}
    missing = [e for e, ms in plan.items() if not ms]
    if missing:
        raise ValueError(f"{bundle} is damaged: its {BUNDLE_MARKER} lists {', '.join(missing[:3])}, which the file "
                         f"does not hold; {_BUNDLE_HELP}")
    not_folders = [e for e, ms in plan.items() if any(m.name == e and not m.isdir() for m in ms)]
    if not_folders:
        raise ValueError(f"{bundle} is not a labkit bundle: {', '.join(not_folders[:3])} is a file, not a folder; "
                         f"{_BUNDLE_HELP}")
    placed = {m.name for ms in plan.values() for m in ms}
    stray = [n for n in names if n not in placed and n != "indexes"]
    if stray:
        raise ValueError(f"{bundle} is not a labkit bundle: it holds {', '.join(stray[:3])}, outside the entries its "
                         f"{BUNDLE_MARKER} lists; {_BUNDLE_HELP}")
    about = {k: info[k] for k in ("created", "labkit") if isinstance(info.get(k), str)}
    return {**about, "entries": list(plan)}, plan


def unpack_cache(bundle, cache_dir) -> dict:
    """Unpack a bundle into the cache (each entry already there is replaced whole); returns its bundle.json.

    Example: unpack_cache("labkit-bundle.tar", "~/.cache/labkit")["entries"] -> ["indexes/kb-...", "smollm2-..."]
    The whole bundle is checked before anything is written: every entry must be a model folder or one saved index
    (`check_bundle_entry`), present in the file, and every member a plain file or folder inside one entry.
    """
    import json
    import tarfile

    bundle, cache_dir = Path(bundle).expanduser(), Path(cache_dir).expanduser()
    if not bundle.is_file():
        raise FileNotFoundError(f"no bundle at {bundle}: {_BUNDLE_HELP}")
    damaged = (tarfile.TarError, EOFError)
    try:
        tar = tarfile.open(bundle)
    except damaged:
        raise ValueError(f"{bundle} is not a labkit bundle: it is not a tar file (a copy cut short looks like this "
                         "too): "
                         f"copy it again, or {_BUNDLE_HELP}") from None
    with tar:
        try:
            members = tar.getmembers()
            info, plan = _bundle_plan(bundle, members, lambda m: tar.extractfile(m).read())
        except damaged as exc:
            raise ValueError(f"{bundle} is damaged ({exc}): copy it again, or {_BUNDLE_HELP}") from None
        need = sum(m.size for ms in plan.values() for m in ms if m.isfile())
        if (why := room_problem(cache_dir, need)) is not None:  # checked whole, like the names: nothing half-unpacked
            raise ValueError(f"cannot unpack {bundle}: {why}; free some space, or point LABKIT_CACHE at a disk with "
                             "room. "
                             "Nothing was unpacked")
        for entry, entry_members in plan.items():
            try:
                with atomic_dir(cache_dir / entry) as tmp:
                    for m in entry_members:
                        rel = Path(m.name).relative_to(entry)
                        if m.isdir():
                            (tmp / rel).mkdir(parents=True, exist_ok=True)
                        else:
                            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                            with tar.extractfile(m) as src, open(tmp / rel, "wb") as dst:
                                shutil.copyfileobj(src, dst)
            except damaged as exc:
                raise ValueError(f"{bundle} is damaged at {entry} ({exc}); {entry} was left as it was: copy the bundle "
                                 "again") from None
        (cache_dir / BUNDLE_MARKER).write_text(json.dumps({**info, "unpacked_from": str(bundle)}, indent=1))
    return info


def bundle_info(cache_dir) -> dict | None:
    """The bundle a cache was unpacked from, or None.
    Example: bundle_info("~/.cache/labkit") -> {"created": ..., "entries": [...]}."""
    import json

    marker = Path(cache_dir).expanduser() / BUNDLE_MARKER
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
