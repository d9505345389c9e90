"""Nearest labelled training examples: sentence embeddings in a FAISS index.

Used by `rag` (the neighbours become a prompt's demonstrations) and `knn` (the
neighbours vote). The training texts are embedded once with a
sentence-transformers model (all-MiniLM-L6-v2 by default), L2-normalised, and
put in a FAISS index searched by inner product, which on unit vectors is cosine
similarity. Kinds of index:

- "flat": exact search (IndexFlatIP), the default;
- "hnsw": approximate, a graph (IndexHNSWFlat, 32 links per node, efSearch 64);
- "ivf": approximate, sqrt(n) clusters of which 8 are searched (IndexIVFFlat).

An index is built once per (embedding model, token budget, kind, training
data) and cached on disk under `<cache>/index/<hash>/` (`$BENCH_INDEX_CACHE`
overrides the folder); a change to any training text or label gives another
hash, hence a new index. The folder appears atomically, like every cache entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from bench.data import assets
from bench.contracts import Split
from bench.errors import BenchError

INDEX_KINDS = ("flat", "hnsw", "ivf")
HNSW_LINKS, HNSW_EF_SEARCH, IVF_NPROBE = 32, 64, 8


def index_cache_dir() -> Path:
    root = os.environ.get("BENCH_INDEX_CACHE")
    return Path(root).expanduser() if root else assets.cache_dir() / "index"


@dataclass(frozen=True)
class IndexInfo:
    """What the record says about the index."""

    kind: str
    vectors: int
    dimension: int
    size_bytes: int  # of the serialised index
    build_seconds: float  # embedding and indexing; loading time when it came from the cache
    from_cache: bool
    key: str  # the cache folder's name


class Retriever:
    """Embeds texts and finds the nearest training examples."""

    def __init__(self, embedder: str = "all-MiniLM-L6-v2", device: str = "cpu", batch_size: int = 64):
        from bench.engines.embeddings import Embeddings
        from bench.models.catalogue import canonical_name, provenance

        self.embeddings = Embeddings(embedder, device, batch_size)
        self.encoder = self.embeddings.encoder
        self.max_tokens = 256
        self.identity = {"embedder": provenance(canonical_name(embedder))}
        self.kind = "flat"
        self.batch_size = batch_size
        self.index = None
        self.info: IndexInfo | None = None
        self.truncated = {"train": 0, "queries": 0}  # texts cut to the embedder's token budget

    def count_long(self, texts: Sequence[str]) -> int:
        """How many texts exceed the embedder's token budget (they are cut to it)."""
        lengths = self.encoder.tokenizer(list(texts), add_special_tokens=True, verbose=False)["input_ids"]
        return sum(len(ids) > self.max_tokens for ids in lengths)

    def embed(self, texts: Sequence[str]):
        """Unit vectors of the texts (each encoded once per model and token budget: bench.engines.embeddings)."""
        return self.embeddings.encode(texts, self.max_tokens, normalize=True)

    def key(self, train: Split) -> str:
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode())
        for text, label in zip(train.texts, train.labels):
            digest.update(f"{label}\t{len(text)}\t{text}\n".encode())
        return digest.hexdigest()[:24]

    def build(self, train: Split, max_tokens: int = 256, kind: str = "flat") -> IndexInfo:
        """Load the index of `train` from the cache, or embed and index it (then cache it).

        `max_tokens` is the embedder's token budget per text, for training and query texts alike;
        `kind` is one of INDEX_KINDS.
        """
        import faiss

        if kind not in INDEX_KINDS:
            raise BenchError(f"unknown index kind {kind!r}; use one of {', '.join(INDEX_KINDS)}")
        self.kind = kind
        self.max_tokens = max_tokens
        self.identity.update(max_tokens=max_tokens, kind=kind)
        self.truncated["train"] = self.count_long(train.texts)
        key = self.key(train)
        folder = index_cache_dir() / key
        t0 = time.perf_counter()
        from_cache = (folder / "index.faiss").exists()
        if from_cache:
            index = faiss.read_index(str(folder / "index.faiss"))
        else:
            index = self._make(self.embed(train.texts))
            self._save(index, folder, len(train))
        if index.ntotal != len(train):
            raise BenchError(f"cached index {folder} holds {index.ntotal} vectors for {len(train)} texts; delete it")
        self._tune(index)
        self.index = index
        self.info = IndexInfo(self.kind, int(index.ntotal), int(index.d), (folder / "index.faiss").stat().st_size,
                              round(time.perf_counter() - t0, 3), from_cache, key)
        return self.info

    def add(self, new: Split) -> None:
        """Put new training examples into the index, after the ones it holds (ids continue from there).
        The cached index on disk is left as it was: it stays the index of the training data it was built from."""
        if self.index is None:
            raise RuntimeError("build() the index before adding to it")
        started = time.perf_counter()
        self.truncated["train"] += self.count_long(new.texts)
        self.index.add(self.embed(new.texts))
        self.info = dataclasses.replace(self.info, vectors=int(self.index.ntotal),
                                        build_seconds=round(self.info.build_seconds + time.perf_counter() - started, 3))

    def search(self, texts: Sequence[str], k: int):
        """(similarities, training-example ids), each (n, k), nearest first."""
        if self.index is None:
            raise RuntimeError("build() the index before searching it")
        k = min(k, self.index.ntotal)
        self.truncated["queries"] += self.count_long(texts)
        return self.index.search(self.embed(texts), k)

    def _make(self, vectors):
        import faiss

        n, d = vectors.shape
        if self.kind == "flat":
            index = faiss.IndexFlatIP(d)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        else:
            quantizer = faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, max(1, int(n ** 0.5)), faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
        index.add(vectors)
        return index

    def _tune(self, index) -> None:
        import faiss

        if self.kind == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = HNSW_EF_SEARCH
        elif self.kind == "ivf":
            faiss.extract_index_ivf(index).nprobe = IVF_NPROBE

    def _save(self, index, folder: Path, n: int) -> None:
        import faiss

        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".build-") as tmp:
            faiss.write_index(index, str(Path(tmp) / "index.faiss"))
            meta = {**self.identity, "vectors": n, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            (Path(tmp) / "meta.json").write_text(json.dumps(meta, indent=1))
            try:
                os.replace(tmp, folder)
            except OSError:
                if not (folder / "index.faiss").exists():  # another process won the race: theirs is as good
                    raise
            os.makedirs(tmp, exist_ok=True)  # TemporaryDirectory wants something to clean up

    def summary(self) -> dict:
        if self.info is None:
            return {}
        return {**asdict(self.info), "embedder_token_budget": self.max_tokens,
                "truncated_by_embedder": dict(self.truncated)}
