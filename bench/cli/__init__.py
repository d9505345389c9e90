"""The command line: `main` (parser, dispatch, exit codes) and one module per command."""
