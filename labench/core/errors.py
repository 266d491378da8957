"""The one exception type that means "the user's input is unusable".

The CLI turns it into a short message and exit code 2 without a traceback; everything else that
goes wrong is a bug or a per-case failure and is handled elsewhere.
"""

from __future__ import annotations


class InputError(Exception):
    """Unusable input (suite, result file, command-line option), already worded for the user.

    Each problem is one line that starts with `file:line:column:` when the place is known, so
    editors and terminals can jump to it.
    """

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class SkipCase(Exception):
    """Raised by `make_inputs` or an implementation when this machine cannot run the case
    (an optional package or data set missing): the case is `skipped` with the message."""
