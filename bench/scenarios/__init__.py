"""The questions behind the choice, beyond accuracy on one fixed split.

- `shift`: fit on one task's training split, test on another task with the
  same labels (e-mail spam -> SMS spam): what carries over.
- `forgetting`: what fine-tuning an encoder on one task costs it on others,
  read through frozen-feature probes (k nearest neighbours and a linear head).
- `update`: fit on part of the labels, then absorb the rest as new data, by
  retraining from scratch or by the strategy's own cheaper update (adding to
  an index, training on): the seconds it takes and the accuracy after.

A grid asks for one with `train_on`, `probes` or `update` (bench.run.grid
`Scenario`); the worker runs it, and the record keeps the answer in its
`shift`, `forgetting` or `update` part. bench.report.scenarios tabulates them.
"""
