"""The versioned result document: one JSON file per run.

Raw samples are kept so any later comparison can be recomputed from the file. Files are written
atomically (temporary file + rename) after every case, so an interrupted or crashed run leaves a
valid file holding every case it finished, never a truncated one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labench.errors import InputError
from labench.inputs import read_json
from labench.stats import Summary

SCHEMA = "labench.result/1"
Status = Literal["ok", "skipped", "error", "wrong"]
ClaimStatus = Literal["held", "failed", "unmeasured"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timing(Summary):
    first_call: float
    inner_loops: int
    stopped_by: str
    samples: list[float] = Field(description="raw seconds per call, one per sample")
    process_medians: list[float] = Field(
        default_factory=list,
        description="with --processes: the median of each worker process, in order",
    )


class CaseResult(_Model):
    key: str
    group: str
    benchmark: str
    workload: str
    implementation: str
    backend: str
    params: dict[str, Any]
    threads: int
    threads_spec: int | str
    dtype: str
    status: Status
    reason: str | None = None
    timing: Timing | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    thread_pools: dict[str, int] = Field(default_factory=dict)


class ClaimResult(_Model):
    """One claim's verdict as stored in the result's `claims` list."""

    id: str
    text: str
    benchmark: str
    status: ClaimStatus
    value: float | None = None
    ci: tuple[float, float] | None = Field(None, description="95% bootstrap CI of a speedup")
    bound: str
    reason: str | None = None
    points: int = Field(0, description="points measured; the claim must hold at each")
    at: str | None = Field(None, description="the point giving `value`, when there are several")
    cases: list[str] = Field(default_factory=list, description="the cases giving `value`")


class SuiteInfo(_Model):
    name: str
    path: str
    sha256: str
    baselines: dict[str, str] = Field(description="baseline implementation of each benchmark")


class RunInfo(_Model):
    id: str
    started: str
    finished: str | None = None
    labench_version: str
    command: list[str]
    overrides: dict[str, Any] = Field(default_factory=dict)
    processes: int = Field(1, description="worker processes each case was measured in")
    interrupted: bool = False
    resumed: list[str] = Field(default_factory=list, description="when --resume continued it")
    git_commit: str | None = Field(None, description="commit of the current folder's repository")
    git_branch: str | None = None
    git_dirty: bool | None = Field(None, description="tracked files differed from the commit")
    label: str | None = Field(None, description="run --label: the user's name for this run")


class Result(_Model):
    schema_: Literal["labench.result/1"] = Field(SCHEMA, alias="schema")
    suite: SuiteInfo
    run: RunInfo
    environment: dict[str, Any]
    cases: list[CaseResult] = Field(default_factory=list)
    claims: list[ClaimResult] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=1) + "\n"


def save(result: Result, path: Path) -> None:
    write_atomically(path, result.to_json())


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path) -> Result:
    """Read and validate a result file; anything unusable is an InputError naming the file."""
    return from_document(path, read_json(path, "a labench result file"))


def from_document(path: Path, document: Any) -> Result:
    """Validate an already parsed result document; `path` only words the errors."""
    if not isinstance(document, dict) or "schema" not in document:
        raise InputError(
            f"{path}: not a labench result file: expected a JSON object with 'schema': {SCHEMA!r}"
        )
    if document["schema"] != SCHEMA:
        raise InputError(
            f"{path}: unsupported result schema {document['schema']!r}; "
            f"this labench reads {SCHEMA!r}"
        )
    try:
        return Result.model_validate(document)
    except ValidationError as error:
        problems = [
            f"{path}: {'.'.join(str(part) for part in issue['loc'])}: {issue['msg'].lower()}"
            for issue in error.errors()[:5]
        ]
        raise InputError([f"{path}: damaged result file:", *problems]) from None
