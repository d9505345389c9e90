"""Choosing a strategy's options on its training labels only: the protocol behind `--tune N`.

Every tunable strategy declares a `search_space` next to its options. With
`--tune N` each gets the same budget: up to N configurations, the defaults
first, then a seeded sample of the rest of the grid (all of it when it has N
or fewer points). Each configuration is scored on the cell's *training*
labels, never on the test split (the tuner is handed the training sample and
nothing else):

- a small pool (a class with at most `SMALL_CLASS` examples, as at 8 or 32
  labels per class) is scored by stratified k-fold cross-validation (k =
  `FOLDS`, or the smallest class size if lower): every label is used for
  validation once, which is what makes a choice on a few labels worth anything
  (Perez et al. 2021, "True Few-Shot Learning", show that model selection on
  a handful of examples is noisy, and that a held-out split is the worst way
  to spend them);
- a larger pool by one stratified held-out split of `HOLDOUT` of it (at most
  `HOLDOUT_MAX` examples, which bounds what prompting strategies pay to score it).

The score is validation accuracy, averaged over folds; ties go to the earlier
trial, so the defaults win a tie. The chosen options are then fit on every
training label of the cell.

A trained strategy (its Config is a `TrainingOptions`) chooses its epoch
inside each trial fit, so tuning needs no extra fits for it: the trial trains
on all of the fold's fit part and validates every epoch on the fold's
held-out part, which both chooses the kept epoch (its best-epoch rule) and
scores the trial (the kept epoch's accuracy there); early stopping waits at
least `TRIAL_PATIENCE` epochs without a new best. The score is thus the best of
the trial's epochs on those labels, a little optimistic, and alike for every
trial it ranks. The final fit replays the chosen trial on all the labels,
without a validation split: the same options and learning-rate schedule (planned
for the same epochs), stopped after the median kept epoch of its folds
(`stop_after`), so the refit's weights are what the trial validated, trained on
more labels; and it must learn as the trial did, or the next-best trial's
options are refit (`refit_check`, version 4).

Versions (`protocol_version(cls)`, part of a tuned cell's key; records keep theirs):
1. A trained strategy's trial carved its own validation split (a fifth) out of
   the fold's fit part for the kept epoch, with the strategy's patience (2),
   and the held-out part only scored it: on imdb's 200 labels the epoch was
   chosen on 32 reviews, and lora's refits trained 1-4 epochs (TUNING.md).
2. Trials train on the whole fit part, and the held-out part chooses the
   epoch and scores the trial. The refit ran the kept epoch's number of epochs
   with its own schedule, squeezing warmup and decay into them: a kept epoch
   of 1 became one short, decayed epoch, and spam lora fell from 0.99 in its
   trial to 89.3 % (TUNING.md). The other strategies' rules did not change, so
   they stay at version 1 and keep their cells.
3. As 2, but the refit replays the trial's schedule and stops at its kept epoch.
   The trials are version 2's (`TRIALS_AS_IN`), so a cell tuned under version 2
   lends its recorded trials to the same cell under version 3 (bench.run.plan
   finds the record): only the refit runs again, and the record names the
   record its trials came from (`TuningInfo.trials_from`).
4. As 3, but a refit must learn as its trial did (`refit_check`): scored on its
   own training labels, it must reach halfway from the majority class's share
   to its trial's validation score. One that does not (imdb partial with
   attention dropout 0, seed 0, learning rate 5e-4: its trial scored 0.800, its
   refit never left 0.69 of training loss and answered the majority class on
   test) gives way to the next-best trial's options, refit in turn; every
   refit is kept in the record (`TuningInfo.refits`), and the failed ones'
   seconds count as tuning. The trials are version 3's and 2's, so their
   records lend them: only the refit runs again.

A `--select-only` record lends its trials the same way to the same cell tuned
in full (bench.run.plan): a study of defaults that chose on training labels
leaves only the refit to run when the cell is later tuned and tested.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench.contracts import RunContext, Split, TaskCard, TrainingInfo, traits
from bench.run.records import RefitCheck, Trial, TuningInfo

PROTOCOL_VERSION = 4  # the newest version of the rules below (see protocol_version)
TRIALS_AS_IN = {3: (2,), 4: (3, 2)}  # versions whose trials run exactly as older versions' do: those carry over
TRIAL_PATIENCE = 3  # a trained strategy's trial stops after at least this many epochs without a new best
SMALL_CLASS = 40  # pools whose smallest class has at most this many examples are cross-validated
FOLDS = 3
HOLDOUT = 0.2
HOLDOUT_MAX = 400


@dataclass(frozen=True)
class Tuned:
    config: Any  # the Config of the final fit on every training label
    info: TuningInfo
    ranked: tuple = ()  # (Trial, Config of its refit) for every trial, best first: the first is `config`; the
    # next ones are refit in turn where a refit does not learn (version 4, trained strategies)


def protocol_version(cls: type) -> int:
    """The version of the rules that a strategy's tuning follows: part of its tuned cells' keys, so a change
    makes new cells. Versions 2 to 4 changed the trained strategies' rules only."""
    return PROTOCOL_VERSION if is_trained(cls) else 1


def candidates(space: dict[str, tuple], defaults: dict, n: int, seed: int) -> list[dict]:
    """Up to n option sets: the defaults first, then a seeded sample of the grid's other points."""
    names = sorted(space)
    first = {name: defaults[name] for name in names}
    grid = [dict(zip(names, values)) for values in itertools.product(*(space[name] for name in names))]
    others = [options for options in grid if options != first]
    random.Random(seed).shuffle(others)
    return [first] + others[:max(n - 1, 0)]


def folds(train: Split, seed: int) -> tuple[str, list[tuple[list[int], list[int]]]]:
    """The protocol's name and its (fit, validation) index pairs, stratified and seeded."""
    from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

    labels = train.labels
    smallest = min(labels.count(y) for y in set(labels))
    if smallest <= SMALL_CLASS:
        k = min(FOLDS, smallest)
        if k < 2:
            raise ValueError("a class has a single training example: nothing to validate on")
        pairs = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(labels, labels)
        return f"{k}-fold stratified cross-validation on the {len(labels)} training labels", \
            [(list(a), list(b)) for a, b in pairs]
    size = min(HOLDOUT_MAX, round(HOLDOUT * len(labels)))
    [(a, b)] = StratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed).split(labels, labels)
    return f"a stratified held-out split of {size} of the {len(labels)} training labels", [(list(a), list(b))]


def tune(cls: type, base: Any, model: str | None, context: RunContext, train: Split, task: TaskCard,
         n_trials: int, prior: tuple[str, TuningInfo] | None = None) -> Tuned:
    """The options of `cls` chosen on `train` alone (see the module's docstring), and how. `prior` (a record's
    name and its tuning) lends its trials when they were run by the same trial rules on the same folds."""
    started = time.perf_counter()
    space = traits(cls).search_space
    defaults = dataclasses.asdict(base)
    protocol, pairs = folds(train, context.seed)
    trained = is_trained(cls)
    if trained:
        protocol += ", each epoch validated on the held-out part"
    scratch = dataclasses.replace(context, artifact_dir=None)  # trial fits keep nothing
    tries = candidates(space, defaults, n_trials, context.seed)
    trials, trials_from = [], None
    if prior is not None and _same_trials(prior[1], cls, protocol, tries):
        trials, trials_from, tries = list(prior[1].trials), prior[0], []
    for options in tries:
        config = cls.Config(**{**defaults, **options})
        if trained and config.patience:
            config = dataclasses.replace(config, patience=max(config.patience, TRIAL_PATIENCE))
        t0, scores, epochs = time.perf_counter(), [], []
        for fit_ids, val_ids in pairs:
            strategy, val = cls(config, model, scratch), train.subset(val_ids)
            if trained:
                strategy.fit(train.subset(fit_ids), task, validation=val)
            else:
                strategy.fit(train.subset(fit_ids), task)
            scores.append(_accuracy(strategy, cls, val))
            info = (strategy.extra_info() or {}).get("training") if callable(getattr(strategy, "extra_info", None)) \
                else None
            if isinstance(info, TrainingInfo):
                epochs.append(info.best_epoch)
        trials.append(Trial(options, tuple(round(s, 5) for s in scores), round(statistics.mean(scores), 5),
                            round(time.perf_counter() - t0, 2), tuple(epochs)))
    ranked = sorted(range(len(trials)), key=lambda i: (-trials[i].score, i))  # ties go to the earlier trial
    refits = [_refit_config(cls, defaults, trials[i], trained) for i in ranked]
    chosen, config = trials[ranked[0]], refits[0]
    seconds = time.perf_counter() - started
    if trials_from:  # the record they came from paid for the trials; they are still what this choice cost
        seconds += sum(t.seconds for t in trials)
    info = TuningInfo(protocol, tuple(trials), dict(chosen.options), dataclasses.asdict(config), round(seconds, 2),
                      protocol_version(cls), trials_from)
    return Tuned(config, info, tuple((trials[i], c) for i, c in zip(ranked, refits)))


def refit_check(cls: type, strategy: Any, train: Split, trial: Trial, seconds: float) -> RefitCheck:
    """Whether a trained strategy's refit learned as its trial did (version 4): its accuracy on the training
    labels it was fit on (the cell's, capped as its `max_train_examples` capped them) must reach halfway from
    the majority class's share of them to the trial's validation score. A trial no better than the majority
    class sets no bar beyond that share."""
    from bench.engines.training import carve

    fitted, _ = carve(train, strategy.config, strategy.context.seed)
    share = max(fitted.labels.count(y) for y in set(fitted.labels)) / len(fitted)
    bar = share + max(trial.score - share, 0.0) / 2
    return RefitCheck(dict(trial.options), round(_accuracy(strategy, cls, fitted), 5), round(bar, 5),
                      round(seconds, 2))


def after_refits(tuned: Tuned, checks: list[RefitCheck], config: Any, checking: float) -> TuningInfo:
    """The tuning as it ended: the refits tried (`checks`, in order), the options of the one kept (`config`, the
    last), and what checking cost (the failed refits' seconds and `checking`, the scoring) added to the choice's."""
    failed = sum(c.seconds for c in checks[:-1])
    return dataclasses.replace(tuned.info, chosen=dict(checks[-1].options), refit=dataclasses.asdict(config),
                               seconds=round(tuned.info.seconds + failed + checking, 2), refits=tuple(checks))


def _refit_config(cls: type, defaults: dict, trial: Trial, trained: bool) -> Any:
    """The options of a trial's fit on every training label: a trained strategy replays the trial's schedule
    without a validation split and stops after the median epoch its folds kept."""
    refit = {**defaults, **trial.options}
    if trained and trial.best_epochs:
        refit.update(stop_after=max(1, round(statistics.median(trial.best_epochs))), val_fraction=0.0, patience=0)
    return cls.Config(**refit)


def _same_trials(prior: TuningInfo, cls: type, protocol: str, tries: list[dict]) -> bool:
    """Whether a recorded tuning ran the trials this one would: the same trial rules (this version's, or an
    older version's that runs them alike), folds and options."""
    version = protocol_version(cls)
    return (prior.version in (version, *TRIALS_AS_IN.get(version, ())) and prior.protocol == protocol
            and [t.options for t in prior.trials] == tries)


def _accuracy(strategy: Any, cls: type, split: Split) -> float:
    return sum(int(p == y) for p, y in zip(_predict(strategy, cls, split.texts), split.labels)) / len(split)


def _predict(strategy: Any, cls: type, texts: list[str]) -> list[int]:
    if traits(cls).has_scores:
        return [int(i) for i in strategy.predict_proba(texts).argmax(axis=1)]
    return [int(i) for i in strategy.predict(texts)]


def is_trained(cls: type) -> bool:
    from bench.engines.training import TrainingOptions

    return isinstance(getattr(cls, "Config", None), type) and issubclass(cls.Config, TrainingOptions)
