"""labkit.quiet: the libraries' bars, warnings and log lines kept out of a command's output, and put back after."""

import pytest

from labkit.quiet import quiet_libraries


@pytest.mark.parametrize("verbose", [False, True])
def test_quiet_libraries_silences_library_bars_and_warnings_unless_verbose_and_puts_them_back(verbose, capsys):
    import warnings

    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    before = (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity(), gguf_utils.tqdm)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_libraries(verbose):
            warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning, stacklevel=1)
            for _ in hf_logging.tqdm(range(3), desc="Loading weights"):
                pass
            for _ in gguf_utils.tqdm(range(3), desc="Converting and de-quantizing GGUF tensors..."):
                pass
            hf_logging.get_logger("transformers.modeling_utils").warning("a library log line")
    err = capsys.readouterr().err
    shown = [str(w.message) for w in seen]
    if verbose:
        assert shown and "Loading weights" in err and "de-quantizing" in err
    else:
        assert not shown and "Loading weights" not in err and "de-quantizing" not in err and "log line" not in err
    assert (hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity(), gguf_utils.tqdm) == before
