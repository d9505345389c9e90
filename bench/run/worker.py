"""Runs one planned cell in its own process and measures it.

`python -m bench.run.worker RESULT.json < JOB.json`, or `run_forked` in a
child of the local executor's fork server: the job (bench.run.plan)
carries the resolved task card, the strategy's resolved options and the
task's data, so nothing is derived again here; the data's fingerprint is
checked. The executor adds a `runtime` part: its name, the CPU threads the
cell gets (set before any numeric library loads), the engine's node, and
whether to die with its parent (under a Ray task's process). The worker draws
the label budget's sample, seeds everything, builds the strategy with its
`RunContext`, then times `fit` and `predict` separately and reads the
process's peak resident memory (and the accelerator's peak, on a GPU). A
scenario cell (bench.scenarios) fits on another task's data, probes the tuned
encoder after the fit, or fits on part of the sample first and absorbs the
rest before the timed fit on all of it. The
result (metrics, costs, predictions, or the error, and where it ran:
`placement` and `machine`) is written to RESULT.json; the driver turns it into
a record. Because each cell is its own process, a crash or a memory blow-up
takes down only that cell, and the peak memory is the cell's own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import signal
import socket
import sys
import time
import traceback
import typing
from pathlib import Path
from typing import Any


FORK_SERVER: int | None = None  # a forked cell's server process (run_forked)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + uncounted_mb()  # Linux reports KiB


def current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20 + uncounted_mb()


def uncounted_mb() -> float:
    """In a cell forked from the fork server: the MB resident in the server that this process has not mapped.

    A fork shares the server's pages but its resident count holds only those it has touched since, where a
    fresh worker holds everything it touched while importing the same libraries. Adding what the server holds
    and this process does not, mapping by mapping, makes a forked cell's memory read as a fresh worker's; a
    page counts once, whoever touched it. 0 outside a fork, or where /proc cannot be read."""
    if FORK_SERVER is None:
        return 0.0
    try:
        mine, server = _resident_kb_by_mapping(os.getpid()), _resident_kb_by_mapping(FORK_SERVER)
    except OSError:
        return 0.0
    return sum(max(0, kb - mine.get(start, 0)) for start, kb in server.items()) / 1024


def _resident_kb_by_mapping(pid: int) -> dict[str, int]:
    """Resident kB of each of a process's memory mappings, by the mapping's start address (/proc/PID/smaps)."""
    resident, start = {}, None
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as smaps:
        for line in smaps:
            first = line.split(None, 1)[0] if line.strip() else ""
            if "-" in first and not first.endswith(":"):  # a mapping's header: "start-end perms offset dev inode path"
                start = first.split("-", 1)[0]
            elif first == "Rss:" and start is not None:
                resident[start] = resident.get(start, 0) + int(line.split()[1])
    return resident


def config_from_json(config_cls: type, values: dict) -> Any:
    """The Config from its resolved values (JSON lists back to tuples); it must come out as it went in."""
    hints = typing.get_type_hints(config_cls)
    config = config_cls(**{k: tuple(v) if isinstance(v, list) and typing.get_origin(hints[k]) is tuple else v
                           for k, v in values.items()})
    if json.loads(json.dumps(dataclasses.asdict(config))) != json.loads(json.dumps(values)):
        raise RuntimeError(f"{config_cls.__name__} does not rebuild from its own values; make __post_init__ idempotent")
    return config


def checked_outputs(predictions, proba, n: int, k: int):
    """Label ids (and probabilities) from a strategy, refused when malformed or not finite."""
    import numpy as np

    if proba is not None:
        proba = np.asarray(proba, dtype=float)
        if proba.shape != (n, k):
            raise RuntimeError(f"predict_proba returned shape {proba.shape}, expected ({n}, {k})")
        if not np.isfinite(proba).all():
            bad = int((~np.isfinite(proba)).any(axis=1).sum())
            raise RuntimeError(f"predict_proba returned NaN or infinite scores for {bad} texts")
        predictions = proba.argmax(axis=1)
    values = list(predictions)
    if len(values) != n:
        raise RuntimeError(f"strategy returned {len(values)} predictions for {n} texts")
    out = []
    for v in values:
        if isinstance(v, float) and not np.isfinite(v):
            raise RuntimeError("strategy returned a NaN or infinite prediction")
        if int(v) != v or not 0 <= int(v) < k:
            raise RuntimeError(f"strategy returned label id {v!r}, not one of 0..{k - 1}")
        out.append(int(v))
    return out, proba


def reported(value: Any, kind: type, name: str) -> dict | None:
    """A strategy's `extra_info()[name]` as JSON, checked against its type (TrainingInfo, ArtifactInfo)."""
    from bench.run.records import RecordError, build

    if value is None:
        return None
    raw = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    try:
        build(kind, json.loads(json.dumps(raw, default=list)), f"extra_info()[{name!r}]")
    except RecordError as exc:
        raise RuntimeError(f"{exc}; it must be a bench.contracts.{kind.__name__}") from None
    return raw


def run_cell(job: dict) -> dict:
    """Everything measured for one cell; raises on any failure."""
    from bench.contracts import ArtifactInfo, RunContext, TaskData, TrainingInfo
    from bench.data import cards
    from bench.data.loading import fingerprint
    from bench.data.sampling import budget_sample
    from bench.models.local import use_offline_hub
    from bench.registry import STRATEGIES
    from bench.run import metrics
    from bench.run.device import seed_everything

    use_offline_hub()
    cell, device = job["cell"], job["device"]
    scenario = job.get("scenario") or {}
    card = cards.from_json(job["card"])
    data = TaskData.from_json(job["data"])
    if fingerprint(data.train, data.test) != data.fingerprint:
        raise RuntimeError("the task data handed to the worker does not match its fingerprint")
    fit_card, fit_data, mapping = card, data, None  # what the strategy learns from: the cell's task, or under a
    if scenario.get("train_on"):                    # domain shift (bench.scenarios.shift) another task
        train_on = scenario["train_on"]
        fit_card, fit_data = cards.from_json(train_on["card"]), TaskData.from_json(train_on["data"])
        mapping = tuple(scenario["train_on"]["label_map"])
    cls = STRATEGIES.get(cell["strategy"])
    config = config_from_json(cls.Config, job["config"])
    train = budget_sample(fit_data.train, cell["budget"], cell["seed"])
    seed_everything(cell["seed"])
    gpu = device.startswith("cuda")
    if gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
    baseline_rss = current_rss_mb()
    context = RunContext(device=device, precision=job.get("precision", "fp32"), seed=cell["seed"],
                         artifact_dir=Path(job["artifact_dir"]) if job.get("artifact_dir") else None)
    tuned, tuning, tune_seconds = None, None, None
    if job.get("tune"):  # options chosen on the training sample alone; the test split is not handed over
        from bench.run.records import TuningInfo, build
        from bench.run.tuning import tune

        prior = job.get("prior_trials")  # an older protocol's record of this cell, whose trials are this one's
        prior = (prior["record"], build(TuningInfo, prior["tuning"], "the job's prior trials")) if prior else None
        tuned = tune(cls, config, cell["model"], context, train, fit_card, job["tune"], prior)
        config, tuning, tune_seconds = tuned.config, dataclasses.asdict(tuned.info), tuned.info.seconds
        seed_everything(cell["seed"])  # the final fit starts from the same state, tuned or not
    if job.get("select_only"):  # a defaults study: the choice is the result; the test split is never used
        return {"device": device, "tuning": tuning, "data": _data_info(train, data, card),
                "cost": {"tune_seconds": tune_seconds, "peak_rss_mb": round(peak_rss_mb(), 1)}}

    def test(strategy):  # (predictions, probabilities) on the cell's test split, in its label ids
        predictions, proba = predict(strategy, data.test.texts, len(fit_card.labels))
        if mapping is not None:
            from bench.scenarios import shift

            predictions, proba = shift.to_target(predictions, proba, mapping)
        return predictions, proba

    def score(predictions, proba):
        return metrics.classification(data.test.labels, predictions, card.labels, proba, seed=cell["seed"])

    update = _update(cls, config, cell, context, train, fit_card, scenario.get("update"),
                     lambda strategy: score(*test(strategy)))
    with _cold_caches(update is not None):  # an update's retrain is timed from scratch
        strategy, fit_seconds, checked = _final_fit(cls, config, cell, context, train, fit_card, tuned)
        t1 = time.perf_counter()
        predictions, proba = test(strategy)
        t2 = time.perf_counter()
    if checked is not None:
        tuning, tune_seconds = dataclasses.asdict(checked), checked.seconds
    scores = score(predictions, proba)
    if update is not None:  # the retrain on old + new is this cell's own fit
        update["steps"].insert(0, {"mode": "retrain", "seconds": round(fit_seconds, 4), "accuracy": scores.accuracy,
                                   "macro_f1": scores.macro_f1})
    counts = strategy.parameter_counts()
    extra = dict(strategy.extra_info()) if callable(getattr(strategy, "extra_info", None)) else {}
    training = reported(extra.pop("training", None), TrainingInfo, "training")
    artifact = reported(extra.pop("artifact", None), ArtifactInfo, "artifact")
    forgetting = []
    if scenario.get("probes"):  # bench.scenarios.forgetting: the tuned encoder on other tasks
        from bench.scenarios import forgetting as probes

        forgetting = probes.probe(strategy, [(cards.from_json(p["card"]), TaskData.from_json(p["data"]))
                                             for p in scenario["probes"]], device)
    shift_info = None if mapping is None else {
        "train_task": fit_card.name, "train_fingerprint": fit_data.fingerprint, "label_map": list(mapping),
        "n_train_pool": len(fit_data.train)}
    return {
        "device": device,
        "metrics": dataclasses.asdict(scores),
        "data": _data_info(train, data, card, fit_data),
        "cost": {
            "trainable_params": int(counts.trainable),
            "total_params": int(counts.total),
            "fit_seconds": round(fit_seconds, 4),
            "predict_seconds": round(t2 - t1, 4),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "baseline_rss_mb": round(baseline_rss, 1),
            "peak_gpu_mb": round(__import__("torch").cuda.max_memory_allocated() / 2**20, 1) if gpu else None,
            "tune_seconds": tune_seconds,
        },
        "training": training,
        "artifact": artifact,
        "tuning": tuning,
        "shift": shift_info,
        "forgetting": forgetting,
        "update": update,
        "predictions": predictions,
        "gold": list(data.test.labels),
        "extra": extra,
    }


def _final_fit(cls, config, cell, context, train, card, tuned):
    """The cell's fit on its training sample: (strategy, its fit seconds, the tuning as it ended or None).

    A tuned trained strategy's refit must learn as its trial did (bench.run.tuning.refit_check, protocol
    version 4); one that does not gives way to the next-best trial's refit, from the same seeded start. If
    none learns, the last is kept, and its record shows every check."""
    from bench.run import tuning as protocol
    from bench.run.device import seed_everything

    if tuned is None or not tuned.ranked or not protocol.is_trained(cls):
        strategy = cls(config, cell["model"], context)
        t0 = time.perf_counter()
        strategy.fit(train, card)
        return strategy, time.perf_counter() - t0, None
    checks, checking = [], 0.0
    for attempt, (trial, config) in enumerate(tuned.ranked):
        if attempt:
            strategy = None  # the failed refit's weights go before the next model is built, not after
            seed_everything(cell["seed"])
        strategy = cls(config, cell["model"], context)
        t0 = time.perf_counter()
        strategy.fit(train, card)
        fit = time.perf_counter() - t0
        checks.append(protocol.refit_check(cls, strategy, train, trial, fit))
        checking += time.perf_counter() - t0 - fit
        if checks[-1].learned:
            break
    return strategy, fit, protocol.after_refits(tuned, checks, config, checking)


def _cold_caches(cold: bool):
    import contextlib

    from bench.scenarios.update import cold_caches

    return cold_caches() if cold else contextlib.nullcontext()


def predict(strategy, texts, n_labels: int):
    """(label ids, probabilities or None) from a fitted strategy, checked."""
    from bench.contracts import traits

    proba, predictions = None, None
    if traits(type(strategy)).has_scores:
        proba = strategy.predict_proba(texts)
    else:
        predictions = strategy.predict(texts)
    return checked_outputs(predictions, proba, len(texts), n_labels)


def _update(cls, config, cell, context, train, card, fraction, test) -> dict | None:
    """The update scenario (bench.scenarios.update) up to the retrain, which is the cell's own fit: the first
    fit on part of the sample, the test score before, the strategy's incremental update and the score after
    (`test(strategy)` gives a fitted strategy's metrics). The UpdateInfo as JSON; the caller adds the retrain."""
    if not fraction:
        return None
    from bench.run.device import seed_everything
    from bench.scenarios import update

    first, new = update.split(train, fraction, cell["seed"])
    with update.cold_caches():  # what the first fit embedded is there for the update, as in a deployed system
        strategy = cls(config, cell["model"], context)
        started = time.perf_counter()
        strategy.fit(first, card)
        fit_seconds = time.perf_counter() - started
        before = test(strategy)
        steps = []
        seconds = update.absorb(strategy, new, card)
        if seconds is not None:
            steps.append(update.step("incremental", seconds, lambda: test(strategy)))
        del strategy
    seed_everything(cell["seed"])  # the retrain (the cell's own fit) starts as a plain cell's would
    return {"fraction": fraction, "n_initial": len(first), "n_new": len(new),
            "initial_fit_seconds": round(fit_seconds, 4), "accuracy_before": before.accuracy,
            "macro_f1_before": before.macro_f1, "steps": steps}


def _data_info(train, data, card, fit_data=None) -> dict:
    return {"n_train": len(train), "n_train_pool": len((fit_data or data).train), "n_test": len(data.test),
            "fingerprint": data.fingerprint, "notes": list(data.notes), "source": card.source.describe()}


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")


def use_threads(threads: int | None) -> None:
    """Give this process `threads` CPU threads (read by torch, faiss and tokenizers when they load), unless
    OMP_NUM_THREADS says otherwise already: the user's (or Ray's, which sets it to the task's CPUs). In a
    fork server's child torch has loaded already, and is told."""
    if threads and "OMP_NUM_THREADS" not in os.environ:
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    if "torch" in sys.modules and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies (a run killed with SIGKILL, or a Ray task's
    process killed mid-cell), so that no cell runs on, orphaned, after its run is gone."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the cell runs to its end on its own
    if os.getppid() != parent_pid:  # the parent died before the request took hold
        os._exit(1)


def placement(job: dict) -> dict:
    """Where this cell runs, as bench.run.records.Placement: this machine, the executor's runtime, the device."""
    runtime, device = job.get("runtime") or {}, job.get("device")
    gpu, threads = None, os.environ.get("OMP_NUM_THREADS")
    threads = int(threads) if threads and threads.isdigit() else None
    if "torch" in sys.modules:  # the cell used torch: ask it (it read the thread count when it loaded)
        import torch

        threads = torch.get_num_threads()
        if device and device.startswith("cuda") and torch.cuda.is_available():
            gpu = torch.cuda.get_device_name()
    return {"executor": runtime.get("executor", "local"), "host": socket.gethostname(), "device": device, "gpu": gpu,
            "threads": threads, "node": runtime.get("node"), "retries": list(runtime.get("retries", ())),
            "worker": runtime.get("worker")}


def main(argv: list[str]) -> int:
    """`python -m bench.run.worker RESULT.json < JOB.json`: a cell in a fresh process."""
    job = json.loads(sys.stdin.read())
    serve(job, Path(argv[0]), (job.get("runtime") or {}).get("parent_pid"))
    return 0


def run_forked(job: str, out: str, log_path: str, env: dict) -> None:
    """A cell in a child of the local executor's fork server (bench.run.executors.ForkServer), which imported
    the model libraries before the fork: the same as `main`, with the run's environment (not the server's) and the
    cell's log as its standard output and error. The job comes as the same JSON a fresh worker reads, so both
    see the same values (lists, not tuples). Exits with 130 on Ctrl-C, as a fresh worker does."""
    global FORK_SERVER
    FORK_SERVER = os.getppid()  # its pages count as this cell's too (uncounted_mb)
    os.environ.clear()
    os.environ.update(env)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    try:
        serve(json.loads(job), Path(out), FORK_SERVER)  # the server: it ends when the run does
    except KeyboardInterrupt:
        sys.exit(130)


def serve(job: dict, out: Path, parent_pid: int | None) -> None:
    """Runs the cell and writes its result (or its failure) atomically to `out`; a cell that fails is a result,
    Ctrl-C is not."""
    from bench.run.provenance import machine

    use_threads((job.get("runtime") or {}).get("threads"))
    if parent_pid:
        die_with_parent(parent_pid)
    try:
        result = {"status": "ok", "error": None, **run_cell(job)}
    except BaseException as exc:  # the cell failed; the grid goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        result = {"status": "failed", "error": f"{type(exc).__name__}: {message}"[:500],
                  "traceback": traceback.format_exc()[-8000:],
                  "cost": {"peak_rss_mb": round(peak_rss_mb(), 1)}}
        traceback.print_exc()
    result.update(placement=placement(job), machine=machine())
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=str))
    tmp.replace(out)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
