"""THE reader of result files: parse, migrate, validate, and recover a killed run's journal.

Above both the model and the journal (read -> journal -> model), so neither imports the other
back; every command that reads a result reads it here.
"""

from __future__ import annotations

from pathlib import Path

from labench.core.errors import InputError
from labench.core.files import read_json
from labench.results.journal import recover
from labench.results.model import Result, from_document


def load(path: Path) -> Result:
    """Read, migrate and validate a result file (and the journal of a run that never
    finished); anything unusable or untrustworthy is an InputError naming the file and field."""
    return with_journal(path, from_document(path, read_json(path, "a labench result file")))


def with_journal(path: Path, result: Result) -> Result:
    """A run that never finished (it was killed) as its journal holds it, with its cases."""
    if result.run.finished is not None:
        return result
    return recover(path, result.run.id) or result


def result_files(arguments: list[Path]) -> list[Path]:
    """Files as given, and every *.json file in a given folder."""
    files: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            found = sorted(argument.glob("*.json"))
            if not found:
                raise InputError(f"{argument}: no result files (*.json) in this folder")
            files += found
        else:
            files.append(argument)
    return files
