"""bench: prompt, retrieve or fine-tune? The same tasks through pluggable strategies.

Start-up is kept light: importing this package pulls in no model library.
"""

__version__ = "0.1.0"
