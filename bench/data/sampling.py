"""Seeded samples of a training pool: label budgets, validation splits, demonstrations.

Each is a pure function of (split, size, seed), so a record's seed says exactly
which examples a strategy saw. None of them ever touches a test split.

- `budget_sample(split, per_class, seed)`: for each class, that class's
  examples shuffled by a generator seeded with (seed, class id), first
  `per_class` taken. The same seed gives nested samples (the 8 per class are
  the first 8 of the 32); a class with fewer examples than asked gives all it
  has. `None` means the whole training pool ("all").
- `validation_split(split, fraction, cap, seed)`: the pool capped to `cap`
  examples and a validation split held out of it, both stratified by label.
- `sample_demonstrations(split, k, seed)`: k examples per class, in a seeded order.
"""

from __future__ import annotations

import math
import random

from bench.contracts import Split
from bench.errors import BenchError

ALL = "all"


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
        shuffled = np.random.default_rng([seed, label]).permutation(len(members))
        keep += [members[j] for j in shuffled[:per_class]]
    keep.sort()
    return split.subset(keep)


def validation_split(train: Split, fraction: float, cap: int, seed: int) -> tuple[Split, Split]:
    """The training split capped to `cap` examples (0 = no cap), and a validation split held out of it
    (empty when `fraction` is 0).

    The validation split gets `fraction` of the capped pool, rounded up, and at
    least one example per class, so small label budgets (8 per class) still have
    one; a class with a single example cannot be split and is an error.
    """
    from sklearn.model_selection import train_test_split

    idx = list(range(len(train)))
    n_classes = len(set(train.labels))
    try:
        if cap and cap < len(idx):
            idx, _ = train_test_split(idx, train_size=cap, random_state=seed, stratify=[train.labels[i] for i in idx])
        if not fraction:
            return train.subset(idx), Split([], [])
        n_val = max(n_classes, math.ceil(fraction * len(idx)))
        fit_idx, val_idx = train_test_split(idx, test_size=n_val, random_state=seed,
                                            stratify=[train.labels[i] for i in idx])
    except ValueError as exc:
        raise BenchError(f"cannot hold out a stratified validation split from {len(idx)} training examples "
                         f"({str(exc).split('.')[0]}); every class needs at least 2, one to train on and one "
                         "to validate: use a larger --budgets value or max_train_examples") from None
    return train.subset(fit_idx), train.subset(val_idx)


def sample_demonstrations(split: Split, k: int, seed: int) -> list[tuple[str, int]]:
    """k (text, label) pairs per class (fewer where a class has fewer), in a seeded order."""
    rng = random.Random(seed)
    chosen = []
    for label in sorted(set(split.labels)):
        members = [i for i, y in enumerate(split.labels) if y == label]
        chosen += rng.sample(members, min(k, len(members)))
    rng.shuffle(chosen)
    return [(split.texts[i], split.labels[i]) for i in chosen]
