"""Built-in task cards, one TOML file each (`imdb.toml`, `spam.toml`, ...). Installed as `bench.tasks`.

A card's fields are those of `bench.contracts.TaskCard`, its data source a
`[source]` table (see bench.data.sources); bench.data.cards reads them. A
user's own card has the same format.
"""
