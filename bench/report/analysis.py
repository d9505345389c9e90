"""What the numbers say: noise, the cost Pareto front, and the prompting/training crossover.

Everything works on the aggregated rows of bench.report.table (one row per task,
strategy, model and budget; means and standard deviations over seeds).

Noise. A row's accuracy has two sources of uncertainty: the spread over seeds
(training draws, demonstrations) and the finite test set. Its standard error
combines both: se^2 = std_seeds^2 / n_seeds + se_test^2, where se_test is the
half-width of the record's bootstrap 95 % interval divided by 1.96. Two rows
differ *beyond noise* when |a - b| > 1.96 * sqrt(se_a^2 + se_b^2).

Crossover. For each budget (labels per class, smallest first), the best
training strategy is compared with the best prompting strategy at that budget;
a strategy that uses no labels (zero-shot) counts at every budget. Where a
strategy was tuned (`--tune`) at a budget, its tuned row stands for it there
and its untuned one is left out: every method at its best under one protocol.
At a budget where it is not tuned yet (a study still running), its untuned
row speaks for it, named as untuned in the sentence. The crossover
is the smallest budget from which training leads at every larger budget too.
Its gap is tested paired, over the same test texts and seeds
(bench.report.paired), when the caller can pair rows; otherwise by the
unpaired rule above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from bench.data.sampling import order as budget_order

PROMPTING, TRAINING = "prompting", "training"


def standard_error(row) -> float:
    std = row.get("accuracy_std")
    seeds = max(int(row.get("seeds", 1)), 1)
    seed_part = (std ** 2 / seeds) if std is not None and not math.isnan(std) else 0.0
    test_se = row.get("test_se", 0.0)
    test_part = test_se ** 2 if test_se is not None and not math.isnan(test_se) else 0.0
    return math.sqrt(seed_part + test_part)


def beyond_noise(a, b) -> bool:
    return abs(a["accuracy"] - b["accuracy"]) > 1.96 * math.hypot(standard_error(a), standard_error(b))


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of (cost, accuracy) points no other point beats on both (lower cost, higher accuracy)."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


@dataclass
class Crossover:
    task: str
    budget: str  # labels per class ("8", ..., "all") where training takes the lead, or the largest tried
    found: bool
    beyond_noise: bool
    gap: float  # accuracy points (training minus prompting) at the crossover, or at the largest budget
    trained: str
    prompted: str
    at_all: bool = False
    test: Any = None  # the paired comparison (bench.report.paired.Comparison) behind the gap, if there is one

    def sentence(self) -> str:
        where = "with the whole training split" if self.at_all else f"from {self.budget} labels per class"
        noise = "beyond seed and test noise" if self.beyond_noise else "within noise"
        gap = self.test.sentence() if self.test is not None else f"{100 * self.gap:+.1f} points"
        if self.found:
            return (f"{self.task}: training ({self.trained}) overtakes prompting ({self.prompted}) {where}, "
                    f"by {gap} ({noise}).")
        if self.beyond_noise:
            return (f"{self.task}: prompting ({self.prompted}) stays ahead of training ({self.trained}) at every "
                    f"budget tried ({gap} at the largest, {noise}).")
        return (f"{self.task}: training ({self.trained}) does not overtake prompting ({self.prompted}) at any "
                f"budget tried, and neither is ahead beyond noise at the largest ({gap}).")


def at_their_best(rows: list[dict]) -> list[dict]:
    """The rows that speak for each strategy at each budget: its tuned row there if it has one, else its
    untuned one (a strategy tuned at some budgets only is not left out of the others)."""
    tuned = {(r["strategy"], r["model"], str(r["budget"])) for r in rows if r.get("tuned")}
    return [r for r in rows if r.get("tuned") or (r["strategy"], r["model"], str(r["budget"])) not in tuned]


def with_defaults(rows: list[dict]) -> list[dict]:
    """The rows run with each strategy's options as they are now (or tuned from them under the current
    protocol), where there are such; the numeric format a row ran in (precision=bf16) is not another recipe:
    `recipe` is a row's options without it (bench.report.table.flat)."""
    current = {(r["strategy"], r["model"]) for r in rows if not r.get("recipe")}
    return [r for r in rows if not r.get("recipe") or (r["strategy"], r["model"]) not in current]


def crossover(rows: list[dict], task: str, compare: Callable[[dict, dict], Any] | None = None) -> Crossover | None:
    """`rows`: aggregated rows of one task (bench.report.table.aggregate), each with family, budget
    ("8", ..., "all"), uses_labels, accuracy and its noise, strategy and model; `compare(a, b)` pairs
    two rows (bench.report.table.Leaderboard.compare) or returns None."""
    rows = at_their_best(with_defaults(rows))
    budgets = sorted({str(r["budget"]) for r in rows if r["family"] == TRAINING}, key=budget_order)
    if not budgets or not any(r["family"] == PROMPTING for r in rows):
        return None
    per_budget = []
    for b in budgets:
        trained = [r for r in rows if r["family"] == TRAINING and str(r["budget"]) == b]
        prompted = [r for r in rows if r["family"] == PROMPTING and (str(r["budget"]) == b or not r["uses_labels"])]
        if trained and prompted:
            per_budget.append((b, max(trained, key=lambda r: r["accuracy"]),
                               max(prompted, key=lambda r: r["accuracy"])))
    if not per_budget:
        return None
    name = lambda r: (r["strategy"] + (" tuned" if r.get("tuned") else "")  # noqa: E731
                      + (f" {r['model']}" if r["model"] != "-" else ""))
    leads = [t["accuracy"] > p["accuracy"] for _, t, p in per_budget]
    first = next((i for i in range(len(leads)) if all(leads[i:])), None)
    b, t, p = per_budget[first if first is not None else -1]
    test = compare(t, p) if compare is not None else None
    noise = test.beyond_noise if test is not None else beyond_noise(t, p)
    return Crossover(task, b, first is not None, noise, t["accuracy"] - p["accuracy"], name(t), name(p),
                     at_all=first is not None and b == "all", test=test)
