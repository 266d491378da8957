"""Reading the files a user names: unreadable or malformed input is an InputError that says
which file, where, and what was expected, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labench.errors import InputError


def read_input(path: Path, what: str) -> str:
    """The text of a file the user named, or an InputError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the {what}: {error}") from None


def read_json(path: Path, expected: str) -> Any:
    """A JSON file's content; a syntax error is reported at its line and column."""
    try:
        return json.loads(read_input(path, "result file"))
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); "
            f"expected {expected} (is it truncated or damaged?)"
        ) from None
