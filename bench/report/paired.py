"""Paired comparisons: every strategy predicts the same test texts, so "A beats B" is tested per text.

Two rows of a leaderboard (strategy, model, budget; each a record per seed)
are compared on the same test items and, where both ran it, the same seed
(the seed draws the same training sample for both). A row that ran once
(seed-free strategies) pairs with every seed of the other.

- McNemar's exact test per seed: of the texts exactly one of the two gets
  right, is the split b : c more lopsided than a fair coin would make it?
  p = min(1, 2 * P(Binomial(b + c, 1/2) <= min(b, c))).
- A paired bootstrap for the mean difference in accuracy over seeds:
  resample the test items (the same items for both) and the seeds, with
  replacement, `n_boot` times; the 95 % interval is the 2.5th to 97.5th
  percentile of the resampled differences, and the two-sided p-value twice the
  smaller share of resampled differences on either side of zero.
A difference is *beyond noise* when its 95 % interval excludes zero.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

from bench.run.records import Record

N_BOOT = 2000


@dataclass(frozen=True)
class McNemar:
    seed: int
    only_a: int  # texts A gets right and B wrong
    only_b: int
    p: float


@dataclass(frozen=True)
class Comparison:
    difference: float  # mean accuracy of A minus B over the paired seeds
    low: float  # 95 % interval of the difference (paired bootstrap over test items and seeds)
    high: float
    p: float  # two-sided bootstrap p-value
    per_seed: tuple[McNemar, ...]
    seeds: tuple[int, ...]

    @property
    def beyond_noise(self) -> bool:
        return self.low > 0 or self.high < 0

    def sentence(self) -> str:
        mcnemar = ", ".join(f"seed {m.seed} p{_p(m.p)}" for m in self.per_seed)
        return (f"{100 * self.difference:+.1f} points (95 % CI {100 * self.low:+.1f} to {100 * self.high:+.1f}, "
                f"paired bootstrap p{_p(self.p)}; McNemar {mcnemar})")


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> tuple[int, int, float]:
    """(A right and B wrong, B right and A wrong, exact two-sided p) for one paired set of texts."""
    only_a = sum(1 for a, b in zip(correct_a, correct_b) if a and not b)
    only_b = sum(1 for a, b in zip(correct_a, correct_b) if b and not a)
    n = only_a + only_b
    if n == 0:
        return only_a, only_b, 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return only_a, only_b, min(1.0, 2 * tail)


def correctness(record: Record):
    """The 0/1 vector of right answers on the test texts, or None when the record lacks gold labels."""
    import numpy as np

    if record.gold is None or record.predictions is None:
        return None
    return np.asarray(record.predictions) == np.asarray(record.gold)


def pair(a: list[Record], b: list[Record]) -> list[tuple[int, Record, Record]]:
    """(seed, A's record, B's record) for each seed both ran; a row run once pairs with every seed."""
    by_a, by_b = {r.cell.seed: r for r in a}, {r.cell.seed: r for r in b}
    if len(by_a) == 1 and len(by_b) > 1:
        only = next(iter(by_a.values()))
        return [(s, only, rb) for s, rb in sorted(by_b.items())]
    if len(by_b) == 1 and len(by_a) > 1:
        only = next(iter(by_b.values()))
        return [(s, ra, only) for s, ra in sorted(by_a.items())]
    if len(by_a) == 1 and len(by_b) == 1:
        return [(next(iter(by_a)), next(iter(by_a.values())), next(iter(by_b.values())))]
    return [(s, by_a[s], by_b[s]) for s in sorted(set(by_a) & set(by_b))]


def compare(a: list[Record], b: list[Record], n_boot: int = N_BOOT, seed: int = 0) -> Comparison | None:
    """A's records against B's, paired; None when they share no test items to pair (other data, no gold)."""
    import numpy as np

    pairs = [(s, correctness(ra), correctness(rb)) for s, ra, rb in pair(a, b)]
    pairs = [(s, ca, cb) for s, ca, cb in pairs if ca is not None and cb is not None and len(ca) == len(cb)]
    if not pairs or len({len(ca) for _, ca, _ in pairs}) != 1:
        return None
    first_a, first_b = pair(a, b)[0][1], pair(a, b)[0][2]
    if first_a.data and first_b.data and first_a.data.fingerprint != first_b.data.fingerprint:
        return None
    per_seed = tuple(McNemar(s, *mcnemar_exact(ca, cb)) for s, ca, cb in pairs)
    diffs = np.stack([ca.astype(float) - cb.astype(float) for _, ca, cb in pairs])  # seeds x items
    n_seeds, n_items = diffs.shape
    # each replicate draws seeds and items with replacement; as counts, its mean difference is
    # (seed counts) . diffs . (item counts) / (n_seeds * n_items), for all replicates at once
    seed_counts, item_counts = resample_counts(n_seeds, n_items, n_boot, seed)
    boot = ((seed_counts @ diffs) * item_counts).sum(axis=1) / (n_seeds * n_items)
    p = min(1.0, 2 * min((boot <= 0).mean(), (boot >= 0).mean()))
    return Comparison(float(diffs.mean()), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5)),
                      float(p), per_seed, tuple(s for s, _, _ in pairs))


@functools.lru_cache(maxsize=64)
def resample_counts(n_seeds: int, n_items: int, n_boot: int, seed: int):
    """(seed counts, item counts) of `n_boot` bootstrap replicates, each row a draw with replacement.

    They depend on the shapes and the seed only, so every comparison of the same shape resamples alike;
    drawn once per shape (a draw over a test split of 1,000 texts takes 50 ms, and a report compares
    dozens of pairs) and handed out read-only."""
    import numpy as np

    rng = np.random.default_rng(seed)
    seed_counts = rng.multinomial(n_seeds, [1 / n_seeds] * n_seeds, size=n_boot)
    item_counts = rng.multinomial(n_items, [1 / n_items] * n_items, size=n_boot)
    seed_counts.flags.writeable = item_counts.flags.writeable = False
    return seed_counts, item_counts


def _p(p: float) -> str:
    """A p-value after its "p": "<0.001" or "=0.042"."""
    return "<0.001" if p < 0.001 else f"={p:.3f}"
