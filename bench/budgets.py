"""Label budgets: how many labelled examples per class a strategy may use.

`budget_sample(split, per_class, seed)` is a pure function: for each class it
shuffles that class's examples with a generator seeded by (seed, class id) and
takes the first `per_class`. The same seed therefore gives nested samples
(the 8 per class are the first 8 of the 32), and every class gets the same
number unless it has fewer examples than asked, in which case it gives all it
has. `None` means the whole training pool ("all").
"""

from __future__ import annotations

import math

from bench.contracts import Split
from bench.errors import BenchError

ALL = "all"


def parse(values: list[str]) -> list[int | None]:
    """`8 32 all` from the command line into [8, 32, None]."""
    out: list[int | None] = []
    for value in values:
        if value.lower() == ALL:
            out.append(None)
            continue
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            raise BenchError(f"--budgets {value!r}: give a positive number of labels per class, or 'all'")
        out.append(number)
    if len(set(out)) != len(out):
        raise BenchError(f"--budgets {' '.join(values)}: a budget is repeated; give each once")
    return sorted(out, key=size)


def name(budget: int | None) -> str:
    """A budget as tables show it: "8", or "all" for the whole training pool."""
    return ALL if budget is None else str(budget)


def size(budget: int | None) -> float:
    """A budget as a number to sort by: the whole training pool outranks every count."""
    return math.inf if budget is None else budget


def order(budget_name: str) -> float:
    """A budget's name ("8", "all") as a number to sort by."""
    return size(None if budget_name == ALL else int(budget_name))


def budget_sample(split: Split, per_class: int | None, seed: int) -> Split:
    if per_class is None:
        return split
    import numpy as np

    keep: list[int] = []
    for label in sorted(set(split.labels)):
        members = [i for i, y in enumerate(split.labels) if y == label]
        order = np.random.default_rng([seed, label]).permutation(len(members))
        keep += [members[j] for j in order[:per_class]]
    keep.sort()
    return Split([split.texts[i] for i in keep], [split.labels[i] for i in keep])
