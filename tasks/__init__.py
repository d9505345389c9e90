"""Built-in task cards, one module each. Installed as `bench.tasks`.

A card is a `bench.contracts.TaskCard`; each module builds one and registers it
under its name. `BUILTINS` lists the modules the registry imports.
"""

BUILTINS = ("imdb", "spam", "yelp", "imdb_sentences", "rotten_tomatoes", "spam_email", "bbc_news", "reuters8",
            "newsgroups20")
