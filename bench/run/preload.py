"""What the local executor's fork server imports once, for every cell it forks (bench.run.executors.ForkServer).

A cell that loads a model spends seconds importing torch and transformers
before it does anything (3.5 s on a 2-core Xeon); the fork server imports
them here once, and each cell starts as a fork of it with them loaded. Only
what every model cell imports is here (and peft, which is small): a fork's
memory counts the server's resident pages as its own (bench.run.worker
.uncounted_mb), so a library a cell would not have loaded, such as
sentence-transformers with scikit-learn and SciPy for a prompting cell, would
add to its peak. Nothing here computes: no thread pool starts before a fork,
no model is loaded, and the hubs stay offline, as in a fresh worker. A
library that is not installed is left out; the cell that needs it fails as it
would have anyway.
"""

from __future__ import annotations

import importlib

from bench.models.local import use_offline_hub

LIBRARIES = (
    "torch",
    "transformers",
    "transformers.models.bert.modeling_bert",  # MiniLM, the encoder of the trained strategies
    "transformers.models.llama.modeling_llama",  # SmolLM2, the default generator
    "peft",
)

use_offline_hub()  # before transformers loads: the hub client reads these switches when it is imported
for name in LIBRARIES:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
