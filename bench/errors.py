"""The one exception type for user mistakes.

A `BenchError` carries a single line that names the problem and the fix; the CLI
prints it without a traceback and exits non-zero. Anything else that escapes is a
bug in bench (or a plugin) and keeps its traceback.
"""


class BenchError(Exception):
    """A problem the user can fix: bad input, a missing file, an unknown name."""
