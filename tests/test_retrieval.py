"""Retrieval on the real all-MiniLM-L6-v2 and real SMS spam data (no mocks).

The index cache goes to a temporary folder (BENCH_INDEX_CACHE); the model
cache stays shared, so the embedder is not unpacked again.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench.contracts import Split
from bench.data.loading import load_task
from bench.registry import TASKS



@pytest.fixture(scope="module")
def spam():
    card = TASKS.get("spam")
    return card, load_task(card)


@pytest.fixture(scope="module")
def retriever():
    from bench.models.local import use_offline_hub
    from bench.engines.retrieval import Retriever

    use_offline_hub()
    return Retriever("all-MiniLM-L6-v2", "cpu")


@pytest.fixture(autouse=True)
def index_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_INDEX_CACHE", str(tmp_path / "index"))
    return tmp_path / "index"


def small_train(data, n=300) -> Split:
    return Split(data.train.texts[:n], data.train.labels[:n])


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_a_training_text_finds_itself_first(retriever, spam, kind):
    _, data = spam
    train = small_train(data)
    info = retriever.build(train, max_tokens=64, kind=kind)
    assert info.kind == kind and info.vectors == 300 and info.dimension == 384 and info.size_bytes > 300 * 384 * 4
    queries = list(range(0, 300, 15))
    similarity, ids = retriever.search([train.texts[i] for i in queries], k=3)
    assert ids.shape == (20, 3)
    assert list(ids[:, 0]) == queries  # its own duplicate is the nearest neighbour
    assert np.allclose(similarity[:, 0], 1, atol=1e-4)  # cosine of a unit vector with itself
    assert (similarity[:, 0] >= similarity[:, 1]).all()


def test_the_index_is_cached_and_rebuilt_when_the_data_changes(retriever, spam, index_cache):
    _, data = spam
    train = small_train(data, 120)
    first = retriever.build(train, max_tokens=64)
    assert not first.from_cache and (index_cache / first.key / "index.faiss").exists()
    again = retriever.build(train, max_tokens=64)
    assert again.from_cache and again.key == first.key
    assert not [p for p in index_cache.iterdir() if p.name.startswith(".")]  # nothing half-written left
    edited = Split([train.texts[0] + " (edited)"] + train.texts[1:], train.labels)
    changed = retriever.build(edited, max_tokens=64)
    assert not changed.from_cache and changed.key != first.key
    relabelled = Split(train.texts, [1 - train.labels[0]] + train.labels[1:])
    assert retriever.key(relabelled) != first.key
    assert retriever.build(train, max_tokens=32).key != first.key  # another token budget, another index
    assert retriever.build(train, max_tokens=64, kind="hnsw").key != first.key  # another kind, another index
    assert len(list(index_cache.iterdir())) == 4


def test_knn_votes_and_breaks_ties_by_the_nearest():
    from bench.strategies.knn import vote

    proba = vote([[1, 0, 0, 1], [0, 1, 1, 0], [1, 1, 1, 0], [2, -1, -1, -1]], n_labels=3)
    assert list(proba.argmax(axis=1)) == [1, 0, 1, 2]
    assert np.allclose(proba.sum(axis=1), 1)
    assert proba[2, 1] == pytest.approx(0.75)


def test_knn_on_real_spam_beats_the_majority_class(spam):
    from bench.run.grid import build_strategy

    card, data = spam
    knn = build_strategy("knn", {"k": 4})
    knn.fit(small_train(data, 800), replace(card, max_tokens=64))
    test = data.test.texts[:150]
    predictions = knn.predict(test)
    accuracy = np.mean(np.array(predictions) == np.array(data.test.labels[:150]))
    majority = max(np.mean(np.array(data.test.labels[:150]) == y) for y in (0, 1))
    assert accuracy > majority + 0.04, (accuracy, majority)
    info = knn.extra_info()["index"]
    assert info["vectors"] == 800 and not info["from_cache"] and info["build_seconds"] > 0
    assert knn.parameter_counts().trainable == 0 and 22e6 < knn.parameter_counts().total < 23.5e6


@pytest.mark.slow
def test_rag_uses_retrieved_neighbours_as_demonstrations(spam):
    from bench.run.grid import build_strategy

    card, data = spam
    rag = build_strategy("rag", {"k": 2})
    train = small_train(data, 200)
    rag.fit(train, card)
    texts = [train.texts[5], data.test.texts[0], data.test.texts[1]]
    proba = rag.predict_proba(texts)
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1)
    info = rag.extra_info()
    assert info["index"]["vectors"] == 200 and info["prompt"]["prompt_tokens_mean"] > 60
    counts = rag.parameter_counts()
    assert counts.trainable == 0 and counts.total > 155e6  # SmolLM2 and MiniLM, each once
    again = build_strategy("rag", {"k": 2})
    again.fit(train, card)
    assert again.extra_info()["index"]["from_cache"]
