"""Pinned artifacts: verified by hash, never trusted when damaged, clear errors offline."""

from __future__ import annotations

import dataclasses
import os

import pytest

from bench import assets
from bench.errors import BenchError

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
