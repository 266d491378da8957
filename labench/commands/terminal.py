"""Where every command speaks, and how it ends: the two consoles and the exit codes.

Exit codes: 0 ok; 1 a case was wrong or errored, a claim failed, or a regression was found;
2 unusable input; 3 a gate could not decide a case that moved the slow way (undecided);
130 interrupted (Ctrl-C); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from labench.core.errors import InputError
from labench.core.signals import Terminated

EXIT_FAILED, EXIT_USAGE, EXIT_UNDECIDED, EXIT_INTERRUPTED, EXIT_TERMINATED = 1, 2, 3, 130, 143

PIPE_WIDTH = 150
"""Logs and pipes without `COLUMNS` get a wide fixed width instead of rich's 80 columns."""


def console_width(is_terminal: bool, environ: Mapping[str, str] = os.environ) -> int | None:
    """The width to render at: a terminal keeps rich's own (None); a pipe or a CI log takes
    `COLUMNS` when it is a positive integer, else PIPE_WIDTH."""
    if is_terminal:
        return None
    columns = environ.get("COLUMNS", "").strip()
    return int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH


console = Console(width=console_width(Console().is_terminal))
errors = Console(stderr=True, width=console_width(Console(stderr=True).is_terminal))


Arguments = ParamSpec("Arguments")
Returned = TypeVar("Returned")


def interruption(stop: KeyboardInterrupt) -> tuple[str, int]:
    """What stopped a command, in words, and the exit code that says so."""
    if isinstance(stop, Terminated):
        return "SIGTERM", EXIT_TERMINATED
    return "Ctrl-C", EXIT_INTERRUPTED


def reports_input_errors(command: Callable[Arguments, Returned]) -> Callable[Arguments, Returned]:
    """Unusable input is a message and exit code 2; a signal that reaches the command (Ctrl-C,
    or SIGTERM, see signals.py) one line and 130 or 143: never a traceback. (Left to typer, a
    SIGTERM would end with Ctrl-C's code.) `run` says itself what a signal kept."""

    @wraps(command)
    def wrapper(*args: Arguments.args, **kwargs: Arguments.kwargs) -> Returned:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            for problem in error.problems:
                errors.print(
                    f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True
                )
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt as stop:
            name, code = interruption(stop)
            errors.print(f"interrupted ({name})", highlight=False)
            raise typer.Exit(code) from None

    return wrapper
