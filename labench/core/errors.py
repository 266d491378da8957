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


def shown(value: object, most: int = 60) -> str:
    """`repr(value)` for a message, cut to `most` characters: a value read from a damaged or
    hostile file may be megabytes long, yet a problem is one readable line."""
    try:
        text = repr(value)
    except ValueError:  # an integer beyond Python's limit on digits it converts to text
        return "a number too long to show"
    return text if len(text) <= most else text[: most - 3] + "..."


def shown_name(name: object, most: int = 40) -> str:
    """A key as it reads in a dotted path (`benchmarks[0].params.n`): as written when it is a
    short printable name, else as `shown` words it."""
    if isinstance(name, str) and name.isprintable() and " " not in name and len(name) <= most:
        return name
    return shown(name, most)
