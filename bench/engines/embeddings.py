"""Sentence embeddings, each text encoded once per model and token budget, cached on disk.

knn, rag and head-only embed the same training and test texts with the same
encoder, and tuning embeds them again per trial; `Embeddings.encode` looks
every text up first and encodes only the ones it has not seen. The cache is
an SQLite file per (packaged model and its sha256, token budget,
normalisation) under `<cache>/embeddings/` (`$BENCH_EMBEDDING_CACHE`
overrides the folder; safe for several processes at once), holding float32
vectors keyed by the sha256 of the text. A model known only by a local path
or hub id has no pinned content, so it is not cached.

A vector is the one computed the first time its text was seen, in whatever
batch that was; batching changes an embedding by about 1e-7 (measured on
MiniLM), and computing its linear layers through oneDNN instead of torch's
BLAS (bench.models.linear) by at most 4e-7, far below any decision this
benchmark makes, as with the FAISS index cache.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Sequence

from bench.data import assets

CHUNK = 500  # texts per SQL lookup


def cache_dir() -> Path:
    root = os.environ.get("BENCH_EMBEDDING_CACHE")
    return Path(root).expanduser() if root else assets.cache_dir() / "embeddings"


class Embeddings:
    """A sentence-transformers encoder with an on-disk cache of its vectors."""

    def __init__(self, name: str, device: str = "cpu", batch_size: int = 32):
        from bench.models.catalogue import canonical_name, provenance
        from bench.models.local import sentence_encoder

        self.encoder = sentence_encoder(name, device)
        self.batch_size = batch_size
        known = provenance(canonical_name(name))
        self.model_id = f"{known['name']}-{known['sha256'][:12]}" if "sha256" in known else None
        self.hits = self.misses = 0

    def encode(self, texts: Sequence[str], max_tokens: int, normalize: bool = True):
        """(n, d) float32 vectors of `texts`, cut to `max_tokens` tokens."""
        import numpy as np

        self.encoder.max_seq_length = max_tokens
        if self.model_id is None:
            return self._compute(list(texts), normalize)
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        path = cache_dir() / f"{self.model_id}-{max_tokens}-{'norm' if normalize else 'raw'}.sqlite"
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(path, timeout=120)) as db:
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
            found: dict[str, bytes] = {}
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), CHUNK):
                part = unique[start:start + CHUNK]
                rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                found.update(rows.fetchall())
            missing = [k for k in unique if k not in found]
            if missing:
                text_of = dict(zip(keys, texts))
                vectors = self._compute([text_of[k] for k in missing], normalize)
                rows = [(k, v.tobytes()) for k, v in zip(missing, vectors)]
                with db:
                    db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", rows)
                found.update(rows)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        return np.stack([np.frombuffer(found[k], dtype=np.float32) for k in keys]) if keys else \
            np.zeros((0, self.encoder.get_sentence_embedding_dimension()), dtype=np.float32)

    def _compute(self, texts: list[str], normalize: bool):
        return self.encoder.encode(texts, batch_size=self.batch_size, normalize_embeddings=normalize,
                                   convert_to_numpy=True, show_progress_bar=False).astype("float32")
