"""The folder-index cache: a folder's index built once and reused until one of its files changes.

What it holds:
- `index_folder`: load + chunk + embed a folder, cached under LABKIT_CACHE/indexes by the content
  of its files, the chunking parameters, the index kind and the embedder (`folder_key`,
  `folder_settings`); a damaged cache is rebuilt and said. The BM25 index is saved in the same
  folder, so it is reused and invalidated with the vectors; the retriever is a search setting,
  not part of the key (one cached index serves dense, BM25 and hybrid search).
- `prune_folder_indexes`: a new index of a folder replaces the older ones of that folder and
  settings (they hold the old text); other folders' and other settings' indexes stay.

What it leaves out: the index itself (`labkit.retrieval.VectorIndex`), which files of a folder are
read (`labkit.documents`), and writing a directory atomically (`labkit.storage`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from labkit.config import get_config, warn_once
from labkit.corpus import CHUNK_OVERLAP, CHUNK_SIZE
from labkit.documents import MAX_FILE_BYTES, load_folder, read_regular, size_cap
from labkit.embedding import embedder_name
from labkit.folder_walk import check_folder, walk_folder
from labkit.retrieval import FORMAT_VERSION, VectorIndex, build_index, check_retriever
from labkit.storage import recover


def folder_settings(embedder, kind: str, chunk_size: int, overlap: int, max_bytes: int = MAX_FILE_BYTES,
                    follow_links: bool = False) -> list:
    """What, besides the files, an index of a folder depends on.
    Example: folder_settings(embedder, "flat", 128, 24) -> [3, "all-minilm-l6-v2", "flat", 128, 24]

    max_bytes and follow_links appear only when not the defaults, so caches made before they existed stay valid.
    """
    settings = [FORMAT_VERSION, embedder_name(embedder), kind, chunk_size, overlap]
    return settings + [max_bytes, follow_links] if max_bytes != MAX_FILE_BYTES or follow_links else settings


def folder_key(folder, embedder, kind: str, chunk_size: int, overlap: int, max_bytes: int = MAX_FILE_BYTES,
               follow_links: bool = False) -> str:
    """Cache key of a folder's index: hash of every file's path and bytes, what was skipped, the settings and the
    embedder.

    Example: folder_key("data/kb", embedder, "flat", 128, 24) -> "3f9c0a..." (changes when any file changes)
    Only the files walk_folder lists are read (never a FIFO, a device, or a link leaving the folder
    without follow_links); a file over its cap counts by its size, as it is not read either.
    """
    digest = hashlib.sha256(json.dumps(folder_settings(embedder, kind, chunk_size, overlap, max_bytes,
                                                       follow_links)).encode())
    root = Path(folder).expanduser()
    files, problems = walk_folder(root, follow_links)
    for path in files:
        digest.update(os.fsencode(path.relative_to(root).as_posix()))
        try:
            size, cap = path.stat().st_size, size_cap(path, max_bytes)
            digest.update(f"too big: {size}".encode() if size > cap
                          else hashlib.sha256(read_regular(path, cap)).digest())
        except OSError:
            digest.update(b"unreadable")
    if problems:  # a skip that appears (a new FIFO, a renamed file) must not serve a report without it
        digest.update(json.dumps(problems, sort_keys=True).encode())
    return digest.hexdigest()


def prune_folder_indexes(keep: Path, source: str, settings: list) -> list[str]:
    """Remove the older cached indexes of one folder and settings, keeping `keep`; returns the names removed.

    Example: prune_folder_indexes(cache / "indexes" / "kb-3f9c0a...", "/home/me/kb", settings) -> ["kb-77ab01..."]
    Each index that index_folder writes records its folder's resolved path ("source") and its
    settings; an older one is removed when both are the same (an older format of the same settings
    counts as the same: it holds text extracted the old way). An index from before this was
    recorded is removed only when its saved root is an absolute path of the same folder and its
    kind, chunking and embedder are the same (then its settings were these ones); one with a
    relative root, or anything unreadable, is kept: never remove an index that may be another
    folder's. Indexes of other settings (a chunk-size sweep, an HNSW beside the flat one) stay.
    """
    pattern = re.compile(re.escape(keep.name[:-20]) + r"[0-9a-f]{20}")  # "<folder name>-<key>": same folder name only
    removed = []
    for other in sorted(keep.parent.iterdir()) if keep.parent.is_dir() else []:
        if other == keep or not pattern.fullmatch(other.name) or not other.is_dir():
            continue
        try:
            store = json.loads((other / "chunks.json").read_text(encoding="utf-8"))
            report = store.get("report") or {}
            if "source" in report:
                old = report.get("settings") or [None]
                # the same settings, or the same but for an older format (its text or layout is stale)
                same = report["source"] == source and (old == settings or (
                    old[1:] == settings[1:] and isinstance(old[0], int) and old[0] < settings[0]))
            else:
                root = report.get("root", "")
                same = (Path(root).is_absolute() and str(Path(root).resolve()) == source and len(settings) == 5
                        and [store.get("format"), store.get("embedder"), store.get("kind"), store.get("chunk_size"),
                             store.get("overlap")] == settings)
        except (OSError, ValueError, TypeError, AttributeError):
            continue
        if same:
            shutil.rmtree(other, ignore_errors=True)
            removed.append(other.name)
    return removed


def cache_folder(folder, key: str) -> Path:
    """Where a folder's index with this key is cached (the one naming rule; bundle pack names the same folder).

    Example: cache_folder("data/kb", "3499dbdb...") -> PosixPath("~/.cache/labkit/indexes/kb-3499dbdb...")
    """
    return get_config().cache_dir / "indexes" / f"{Path(folder).expanduser().resolve().name or 'root'}-{key[:20]}"


def index_folder(folder, embedder, kind: str = "flat", chunk_size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP,
                 cache: bool = True, progress: bool = True,
                 max_bytes: int = MAX_FILE_BYTES, follow_links: bool = False, retriever: str = "dense") -> VectorIndex:
    """Load, chunk, embed and index a folder, reusing a cached index when no file has changed.

    Example: index_folder("data/kb", embedder).from_cache -> True on the second call
    The cache lives in LABKIT_CACHE/indexes/<folder name>-<key>; a changed file, chunking
    parameter, index kind, embedder, max_bytes or follow_links gives a new key, so a stale
    index is never served, and once the new one is saved the older ones of the same folder
    and settings are removed (they hold the old text): see prune_folder_indexes.
    max_bytes and follow_links are load_folder's; retriever is the index's ("dense", "bm25" or "hybrid").
    """
    check_retriever(retriever)
    root = check_folder(folder)  # the clear FileNotFoundError / ValueError
    key = folder_key(root, embedder, kind, chunk_size, overlap, max_bytes, follow_links)
    cached = cache_folder(root, key)
    damage = None
    if cache:
        for line in recover(cached):  # a build killed while saving left a temporary folder
            warn_once(f"index cache: {line}")
    if cache and cached.exists():
        try:
            index = VectorIndex.load(cached, embedder)
            index.from_cache, index.retriever, index.folder_key = True, retriever, key
            return index
        except (ValueError, OSError, RuntimeError, KeyError, TypeError, json.JSONDecodeError) as exc:
            damage = f"the cached index {cached.name} could not be used ({str(exc)[:160]}); rebuilt it"
            warn_once(damage)
    index = build_index(load_folder(root, max_bytes, follow_links=follow_links), embedder, kind, chunk_size, overlap,
                        progress, retriever=retriever)
    index.folder_key = key  # what the ask server compares before reusing it (ask_server)
    settings = folder_settings(embedder, kind, chunk_size, overlap, max_bytes, follow_links)
    index.report.update(source=str(root.resolve()), settings=settings)  # which folder and settings it is: for pruning
    if damage:
        index.notes.append(damage)
    if cache:
        try:
            index.save(cached)
        # RuntimeError: faiss on a full disk; a cache that cannot be written costs speed only
        except (OSError, RuntimeError):
            note = (f"could not write the index cache under {cached.parent}; the next run will embed again (free some "
                    "space there)")
            index.notes.append(note)
            warn_once(note)  # said, not only noted: a learner whose every run re-embeds should know why
        else:
            removed = prune_folder_indexes(cached, str(root.resolve()), settings)
            if removed:
                index.notes.append(
                    f"removed {len(removed)} older cached index(es) of this folder: {', '.join(removed)}")
    return index
