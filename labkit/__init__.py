"""labkit: measure RAG against LoRA fine-tuning on the same small model and knowledge.

Importing labkit switches the Hugging Face libraries to offline mode before any of them
is imported, so the embedded default models never contact a hub. Set LABKIT_ONLINE=1 to
let a named model id be downloaded.
"""

import os as _os

from labkit.config import env_flag as _env_flag

if not _env_flag("LABKIT_ONLINE"):
    # assigned, not defaulted: an HF_HUB_OFFLINE=0 left in a shell must not send labkit to a hub
    for _name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        _os.environ[_name] = "1"
_os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
