"""Quiet libraries: transformers' and peft's progress bars, warnings and log lines kept out of a command's output.

`quiet_libraries(verbose)` is the one context that does it (`labkit ask`, the ask server, `labkit export`); the kit's
own bars (embedding a new folder, with an ETA) are not touched. What it leaves out: loading models (`labkit.models`).
"""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def quiet_libraries(verbose: bool = False):
    """Keep the libraries' progress bars, warnings and log lines out of a command's output, unless verbose.

    Example: with quiet_libraries(): load_generator()   # no "Loading weights" bar, no FutureWarning
    transformers draws a "Loading weights" bar per model loaded and peft trips a deprecation warning: noise
    before every `labkit ask` answer. The kit's own bars (embedding a new folder, with an ETA) are not touched.
    Everything is put back as it was on leaving.
    """
    if verbose:
        yield
        return
    import warnings

    from transformers.utils import logging as hf_logging

    bars, level = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings(), _gguf_bar_off():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _gguf_bar_off():
    """transformers' GGUF conversion draws its bar with tqdm directly (not its switchable one): silence that one
    name."""
    import functools

    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # a transformers without GGUF support draws no such bar
        yield
        return
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
