"""Where every command speaks, and how it ends: the two consoles and the exit codes.

Exit codes: 0 ok; 1 a case was wrong or errored, a claim failed, or a regression was found;
2 unusable input; 3 a gate could not decide a case that moved the slow way (undecided);
130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

from rich.console import Console

EXIT_FAILED, EXIT_USAGE, EXIT_UNDECIDED, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 3, 130, 143

# Logs and pipes get a wide fixed width instead of rich's 80 columns, so tables stay readable.
console = Console(width=None if Console().is_terminal else 150)
errors = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 150)
