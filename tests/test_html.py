"""The HTML report, its colours and `bench show`, on hand-made typed records (no browser; see test_browser.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from html.parser import HTMLParser

import pytest

from bench.contracts import EpochRow, TrainingInfo
from bench.files import write_json
from bench.report import html, palette
from bench.report.publish import publish
from bench.report.table import load
from bench.run.records import Record, Trial, TuningInfo
from conftest import make_record, run_bench

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & </script>'


class Elements(HTMLParser):
    """The page's elements, as a browser's parser would see them: (tag, attributes) in order."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def _records() -> list[Record]:
    gold = tuple([0] * 6 + [1] * 4)
    curves = TrainingInfo(curves=tuple(EpochRow(e, 0.7 - 0.1 * e, 0.6, None if e == 1 else 0.6, None if e == 1 else 0.7,
                                                1.0) for e in (1, 2, 3)),
                          best_epoch=3, best_rule="last epoch", epochs_run=3, epochs_planned=3, stopped_early=False,
                          n_train=9, n_val=1, train_examples_per_second=10.0)
    tuning = TuningInfo(protocol="2-fold stratified cross-validation on the 20 training labels",
                        trials=(Trial({"C": 10.0}, (0.5, 0.7), 0.6, 0.2), Trial({"C": 1.0}, (0.8, 0.8), 0.8, 0.3)),
                        chosen={"C": 1.0}, refit={"C": 1.0}, seconds=0.5)
    out = []
    for seed in (0, 1):
        out.append(make_record("t", "majority", "baseline", None, seed, 0.6, n_test=10, predictions=(0,) * 10))
        out.append(make_record("t", "lora", "training", None, seed, 0.8 + seed / 10, n_test=10, training=curves,
                               predictions=(0,) * 6 + (1,) * 4 if seed else (0,) * 4 + (1,) * 6))
    out.append(dataclasses.replace(make_record("t", "tfidf", "baseline", None, 0, 0.9, n_test=10,
                                               predictions=(0,) * 5 + (1,) * 5), tuning=tuning))
    out = [dataclasses.replace(r, gold=gold, key=hashlib.sha256(r.key.encode()).hexdigest()) for r in out]
    failed = make_record("t", "knn", "retrieval", None, 0, 0.5, n_test=10)
    out.append(dataclasses.replace(failed, status="failed", metrics=None, error=f"it broke on {HOSTILE}",
                                   traceback="Traceback ...", key="failed-knn"))
    out[0] = dataclasses.replace(out[0], config=dataclasses.replace(out[0].config, task={
        "name": "t", "description": f"a task described as {HOSTILE}", "labels": ["neg", "pos"]}))
    return out


def _publish(tmp_path):
    for i, record in enumerate(_records()):
        write_json(tmp_path / "records" / f"r{i}.json", record.as_json())
    board = load(tmp_path)
    _, _, page = publish(board, tmp_path)
    return board, page.read_text(encoding="utf-8")


def test_script_json_leaves_nothing_that_ends_a_script_element():
    value = {"text": HOSTILE + "\u2028<!-- -->", "n": float("nan")}
    text = html.script_json(value)
    assert not re.search(r"[<>&\u2028]", text)
    assert json.loads(text) == {"text": value["text"], "n": None}


def test_the_page_is_one_offline_file_whose_data_is_text(tmp_path):
    board, page = _publish(tmp_path)
    parser = Elements()
    parser.feed(page)
    tags = [tag for tag, _ in parser.found]
    scripts = [attrs for tag, attrs in parser.found if tag == "script"]
    assert [s.get("type") for s in scripts] == ["application/json", None, None]  # data, plotly.js, page.js
    assert not any(attrs.get("src") or attrs.get("href", "").startswith("http") for _, attrs in parser.found)
    assert "img" not in tags and "iframe" not in tags  # the hostile texts never became elements
    assert not any(k.startswith("on") for _, attrs in parser.found for k in attrs)  # no inline handlers at all
    csp = next(a["content"] for t, a in parser.found
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and csp.count("'sha256-") == 2 and "unsafe-eval" not in csp
    assert "a task described as &lt;script&gt;" in page  # the template escapes what it writes
    data = json.loads(re.search(r'id="bench-data">(.*?)</script>', page, re.S).group(1))
    assert len(data["runs"]) == len(board.ok) + len(board.failed)
    tables = re.findall(r"<table class=\"sortable (\w+)\">.*?<tbody>(.*?)</tbody>", page, re.S)
    assert [kind for kind, _ in tables] == ["leaderboard", "runs"] and all("<tr" in body for _, body in tables)


def test_the_same_records_make_the_same_page_byte_for_byte(tmp_path):
    """A rebuilt page is the same file whatever the day (it is committed with the published study)."""
    _, first = _publish(tmp_path)
    assert "(the newest finished 2026-01-01)" in first  # the records' own date, not the day it was built
    _, again = _publish(tmp_path)
    assert again == first


def test_a_runs_details_carry_confusion_wrong_texts_curves_and_tuning(tmp_path):
    board, page = _publish(tmp_path)
    data = json.loads(re.search(r'id="bench-data">(.*?)</script>', page, re.S).group(1))
    runs = data["runs"]
    lora = next(r for r in runs.values() if r["title"].startswith("t / lora") and r["title"].endswith("seed 0"))
    assert lora["confusion"] == [[4, 2], [0, 4]]  # from the records' own gold labels
    assert [w[0] for w in lora["wrong"]] == [4, 5]
    assert lora["note"] and "listed by number only" in lora["note"]  # task "t" cannot be loaded here
    curves = lora["training"]["figure"]["data"]
    assert {t["name"] for t in curves} == {"train loss", "validation loss", "train accuracy", "validation accuracy"}
    assert next(t for t in curves if t["name"] == "validation loss")["y"][0] is None  # no validation at epoch 1
    tfidf = next(r for r in runs.values() if "tfidf" in r["title"])
    assert tfidf["title"].endswith("/ tuned") and dict(tfidf["tuning"])["chosen"] == "C=1.0"
    assert [t["options"] for t in tfidf["trials"]] == ["C=1.0", "C=10.0"]  # best first
    assert [t["chosen"] for t in tfidf["trials"]] == ["chosen", ""]
    failed = next(r for r in runs.values() if r["status"] == "failed")
    assert failed["error"].endswith(HOSTILE)  # kept as it was, to be shown as text
    lead = data["tasks"]["task-0"]["figures"]
    assert set(lead) == {"cost"}
    assert all("customdata" in t for t in lead["cost"]["data"] if t["mode"] == "markers")


def test_each_strategy_keeps_its_colour_and_each_variant_a_marker():
    runs = [("majority", "baseline", "-", "", False), ("lora", "training", "a", "", False),
            ("lora", "training", "b", "", False), ("lora", "training", "a", "", True),
            ("mine", "training", "-", "", False), ("other", "weird", "-", "", False)]
    one, two = palette.palette(runs), palette.palette(list(reversed(runs)))
    for strategy in ("majority", "lora", "mine", "other"):
        assert one.colour(strategy) == two.colour(strategy)
    assert one.colour("lora") == palette.FIXED["lora"]
    assert one.colour("mine") in palette.SPARE["training"]  # a training shade not taken by a built-in
    assert len({one.colour(s) for s in ("majority", "lora", "mine", "other")}) == 4
    assert len({one.marker("lora", m, "", t) for m, t in (("a", False), ("b", False), ("a", True))}) == 3
    assert sorted(["lora", "majority", "mine"], key=lambda s: one.order(s)) == ["majority", "lora", "mine"]
    assert palette.label("knn", "m", "k=8", True) == "knn [k=8] tuned (m)"


def test_bench_show_prints_one_run_or_lists_the_matches(tmp_path):
    for i, record in enumerate(_records()):
        write_json(tmp_path / "results" / "records" / f"r{i}.json", record.as_json())
    one = run_bench("show", "t", "lora", "seed=1", "--wrong", "all", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    for words in ("t / lora / m / all labels / seed 1", "training curves", "confusion matrix",
                  "wrong predictions: 0 of 10"):
        assert words in one.stdout
    tuned = run_bench("show", "tfidf", "tuned=yes", cwd=tmp_path)
    assert tuned.returncode == 0 and "tuning trials" in tuned.stdout and "C=1.0" in tuned.stdout
    several = run_bench("show", "lora", cwd=tmp_path)
    assert several.returncode == 2 and "2 runs match 'lora'" in several.stderr and "matching runs" in several.stdout
    none = run_bench("show", "nothing-like-it", cwd=tmp_path)
    assert none.returncode == 2 and "no run matches" in none.stderr


@pytest.mark.parametrize("kind", ["no records", "only a failed run", "only a --select-only choice"])
def test_any_results_folder_gets_a_page(tmp_path, kind):
    (tmp_path / "records").mkdir()
    record = make_record("t", "tfidf", "baseline", None, 0, 0.5)
    if kind == "only a failed run":
        record = dataclasses.replace(record, status="failed", metrics=None, error="it broke")
    if kind == "only a --select-only choice":
        tuning = TuningInfo("held-out 20 %", (Trial({"C": 1.0}, (0.5,), 0.5, 0.1),), {"C": 1.0}, {"C": 1.0}, 0.1)
        record = dataclasses.replace(record, metrics=None, predictions=None, tuning=tuning)
    if kind != "no records":
        write_json(tmp_path / "records" / "r.json", record.as_json())
    _, _, page = publish(load(tmp_path), tmp_path)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and text.rstrip().endswith("</html>")
    assert ("No records yet" in text) == (kind == "no records")
    assert ("selected (not tested)" in text) == (kind == "only a --select-only choice")
