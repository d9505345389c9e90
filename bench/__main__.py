"""`python -m bench` is the same as the `bench` command."""

from bench.cli.main import main

raise SystemExit(main())
