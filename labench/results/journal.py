"""The run journal: every finished case on disk at once, at a cost that does not grow with the run.

Rewriting the whole result file after each case made a run quadratic (79% of a 500-case run
went to re-serialising it). Instead, a run appends one JSON line per finished case to a journal
beside its result (`RESULT.json.journal`), flushed and fsynced before the next case starts, and
writes the result file itself only when it starts and when it ends (finished, Ctrl-C or an
error), then deletes the journal. Only a run that died without unwinding (SIGKILL, the OOM
killer, a power cut) leaves a journal behind, and readers rebuild that run from it (`recover`).

Format: the first line is the run's header (`{"journal": "labench.journal/1", "result": ...}`,
the result as it stood when the run started, resumed cases included), each later line one case
as stored in the result file. The header is written whole (temporary file + rename), so it is
never torn; a case line may be, if the process died inside the write: an unreadable *last* line
is dropped with a warning, an unreadable line anywhere else is damage and refused.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from labench.core.errors import InputError, shown_name
from labench.core.files import MAX_JSON_BYTES_VARIABLE, max_json_bytes
from labench.results.model import CaseResult, Result, problems, write_atomically

SCHEMA = "labench.journal/1"


class TornRecordWarning(UserWarning):
    """The journal's last line was cut short when its run was killed; that case is lost."""


def journal_path(result_path: Path) -> Path:
    return result_path.with_name(result_path.name + ".journal")


def _line(document: Any) -> bytes:
    # json.dumps like the result file, so a journaled case reads back exactly as it would be saved.
    return (json.dumps(document, separators=(",", ":")) + "\n").encode("utf-8")


class Journal:
    """The open journal of a running run; `append` returns once the case is on disk."""

    def __init__(self, path: Path, stream: IO[bytes]) -> None:
        self.path = path
        self._stream = stream

    @classmethod
    def start(cls, result: Result, result_path: Path) -> Journal:
        """A new journal for `result` (replacing any earlier one at that place), whose header
        holds the result as it stands, so the journal alone can rebuild the run."""
        path = journal_path(result_path)
        header = {"journal": SCHEMA, "result": result.model_dump(mode="json", by_alias=True)}
        write_atomically(path, _line(header).decode("utf-8"))
        return cls(path, path.open("ab"))

    def append(self, case: CaseResult) -> None:
        self._stream.write(_line(case.model_dump(mode="json")))
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def close(self) -> None:
        self._stream.close()

    def discard(self) -> None:
        """Close and delete it: call only once the result file holds every journaled case."""
        self.close()
        self.path.unlink(missing_ok=True)


def recover(result_path: Path, run_id: str | None = None) -> Result | None:
    """The run a journal beside `result_path` records, marked interrupted, with every case it
    journaled; None when there is no journal, or it belongs to another run than `run_id`.

    Every record is validated; a damaged journal is an InputError naming the line. A journal
    larger than the cap on result files (files.max_json_bytes) is refused before it is read:
    it travels with its result, so it is no more trusted than one."""
    path = journal_path(result_path)
    try:
        data = _read_bounded(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise InputError(f"{path}: cannot read the run journal: {error}") from None
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the file ends with a complete line
    documents = []
    for number, line in enumerate(lines, start=1):
        try:
            documents.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            if number < len(lines):
                raise InputError(
                    f"{path}:{number}: damaged run journal: line {number} of {len(lines)} is not "
                    f"valid JSON ({error}); only the last line can be cut short by a kill"
                ) from None
            warnings.warn(
                f"{path}:{number}: the last journal record was cut short when the run was killed; "
                f"dropped it, keeping the {max(number - 2, 0)} case(s) before it",
                TornRecordWarning,
                stacklevel=2,
            )
        except RecursionError:
            raise InputError(
                f"{path}:{number}: damaged run journal: line {number} of {len(lines)} is nested "
                "too deeply to be a record (a record is a few levels deep); refusing it"
            ) from None
        except ValueError as error:  # an integer of more digits than Python converts from text
            raise InputError(
                f"{path}:{number}: damaged run journal: line {number} of {len(lines)} holds a "
                f"number too long to read ({str(error).split(':')[0]})"
            ) from None
    if not documents:
        return None
    result = _header(path, documents[0])
    if run_id is not None and result.run.id != run_id:
        return None
    seen = {case.key for case in result.cases}
    for number, document in enumerate(documents[1:], start=2):
        case = _validated(CaseResult, document, f"{path}:{number}")
        if case.key in seen:
            raise InputError(
                f"{path}:{number}: damaged run journal: case {shown_name(case.key, 200)} twice"
            )
        seen.add(case.key)
        result.cases.append(case)
    result.run.interrupted = True
    return result


def _read_bounded(path: Path) -> bytes:
    """The journal's bytes, or an InputError when it is larger than labench reads."""
    limit = max_json_bytes()
    with path.open("rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise InputError(
            f"{path}: run journal of more than the {limit:,} bytes labench reads; a run's "
            f"journal is about the size of its result file (set {MAX_JSON_BYTES_VARIABLE} to "
            "read a larger one)"
        )
    return data


def _header(path: Path, document: Any) -> Result:
    if not isinstance(document, dict) or document.get("journal") != SCHEMA:
        raise InputError(
            f"{path}:1: not a labench run journal: expected a first line "
            f'{{"journal": "{SCHEMA}", "result": ...}}'
        )
    return _validated(Result, document.get("result"), f"{path}:1")


Model = TypeVar("Model", bound=BaseModel)


def _validated(model: type[Model], document: Any, where: str) -> Model:
    """The record as `model`, or an InputError listing what is wrong with it and where."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise InputError(
            f"{where}: damaged run journal record, refused: {problems(error, document)}"
        ) from None
