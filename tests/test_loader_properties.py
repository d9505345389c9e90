"""Property-based: whatever file a user hands the custom-task loader, it either
loads a sound task or says what is wrong in one line. It never crashes."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.data.loading import load_task
from bench.errors import BenchError
from bench.run.plan import resolve_card as resolve_task

texts = st.one_of(st.text(min_size=1, max_size=40), st.text(max_size=3), st.sampled_from(["same text", "x,y\n\"z\""]))
usual = st.sampled_from(["a", "b"])
labels = st.one_of(usual, usual, usual, st.sampled_from(["c", "", " a ", "1"]), st.text(max_size=5))
rows = st.builds(lambda good, odd: good + odd,  # mostly well-formed rows, plus a few odd ones
                 st.lists(st.tuples(texts, usual), max_size=60), st.lists(st.tuples(texts, labels), max_size=3))


def _write(kind: str, header: tuple[str, str], data: list[tuple[str, str]], folder: Path) -> Path:
    path = folder / f"data.{kind}"
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(data)
        path.write_text(buffer.getvalue(), encoding="utf-8")
    else:
        path.write_text("\n".join(json.dumps(dict(zip(header, r))) for r in data), encoding="utf-8")
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rows, kind=st.sampled_from(["csv", "jsonl"]),
       header=st.sampled_from([("text", "label"), ("text", "y"), ("body", "label")]),
       fraction=st.sampled_from([0.2, 0.5]))
def test_any_file_loads_soundly_or_fails_with_one_line(data, kind, header, fraction):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(kind, header, data, folder)
        (folder / "card.toml").write_text(f'path = "data.{kind}"\ntest_fraction = {fraction}\n')
        try:
            task = load_task(resolve_task(str(folder / "card.toml")))
        except BenchError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        k = len(task.label_names)
        assert k >= 2 and len(task.train) and len(task.test)
        assert all(0 <= y < k for y in task.train.labels + task.test.labels)
        assert set(task.test.labels) <= set(task.train.labels)
        assert not set(task.train.texts) & set(task.test.texts)
        assert all(t.strip() for t in task.train.texts + task.test.texts)
