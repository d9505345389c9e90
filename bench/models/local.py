"""Where a model's files are on this machine, and keeping the hubs out of it.

`local_path(name)` gives a folder transformers and sentence-transformers can
load: a packaged model is unpacked (a GGUF one converted to safetensors) into
the cache once; a local folder or a hub id comes back unchanged.
`use_offline_hub()` sets the Hugging Face offline switches unless the user set
them, so nothing reaches a model or dataset hub by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.data import assets
from bench.models.catalogue import KNOWN, canonical_name


def use_offline_hub() -> None:
    """Never reach a model or dataset hub unless the user asked for it."""
    for switch in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(switch, "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def local_path(name: str) -> str:
    """A path transformers and sentence-transformers can load, for a model name.

    Known packaged models are unpacked (and, for GGUF files, converted) on first
    use; local paths and hub ids come back unchanged.
    """
    name = canonical_name(name)
    known = KNOWN.get(name)
    if known is None:
        return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name
    if known.member.endswith(".gguf"):
        from bench.models.gguf import converted_folder

        return str(converted_folder(known))
    return str(assets.extract_folder(assets.artifact(known.artifact), known.member))
