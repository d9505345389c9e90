"""Task data: pinned artifacts, sources, task cards, loading and seeded sampling.

- `assets`: models and data sets inside pinned registry packages, verified by sha256.
- `sources/`: one kind of source per format (a packaged table, a user's file, e-mails, ...).
- `cards`: task cards as TOML (the built-ins in `tasks/` and a user's own) and as JSON.
- `loading`: a card's rows become a clean, fixed, leak-free train/test pair.
- `sampling`: label budgets, validation splits and demonstrations, each a pure seeded function.
"""
