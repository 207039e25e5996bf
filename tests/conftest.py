"""Shared fixtures: the real embedded models, loaded once per session, and no network.

Every test runs under labkit's network guard (tests/netguard): an audit hook refuses any
socket connect, UDP send or name lookup that is not this machine, in this process and, through
PYTHONPATH, in every Python subprocess a test starts. `make test` puts the guard on PYTHONPATH
itself (so notebook kernels get it too); a plain `pytest tests` gets it from here.
"""

import os
import sys
from pathlib import Path

import pytest

import labkit  # noqa: F401  (sets the offline variables before transformers is imported)

NETGUARD = str(Path(__file__).parent / "netguard")
sys.path.insert(0, NETGUARD)
import labkit_netguard  # noqa: E402

labkit_netguard.install()

# `labkit ask` starts no background process to keep the model loaded (labkit.ask_server) in any test or notebook but
# those that ask for one (tests/test_ask_server.py): a suite must not leave processes behind
os.environ["LABKIT_KEEP_LOADED"] = "0"

# tests/browser/widgets.ipynb is the browser test's page, not a notebook to validate (make test passes --nbval-lax)
collect_ignore_glob = ["browser/*.ipynb"]
if NETGUARD not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (NETGUARD, os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="session")
def generator():
    from labkit.models import load_generator

    return load_generator()


@pytest.fixture(scope="session")
def embedder():
    from labkit.models import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def tiny_run(generator, embedder, tmp_path_factory):
    """A side-by-side run's Setup at tiny sizes (2 taught and 2 untaught questions, 1 fact change and its updated index,
    4 probe items, 8-token answers) and its CompareConfig: test_rows and test_freshness call the row functions and
    score_freshness() on it. Built on the session's models and the cached index: no model load or index build of its
    own."""
    from labkit.compare_config import default_compare_config
    from labkit.freshness import with_updated_index
    from labkit.rows import make_setup, measure_index

    ccfg = default_compare_config(quick=True, num_questions=2, num_untaught=2, num_updates=1, num_steps=2,
                                  num_retrain_steps=1, num_probe=4, max_new_tokens=8, rebuild_index=False)
    index, info = measure_index(embedder, rebuild=False)
    return with_updated_index(make_setup(generator, embedder, index, info, ccfg),
                              tmp_path_factory.mktemp("tiny-run")), ccfg


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch, generator):
    """An empty LABKIT_CACHE (no adapters, no indexes) that links the already-converted generator.

    Commands under test then start as on a machine whose model cache is warm, without
    dequantising the GGUF file again (~20-40 s per test); the conversion itself is tested
    once, in test_model_cache. Returns the cache folder.
    """
    from labkit.model_cache import generator_cache_dir

    model_dir = generator_cache_dir()  # the session's cache, written by the `generator` fixture's load if it was empty
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / model_dir.name).symlink_to(model_dir, target_is_directory=True)
    monkeypatch.setenv("LABKIT_CACHE", str(cache))
    return cache



@pytest.fixture
def ax():
    """A fresh matplotlib Axes (Agg: no window) for a figure's test, its figure closed afterwards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


# make test runs files on 2 workers, one whole file at a time (--dist loadfile, so a notebook keeps its kernel), in
# collection order (--no-loadscope-reorder): the longest start first and the shortest last, so the run does not end
# with one worker on a long file while the other idles (a notebook left to the end cost up to a minute). Every file
# over ~15 s, by its quick-mode time on one thread (pytest --durations=0, 2026-12-07, summed per file); the rest
# follow in their own order.
LONGEST_FIRST = ("notebooks/07_combining_and_choosing.ipynb", "notebooks/06_side_by_side.ipynb",
                 "tests/test_compare.py", "notebooks/02_rag_from_scratch.ipynb",
                 "notebooks/03_rag_freshness_and_tuning.ipynb", "tests/test_browser.py",
                 "tests/test_shipped_notebooks.py", "notebooks/05_watching_forgetting.ipynb", "tests/test_cli.py",
                 "notebooks/04_lora_from_scratch.ipynb", "tests/test_forgetting.py",
                 "notebooks/08_your_own_documents.ipynb", "notebooks/01_closed_book_baseline.ipynb",
                 "tests/test_behaviour.py", "tests/test_behaviour_facts.py",
                 "tests/test_model_cache.py", "tests/test_capstone.py", "tests/test_export.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each file's tests, and the other files, keep their order
