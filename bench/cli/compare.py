"""`bench compare A B`: two leaderboard rows compared paired, and the texts they disagree on.

A and B name strategies, optionally with a model (`rag@gemma-3-270m`). Where a
strategy has tuned rows they speak for it (every method at its best), unless
`--untuned`; of its rows, those run with its options as they are now (and
tuned under the current protocol) speak before older recipes'. The
difference in accuracy comes with its 95 % interval and p-value from a paired
bootstrap over the test texts and seeds, and McNemar's exact test per seed
(bench.report.paired); then the texts where one is right and the other
wrong, for the first paired seed.
"""

from __future__ import annotations

from bench.cli.flags import results_folder
from bench.errors import BenchError

SHOWN = 10  # disagreements printed by default


def cmd_compare(args) -> int:
    from bench.data import sampling
    from bench.report import paired
    from bench.report.table import load

    results = results_folder(args.results)
    if not (results / "records").is_dir():
        raise BenchError(f"no records in {results}/records; run `bench run` first or pass --results DIR")
    board = load(results)
    budget = sampling.ALL if args.budget in (None, sampling.ALL) else args.budget
    rows = board.table[board.table.budget == budget] if not board.table.empty else board.table
    task = _task(rows, args)
    rows = rows[rows.task == task]
    a, b = _row(rows, args.a, args.untuned), _row(rows, args.b, args.untuned)
    records_a, records_b = board.records_of(a), board.records_of(b)
    test = paired.compare(records_a, records_b)
    if test is None:
        raise BenchError(f"{args.a} and {args.b} on {task} cannot be paired: their records lack gold labels or "
                         "hold other test data; re-run them with this bench")
    name = lambda row: f"{row.strategy} ({row.model}{', tuned' if row.tuned else ''})"  # noqa: E731
    n_test = len(records_a[0].gold)
    print(f"{task}, {'all labels' if budget == sampling.ALL else f'{budget} labels per class'}: {name(a)} vs "
          f"{name(b)}, {len(test.seeds)} paired seed(s), {n_test} test texts")
    print(f"accuracy {100 * a.accuracy:.1f} vs {100 * b.accuracy:.1f}: difference {test.sentence()}; "
          f"{'beyond noise' if test.beyond_noise else 'within noise'}")
    for m in test.per_seed:
        print(f"  seed {m.seed}: {m.only_a} texts only A gets right, {m.only_b} only B, "
              f"McNemar exact p{paired._p(m.p)}")
    seed, ra, rb = paired.pair(records_a, records_b)[0]
    disagree = [i for i, (x, y) in enumerate(zip(ra.predictions, rb.predictions)) if x != y]
    texts = _test_texts(ra)
    labels = ra.card().labels
    print(f"They disagree on {len(disagree)} texts (seed {seed}); the first {min(args.show, len(disagree))}:")
    for i in disagree[:args.show]:
        text = texts[i] if texts else f"(test text #{i}; the task's data could not be loaded here)"
        short = " ".join(text.split())[:160]
        print(f"  gold {labels[ra.gold[i]]:<10} A {labels[ra.predictions[i]]:<10} B {labels[rb.predictions[i]]:<10} "
              f"{short!r}")
    return 0


def _task(rows, args) -> str:
    tasks = sorted(rows.task.unique()) if not rows.empty else []
    if args.task:
        if args.task not in tasks:
            raise BenchError(f"--task {args.task}: no rows for it at that budget (tasks: {', '.join(tasks) or 'none'})")
        return args.task
    if len(tasks) != 1:
        raise BenchError(f"name the task with --task ({', '.join(tasks) or 'no task has rows at that budget'})")
    return tasks[0]


def _row(rows, spec: str, untuned: bool):
    strategy, _, model = spec.partition("@")
    found = rows[(rows.strategy == strategy) & ((rows.model == model) if model else True)]
    if untuned:
        found = found[~found.tuned]
    elif found.tuned.any():
        found = found[found.tuned]
    if (found.recipe == "").any():  # the current recipe before older ones (bench.report.table.flat)
        found = found[found.recipe == ""]
    if found.empty:
        options = ", ".join(sorted({f"{r.strategy}@{r.model}" for r in rows.itertuples()}))
        raise BenchError(f"{spec}: no row at this task and budget; rows: {options}")
    if len(found) != 1:
        if found.model.nunique() > 1:
            models = ", ".join(sorted(f"{strategy}@{m}" for m in found.model.unique()))
            raise BenchError(f"{spec}: several rows at this task and budget; name the model: {models}")
        raise BenchError(f"{spec}: several rows at this task and budget ({'; '.join(found.options)}), none of "
                         "them with the current options; compare them in LEADERBOARD.md, or re-run the strategy "
                         "with its defaults")
    return found.iloc[0]


def _test_texts(record) -> list[str] | None:
    """The test texts of a record's task, when its data can be loaded here and is the data it ran on."""
    from bench.data.loading import resolve

    try:
        _, data = resolve(record.card())
    except BenchError:
        return None
    return data.test.texts if data.fingerprint == record.data.fingerprint else None
