"""Built-in strategies, one module each, named after the CLI name (`head-only` lives
in head_only.py). Installed as `bench.strategies`.

`BUILTINS` lists the modules the registry imports, in the order `bench ls`
and the default grid use.
"""

BUILTINS = ("majority", "tfidf", "head_only", "lora", "full", "partial", "zero_shot", "few_shot", "rag", "knn")
