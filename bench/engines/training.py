"""The one training path shared by the trained strategies (lora, full, partial, head-only).

What every trained strategy shares lives here, in the order a fit runs:

1. `TrainingOptions`: the options they all have (epochs, learning rate, batch
   size, caps, validation fraction, early stopping). A strategy's `Config`
   subclasses it, so `--set epochs=2` reaches all of them. `min_steps` raises
   the number of epochs for small pools (a label budget of 8 per class is two
   batches), so that they are not compared untrained.
2. `carve(train, options, seed)`: the training pool capped to
   `max_train_examples` and a validation split held out of it, both stratified
   by label and seeded by the run seed (bench.data.sampling), or a validation
   split handed in from outside (the tuner's held-out fold). The test split
   is never touched.
3. `train(...)`: the loop. It is transformers' `Trainer` (AdamW in torch's
   fused kernel: on a CPU the default one updates parameter by parameter,
   43-45 % of a step on spam's short texts; linear decay after warmup,
   gradient clipping at 1.0, seeded data order, length-grouped batches for
   text), with a callback that keeps one row of curves per epoch, applies the
   best-epoch rule and early stopping, and stops a diverging run. Under bf16
   autocast on a CPU, attention computes in float32 while training: faster
   on an Intel Xeon with AMX, as fast on an AMD Zen 5 (bench.models.attention).
4. `save_artifact(...)`: what was trained, written as safetensors into the
   run's artifact folder (`RunContext.artifact_dir`), or into a temporary
   folder only to measure its size.

What differs between strategies is only which parameters are trainable (the
strategy freezes the rest before calling `train`) and what a row holds: token
ids for the transformer strategies (bench.engines.classifier), cached sentence
embeddings for head-only, so its frozen encoder runs once per text and never
once per epoch.

Curves: `train_loss` and `train_accuracy` are running means over the epoch's
batches, as the optimiser saw them (dropout on, weights moving), which costs
nothing extra; `val_loss` and `val_accuracy` come from a pass over the
validation split at the end of the epoch, in eval mode.

Best-epoch rule (`BEST_RULE`): the epoch with the highest validation accuracy;
ties go to the lower validation loss, then to the earlier epoch. Its trainable
weights are kept in memory and restored after the last epoch. Keeping the best
epoch by validation loss alone would stop too early when accuracy still rises.

Stopping short of the schedule (`stop_after`): the run ends after that many
epochs while the learning rate follows the schedule planned for all of them,
so the weights are the ones a longer run had at that epoch. The tuner's refit
uses it to replay the chosen trial on every label (bench.run.tuning).

Divergence: a non-finite loss on any batch, or an epoch whose mean training
loss exceeds `DIVERGED_LOSS` times ln(K) (the loss of a uniform guess), raises
`TrainingDiverged`; the worker records the cell as failed with that message.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bench.contracts import ArtifactInfo, EpochRow, Split, TrainingInfo
from bench.data.sampling import validation_split

if TYPE_CHECKING:
    import torch

BEST_RULE = "highest val_accuracy; ties to lower val_loss, then to the earlier epoch"
DIVERGED_LOSS = 5.0  # an epoch's mean training loss above this many ln(K) counts as divergence


class TrainingDiverged(RuntimeError):
    """The loss became non-finite or exploded; the cell ends as failed."""


@dataclass(frozen=True)
class TrainingOptions:
    epochs: int = 10  # passes over the training examples at most (fewer when early stopping fires)
    learning_rate: float = 5e-5  # peak AdamW learning rate, reached after warmup, then linear decay to 0
    batch_size: int = 8  # training examples per optimiser step
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    warmup_ratio: float = 0.1  # fraction of all steps spent ramping the learning rate up from 0
    max_train_examples: int = 500  # cap on the training pool (stratified sample by seed); 0 = all of it
    val_fraction: float = 0.2  # share of the (capped) pool held out for validation, stratified; 0 = none
    # (no validation: all the epochs run and the last is kept; the tuner's refit on every label does this)
    min_steps: int = 40  # at least this many optimiser steps: small pools get more epochs (0 = epochs as set)
    patience: int = 2  # early stopping: stop after this many epochs without a new best; 0 = off
    stop_after: int = field(default=0, metadata={"keyed_when_set": True})  # stop after this many epochs, the
    # learning-rate schedule still planned for all of them (the tuner's refit replays a trial this way); 0 = off
    eval_batch_size: int = 16  # texts per forward pass for validation and prediction
    mixed_precision: bool = True  # bf16 autocast when the cell's precision is bf16 (bench.run.device); False: fp32

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError("epochs, batch_size and eval_batch_size must be >= 1")
        if not self.learning_rate > 0 or self.weight_decay < 0:
            raise ValueError("learning_rate must be > 0 and weight_decay >= 0")
        if not 0 <= self.warmup_ratio < 1 or not 0 <= self.val_fraction < 1:
            raise ValueError("warmup_ratio must be in [0, 1) and val_fraction in [0, 1)")
        if self.max_train_examples < 0 or self.patience < 0 or self.min_steps < 0 or self.stop_after < 0:
            raise ValueError("max_train_examples, min_steps, patience and stop_after must be >= 0")


def carve(train: Split, options: TrainingOptions, seed: int, validation: Split | None = None) -> tuple[Split, Split]:
    """The capped training split and the validation split held out of it (both stratified, seeded; no
    validation split when val_fraction is 0). A `validation` split given from outside (the tuner's
    held-out fold, bench.run.tuning) is used as it is, and all of the capped `train` trains."""
    if validation is not None:
        return validation_split(train, 0.0, options.max_train_examples, seed)[0], validation
    return validation_split(train, options.val_fraction, options.max_train_examples, seed)


@dataclass
class History:
    """The per-epoch curves and which epoch was kept, as the loop fills them in."""

    epochs: list[EpochRow] = field(default_factory=list)  # one row per epoch run
    epochs_planned: int = 0  # the epochs option, raised to reach min_steps
    best_epoch: int = 0
    stopped_early: bool = False
    examples_per_second: float = 0.0  # training examples processed per second of training

    def info(self, n_train: int, n_val: int) -> TrainingInfo:
        return TrainingInfo(curves=tuple(self.epochs), best_epoch=self.best_epoch, best_rule=BEST_RULE,
                            epochs_run=len(self.epochs), epochs_planned=self.epochs_planned,
                            stopped_early=self.stopped_early, n_train=n_train, n_val=n_val,
                            train_examples_per_second=self.examples_per_second)


def train(model: "torch.nn.Module", rows: list[dict], val_rows: list[dict], options: TrainingOptions, *,
          collator: Callable, n_labels: int, device: str, seed: int, group_by_length: bool,
          precision: str = "fp32") -> History:
    """Train the model's trainable parameters in place; restore the best epoch; return the curves.

    `rows` are the model's keyword inputs per example, with `labels`; the model
    must return an output with `loss` and `logits` when given labels. Without
    `val_rows` every planned epoch runs (or the first `stop_after`) and the last one run is kept. With
    `precision` "bf16" (and the mixed_precision option on) the forward and
    backward passes run under bf16 autocast; weights and optimiser stay fp32;
    on a CPU attention computes in fp32 while training (bench.models.attention).
    """
    from transformers import PrinterCallback, Trainer, TrainingArguments

    from bench.run.device import inference_batch_scale

    history = History(epochs_planned=max(options.epochs, math.ceil(
        options.min_steps / math.ceil(len(rows) / options.batch_size))))
    recorder = _recorder_class()(model, history, n_labels, options.patience, options.learning_rate,
                                 options.stop_after)

    class _Trainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True,
                                                 num_items_in_batch=num_items_in_batch)
            if model.training:
                recorder.add_batch(loss, outputs.logits, inputs["labels"])
            return (loss, outputs) if return_outputs else loss

    gpu = device.startswith("cuda")
    if uses_bf16(options, precision) and not gpu:  # attention's backward: faster (Xeon) or as fast (Zen 5) in fp32
        from bench.models.attention import use_fp32_for_gradients

        use_fp32_for_gradients(model)
    with tempfile.TemporaryDirectory(prefix="bench-trainer-") as scratch:
        args = TrainingArguments(
            output_dir=scratch, num_train_epochs=history.epochs_planned, learning_rate=options.learning_rate,
            per_device_train_batch_size=options.batch_size,
            per_device_eval_batch_size=options.eval_batch_size * inference_batch_scale(device),
            weight_decay=options.weight_decay, warmup_steps=options.warmup_ratio, lr_scheduler_type="linear",
            optim="adamw_torch_fused", eval_strategy="epoch" if val_rows else "no", save_strategy="no",
            logging_strategy="no",
            report_to="none", disable_tqdm=True, seed=seed, data_seed=seed, use_cpu=not gpu,
            bf16=uses_bf16(options, precision),
            train_sampling_strategy="group_by_length" if group_by_length else "random",
            remove_unused_columns=False, dataloader_num_workers=0,
        )
        trainer = _Trainer(model=model, args=args, train_dataset=rows, eval_dataset=val_rows or None,
                           data_collator=collator, compute_metrics=_accuracy, callbacks=[recorder])
        trainer.remove_callback(PrinterCallback)  # the curves go to the record, not to stdout
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    recorder.restore_best()
    history.examples_per_second = round(len(rows) * len(history.epochs) / seconds, 2)
    return history


def uses_bf16(options: TrainingOptions, precision: str) -> bool:
    """Whether a fit with these options, in a cell of this precision, computes under bf16 autocast."""
    return options.mixed_precision and precision == "bf16"


def _accuracy(prediction) -> dict:
    import numpy as np

    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    return {"accuracy": float((np.asarray(logits).argmax(axis=1) == np.asarray(prediction.label_ids)).mean())}


def _recorder_class():
    """The callback class, built on first use so that importing this module stays light."""
    from transformers import TrainerCallback

    class EpochRecorder(TrainerCallback):
        """Keeps the curves, the best epoch's weights, early stopping and the divergence check."""

        def __init__(self, model, history: History, n_labels: int, patience: int, learning_rate: float,
                     stop_after: int = 0):
            self.model, self.history, self.patience, self.stop_after = model, history, patience, stop_after
            self.limit = DIVERGED_LOSS * math.log(max(n_labels, 2))
            self.learning_rate = learning_rate
            self.best_key: tuple | None = None
            self.best_state: dict | None = None
            self._reset()

        def _reset(self):
            self.loss_sum, self.correct, self.seen, self.started = 0.0, 0, 0, time.perf_counter()

        def add_batch(self, loss, logits, labels):
            value = float(loss.detach())
            step = self.seen // max(len(labels), 1) + 1
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"training loss became {value} at epoch {len(self.history.epochs) + 1}, batch {step}; "
                    f"lower learning_rate (was {self.learning_rate:g})")
            self.loss_sum += value * len(labels)
            self.correct += int((logits.detach().argmax(dim=-1) == labels).sum())
            self.seen += len(labels)

        def on_epoch_begin(self, args, state, control, **kwargs):
            self._reset()

        def on_epoch_end(self, args, state, control, **kwargs):
            if args.eval_strategy == "no":  # no validation split: the last epoch is the one kept
                self._end_epoch(None)
                self.history.best_epoch = len(self.history.epochs)
            if self.stop_after and state.epoch is not None and round(state.epoch) >= self.stop_after:
                control.should_training_stop = True  # the epoch is still validated (on_evaluate comes next)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            row = self._end_epoch(metrics)
            epoch = row.epoch
            key = (row.val_accuracy, -row.val_loss)  # earlier epochs win ties: strict '>' below
            if self.best_key is None or key > self.best_key:
                self.best_key, self.history.best_epoch = key, epoch
                self.best_state = {n: p.detach().to("cpu", copy=True)
                                   for n, p in self.model.named_parameters() if p.requires_grad}
            elif self.patience and epoch - self.history.best_epoch >= self.patience:
                self.history.stopped_early = True
                control.should_training_stop = True

        def _end_epoch(self, metrics: dict | None) -> EpochRow:
            epoch = len(self.history.epochs) + 1
            train_loss = self.loss_sum / max(self.seen, 1)
            val = (None, None) if metrics is None else (round(float(metrics["eval_loss"]), 5),
                                                        round(float(metrics["eval_accuracy"]), 5))
            row = EpochRow(epoch=epoch, train_loss=round(train_loss, 5),
                           train_accuracy=round(self.correct / max(self.seen, 1), 5), val_loss=val[0],
                           val_accuracy=val[1], seconds=round(time.perf_counter() - self.started, 2))
            self.history.epochs.append(row)
            validated = "" if metrics is None else (f", validation loss {row.val_loss:.4f}, "
                                                     f"accuracy {row.val_accuracy:.3f}")
            print(f"epoch {epoch}: train loss {row.train_loss:.4f}, train accuracy {row.train_accuracy:.3f}{validated}"
                  f" ({row.seconds:.0f} s)", file=sys.stderr, flush=True)  # the cell's log: progress as it goes
            if (row.val_loss is not None and not math.isfinite(row.val_loss)) or train_loss > self.limit:
                raise TrainingDiverged(
                    f"training diverged at epoch {epoch} (train loss {train_loss:.3g}, val loss "
                    f"{row.val_loss}; a uniform guess scores {self.limit / DIVERGED_LOSS:.3g}); "
                    f"lower learning_rate (was {self.learning_rate:g})")
            return row

        def restore_best(self):
            if self.best_state is None or self.history.best_epoch == len(self.history.epochs):
                return  # the last epoch is the best: the weights in place are the ones to keep
            import torch

            with torch.no_grad():
                for name, p in self.model.named_parameters():
                    if name in self.best_state:
                        p.copy_(self.best_state[name].to(p.device))

    return EpochRecorder


def save_artifact(write: Callable[[Path], Any], folder: Path | None) -> ArtifactInfo:
    """Call `write(folder)`, then report what it wrote. Without a folder, a temporary one
    is used only to measure the size, and deleted (the info's path is then None)."""
    keep = folder is not None
    folder = Path(folder).expanduser() if keep else Path(tempfile.mkdtemp(prefix="bench-artifact-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        write(folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        info = ArtifactInfo(path=str(folder) if keep else None, bytes=sum(p.stat().st_size for p in files),
                            weights_bytes=sum(p.stat().st_size for p in files if p.suffix == ".safetensors"),
                            files=tuple(str(p.relative_to(folder)) for p in files))
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    if not any(name.endswith(".safetensors") for name in info.files):
        raise RuntimeError(f"no safetensors file was written (wrote {list(info.files)})")
    return info
