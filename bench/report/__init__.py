"""Leaderboards derived from records: nothing here is edited by hand.

- `table`: records loaded and aggregated once into a `Leaderboard`.
- `analysis`: noise, the cost Pareto front, the prompting/training crossover.
- `markdown`, `terminal`, `plots`: the leaderboard as LEADERBOARD.md, rich tables, PNG plots.
- `publish`: writes a results folder's files from a `Leaderboard`.
"""
