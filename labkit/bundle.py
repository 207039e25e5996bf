"""`labkit bundle pack|unpack`: a warm cache carried to the laptops of a classroom without a network, as one file.

`run_bundle` packs the model folders and the index of the kit's own data/kb (an index holds its folder's full text,
so another folder's goes in only when named with --include-docs), after checking the destination has room; unpack
writes what a bundle holds into LABKIT_CACHE. What it leaves out: the tar file's format and its checks
(`cache_bundle.pack_cache` / `cache_bundle.unpack_cache`) and argument parsing (`labkit.cli`).
"""

from __future__ import annotations

from pathlib import Path

from labkit.config import get_config
from labkit.doctor import installed_version


def run_bundle(action: str, file: str, include_docs=()) -> int:
    """`labkit bundle pack|unpack FILE`: the warm cache (model, index) as one file for a classroom without a network.

    Example: run_bundle("pack", "/media/usb/labkit-bundle.tar") -> 0
    Pack carries the model folders and the index of the kit's own data/kb; an index holds the full text of its
    folder, so another folder's goes in only when named with --include-docs.
    """
    from labkit.cache_bundle import model_folders, pack_cache, unpack_cache
    from labkit.storage import dir_size, room_problem

    cache = get_config().cache_dir
    if action != "pack":
        if include_docs:
            raise ValueError("--include-docs is for `bundle pack`: unpack takes what the bundle holds")
        info = unpack_cache(file, cache)
        print(f"labkit bundle: unpacked {', '.join(info['entries'])} into {cache}; `labkit doctor` shows the bundle in "
              "use")
        return 0
    from labkit.config import KB_DIR
    from labkit.folder_index import cache_folder, folder_key, index_folder
    from labkit.models import load_embedder

    folders = [Path(d).expanduser() for d in (KB_DIR, *include_docs)]
    for folder in folders:
        if not folder.is_dir():
            raise FileNotFoundError(f"--include-docs {folder}: no such folder; name a folder you asked with `labkit "
                                    "ask --docs`")
    models = model_folders(cache)
    if not models:
        raise FileNotFoundError(f"{cache} holds no model yet: run notebook 00 (or `labkit doctor`) once, then pack")
    destination = Path(file).expanduser().resolve().parent
    need = sum(dir_size(cache / m) for m in models)
    if (why := room_problem(destination, need)) is not None:  # before the embedder loads and indexes are built
        raise ValueError(f"cannot write the bundle {file}: {why}; name a place with room (e.g. a USB stick), or free "
                         "some space")
    embedder, indexes = load_embedder(), []
    for folder in folders:  # the index `labkit ask --docs` and the notebooks use: loaded from the cache, or built now
        index = index_folder(folder, embedder, progress=False)
        key = folder_key(folder, embedder, index.kind, index.chunk_size, index.overlap)
        indexes.append(f"indexes/{cache_folder(folder, key).name}")
    info = pack_cache(cache, file, models + indexes, about={"labkit": installed_version("labkit")})
    others = [p for p in (cache / "indexes").glob("*") if p.is_dir() and f"indexes/{p.name}" not in indexes and
              not p.name.startswith(".")]
    print(f"labkit bundle: wrote {file} ({info['bytes'] / 1e6:.0f} MB), holding:")
    for name, size in info["sizes"].items():
        print(f"  {name}  {size / 1e6:.1f} MB")
    left = (
        f"adapters and the indexes of {len(others)} other folder(s) (an index holds its folder's text)"
        if others
        else "adapters"
    )
    print(f"Left out: {left}; add a folder's index with --include-docs DIR. On each laptop: labkit bundle unpack "
          f"{Path(file).name}")
    return 0
