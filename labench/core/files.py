"""Reading the files a user names: unreadable, oversized, malformed or hostile input is an
InputError that says which file, where, and what was expected, never a traceback.

Result and ceilings files come from other machines and other people (CI artifacts, pull
requests), so they are bounded before they are parsed: a size cap, and a nesting cap that turns
Python's RecursionError on a deeply nested document into a message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from labench.core.errors import InputError

MAX_JSON_BYTES_VARIABLE = "LABENCH_MAX_JSON_BYTES"
DEFAULT_MAX_JSON_BYTES = 1 << 30
"""1 GiB: a 100,000-case run with every raw sample is about 0.4 GiB."""


def refuse_to_overwrite(path: Path, force: bool, what: str = "a result") -> None:
    """Refuse, before any work, an output path that would lose an existing file or that names
    a folder: labench replaces a file only when told to (`--force`)."""
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected a file name for {what}")
    if path.exists() and not force:
        raise InputError(
            f"{path}: already exists; labench never overwrites {what} "
            "(choose another -o, or pass --force to replace it)"
        )
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"{path}: cannot be written: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot be written: no permission to write in {folder}")


def read_input(path: Path, what: str) -> str:
    """The text of a file the user named, or an InputError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; expected a {what}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the {what}: {error}") from None


def max_json_bytes() -> int:
    """The size cap for JSON inputs; the environment variable raises it for those who mean it."""
    text = os.environ.get(MAX_JSON_BYTES_VARIABLE)
    if text is None:
        return DEFAULT_MAX_JSON_BYTES
    try:
        value = int(text)
    except ValueError:
        raise InputError(
            f"{MAX_JSON_BYTES_VARIABLE}={text!r}: expected a whole number of bytes"
        ) from None
    if value <= 0:
        raise InputError(f"{MAX_JSON_BYTES_VARIABLE}={text!r}: expected a positive size")
    return value


def read_json(path: Path, expected: str) -> Any:
    """A JSON file's content; a syntax error is reported at its line and column, an oversized
    or too deeply nested file is refused before it can exhaust memory or the stack."""
    limit = max_json_bytes()
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; expected {expected}") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read it: {error}") from None
    if size > limit:
        raise InputError(
            f"{path}: {size:,} bytes, more than the {limit:,} labench reads; expected {expected} "
            f"(set {MAX_JSON_BYTES_VARIABLE} to read a larger one)"
        )
    text = read_input(path, "file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if _looks_like_a_suite(path, text):
            raise InputError(
                f"{path}: this is a suite (YAML), not a result; expected {expected}: run the "
                f"suite first (`labench run {path} -o result.json`) and give the result file"
            ) from None
        raise InputError(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); "
            f"expected {expected} (is it truncated or damaged?)"
        ) from None
    except ValueError as error:  # an integer of more digits than Python converts from text
        reason = str(error).split(":")[0]
        raise InputError(
            f"{path}: a number too long to read ({reason}); expected {expected} (is it damaged?)"
        ) from None
    except RecursionError:
        raise InputError(
            f"{path}: nested too deeply to be {expected} (a result file is at most a few levels "
            "deep); refusing it"
        ) from None


def _looks_like_a_suite(path: Path, text: str) -> bool:
    """A YAML suite given where a result belongs: by its name, or by its `labench: 1` line."""
    if path.suffix in (".yaml", ".yml"):
        return True
    return any(line.strip().startswith("labench:") for line in text.splitlines()[:20])
