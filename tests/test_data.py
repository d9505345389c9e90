"""Task data: the embedded sets, local copies in every supported layout, and bad input."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from bench.data.cards import load_card
from bench.contracts import TaskCard
from bench.data.loading import load_task, resolve
from bench.data.sources.tables import LocalTable
from bench.errors import BenchError
from bench.run.plan import resolve_card as resolve_task
from bench.registry import TASKS

from conftest import sentiment_rows, write_csv


def test_imdb_is_the_real_200_200_subset_with_markup_removed():
    data = load_task(TASKS.get("imdb"))
    assert (len(data.train), len(data.test)) == (200, 200)
    assert Counter(data.train.labels) == {0: 120, 1: 80}
    assert Counter(data.test.labels) == {1: 103, 0: 97}
    assert not any("<br" in t for t in data.train.texts + data.test.texts)
    assert data.train.texts[0].startswith("Now, I won't deny that when I purchased this off eBay")


def test_spam_split_is_stratified_fixed_and_leak_free():
    first, again = load_task(TASKS.get("spam")), load_task(TASKS.get("spam"))
    assert first.fingerprint == again.fingerprint
    assert (len(first.train), len(first.test)) == (4128, 1032)
    assert not set(first.train.texts) & set(first.test.texts)
    spam_share = lambda split: sum(split.labels) / len(split)
    assert abs(spam_share(first.train) - spam_share(first.test)) < 0.005
    assert any("repeated" in note for note in first.notes)


def _imdb_local(path: Path) -> TaskCard:
    return resolve_task("imdb", str(path))


def test_imdb_reads_the_aclimdb_folder_layout(tmp_path):
    for split in ("train", "test"):
        for label, text in (("pos", "A great film.<br /><br />Loved it."), ("neg", "Dreadful.")):
            for i in range(3):
                f = tmp_path / "aclImdb" / split / label / f"{i}_7.txt"
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(f"{text} {split} {i}")
    (tmp_path / "aclImdb" / "train" / "unsup").mkdir()
    (tmp_path / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    data = load_task(_imdb_local(tmp_path / "aclImdb"))
    assert (len(data.train), len(data.test)) == (6, 6)
    assert Counter(data.test.labels) == {0: 3, 1: 3}
    assert "A great film. Loved it. train 0" in data.train.texts


def test_imdb_reads_the_hub_parquet_layout_with_integer_labels(tmp_path):
    import pandas as pd

    folder = tmp_path / "plain_text"
    folder.mkdir()
    rows = lambda split: pd.DataFrame({"text": [f"{split} review {i}" for i in range(8)], "label": [0, 1] * 4})
    rows("train").to_parquet(folder / "train-00000-of-00001.parquet")
    rows("test").to_parquet(folder / "test-00000-of-00001.parquet")
    pd.DataFrame({"text": ["x"], "label": [-1]}).to_parquet(folder / "unsupervised-00000-of-00001.parquet")
    data = load_task(_imdb_local(tmp_path))
    assert (len(data.train), len(data.test)) == (8, 8)
    assert data.train.labels[:2] == [0, 1]


def test_a_single_csv_gets_a_held_out_stratified_test_split(tmp_path):
    csv = write_csv(tmp_path / "reviews.csv", [(t, "pos" if y == "good" else "neg") for t, y in sentiment_rows(20)])
    data = load_task(_imdb_local(csv))
    assert (len(data.train), len(data.test)) == (32, 8)
    assert Counter(data.test.labels) == {0: 4, 1: 4}


def test_toml_card_with_jsonl_data_and_inferred_labels(tmp_path):
    lines = [json.dumps({"review": t, "stars": y}) for t, y in sentiment_rows(10)]
    (tmp_path / "r.jsonl").write_text("\n".join(lines))
    (tmp_path / "r.toml").write_text('name = "mine"\npath = "r.jsonl"\ntext_field = "review"\nlabel_field = "stars"\n')
    card = resolve_task(str(tmp_path / "r.toml"))
    data = load_task(card)
    assert data.label_names == ("bad", "good")
    assert len(data.train) + len(data.test) == 20


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("text,label\n", "has no rows"),
    ("words,label\nhello,good\n", "no text column 'text'"),
    ("text,label\n" + "".join(f"t{i},good\n" for i in range(10)), "only one class|1 label value"),
])
def test_bad_data_files_give_one_clear_line(tmp_path, content, message):
    (tmp_path / "d.csv").write_text(content)
    (tmp_path / "c.toml").write_text('path = "d.csv"\n')
    with pytest.raises(BenchError, match=message) as info:
        load_task(resolve_task(str(tmp_path / "c.toml")))
    assert "\n" not in str(info.value)


def test_labels_only_in_test_are_refused(tmp_path):
    write_csv(tmp_path / "train.csv", sentiment_rows(5))
    write_csv(tmp_path / "test.csv", sentiment_rows(5)[:4] + [("so-so", "meh")])
    (tmp_path / "c.toml").write_text('path = "train.csv"\ntest_path = "test.csv"\nlabels = ["bad", "good", "meh"]\n')
    with pytest.raises(BenchError, match="meh occur in the test split but never in training"):
        load_task(resolve_task(str(tmp_path / "c.toml")))


def test_unknown_label_values_and_bad_encoding_are_named(tmp_path):
    write_csv(tmp_path / "d.csv", sentiment_rows(5) + [("odd", "ugly")])
    card = replace(TASKS.get("imdb"), source=LocalTable(str(tmp_path / "d.csv")), raw_labels=("bad", "good"),
                   label_field="label")
    with pytest.raises(BenchError, match="'ugly' are not among the task's labels"):
        load_task(card)
    (tmp_path / "latin.csv").write_bytes("text,label\ncaf\xe9,good\n".encode("latin-1"))
    with pytest.raises(BenchError, match="not valid UTF-8"):
        load_task(replace(card, source=LocalTable(str(tmp_path / "latin.csv"))))


def test_bad_cards_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text('path = "x.csv"\ncolour = "red"\n')
    with pytest.raises(BenchError, match="unknown field"):
        load_card(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text('name = "b"\n')
    with pytest.raises(BenchError, match="missing field 'path'"):
        load_card(tmp_path / "b.toml")
    (tmp_path / "c.toml").write_text('path = "x.csv"\ntest_fraction = 1.5\n')
    with pytest.raises(BenchError, match="test_fraction"):
        load_card(tmp_path / "c.toml")
    (tmp_path / "e.toml").write_text('path = "x.csv"\nlabels = ["a", "b"]\nlabel_words = ["x"]\n')
    with pytest.raises(BenchError, match="label_words needs one entry per label"):
        load_card(tmp_path / "e.toml")
    (tmp_path / "f.toml").write_text('[source]\nkind = "packaged-table"\nartifact = "clarifai"\n')
    with pytest.raises(BenchError, match="packaged-table source has missing field"):
        load_card(tmp_path / "f.toml")
    (tmp_path / "d.toml").write_text("path = [unclosed\n")
    with pytest.raises(BenchError, match="not valid TOML"):
        load_card(tmp_path / "d.toml")


def test_label_words_with_inferred_labels(tmp_path):
    """A card may name the label words and let the data name the labels (sorted: bad, good)."""
    write_csv(tmp_path / "d.csv", sentiment_rows(10))
    (tmp_path / "c.toml").write_text('path = "d.csv"\nlabel_words = ["poor", "great"]\n')
    card, data = resolve(load_card(tmp_path / "c.toml"))
    assert card.labels == ("bad", "good") and card.label_words == ("poor", "great")
    assert data.label_names == ("bad", "good")
    (tmp_path / "w.toml").write_text('path = "d.csv"\nlabel_words = ["poor", "fine", "great"]\n')
    with pytest.raises(BenchError, match="label_words needs one entry per label \\(2\\), got 3"):
        resolve(load_card(tmp_path / "w.toml"))


def test_a_cards_prompt_template_reaches_the_prompt(tmp_path):
    """instruction, answer_format and text_format belong to the card; the prompt builder only lays them out."""
    from bench.engines.prompts import PromptBuilder

    write_csv(tmp_path / "d.csv", sentiment_rows(10))
    (tmp_path / "c.toml").write_text('path = "d.csv"\ninstruction = "Rate this film."\n'
                                     'answer_format = "Reply {choices}, nothing else."\n'
                                     'text_format = "Review: <<{text}>>"\nlabel_words = ["thumbs-down", "thumbs-up"]\n')
    card, _ = resolve(load_card(tmp_path / "c.toml"))

    class Plain:  # a tokenizer without a chat template: the plain-text layout
        chat_template = None
        bos_token = "<s>"

    builder = PromptBuilder(card, Plain())
    turns = builder.conversation([("dull", 0)], builder.show("moving"))
    assert builder.render(turns) == ("<s>Rate this film.\nReply thumbs-down or thumbs-up, nothing else.\n\n"
                                     "Review: <<dull>>\nAnswer: thumbs-down\n\nReview: <<moving>>\nAnswer:")
    assert builder.label_texts() == [" thumbs-down", " thumbs-up"]


def test_a_card_travels_as_json_and_comes_back_equal():
    from bench.data.cards import as_json, from_json

    for name in ("imdb", "spam", "spam-email", "20newsgroups"):
        card = TASKS.get(name)
        assert from_json(json.loads(json.dumps(as_json(card)))) == card
