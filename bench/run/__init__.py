"""Running a grid: from what the user asks for to one record per cell.

- `grid`: the grid as asked for (`GridSpec`, from flags or a study) into cells.
- `study`: studies as TOML files, one or more grids and where their results go.
- `plan`: each cell resolved once (card, data, Config), keyed, packed for a worker.
- `runner`: skip what is recorded, claim, execute, write each record as it ends.
- `executors`: how cells get run (a fresh worker process per cell; `--jobs` of them at a time here).
- `ray_executor`: each cell a Ray task, on a local Ray instance or a cluster.
- `worker`: runs and measures one cell in its own process.
- `records`: the typed record and its key; `store`: record files and claims.
- `metrics`, `provenance`, `device`: what a record measures and says about where it ran.
"""
