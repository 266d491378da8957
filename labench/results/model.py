"""The versioned result document, and THE one reader every command uses to load it.

Raw samples are kept so any later comparison can be recomputed from the file. Files are written
atomically (temporary file + rename), so a reader never sees a truncated one; while a run goes
on, its finished cases are in its journal (labench.results.journal), which `load` reads back
when the run never finished.

A result file is evidence a gate decides on, and it may come from another machine, an old
labench, or a hand that edited it. So the reader trusts nothing: the size and nesting are bounded
before parsing (`inputs.read_json`), every number must be finite, every time positive, an `ok`
case must carry its samples and agree with them, keys must be unique. Older schemas are migrated
before validation (`MIGRATIONS`), so files written by an earlier labench stay readable.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labench.core.errors import InputError, shown, shown_name
from labench.core.stats import Summary
from labench.results.gpu_state import GpuState

SCHEMA: Final = "labench.result/2"
Status = Literal["ok", "skipped", "error", "wrong"]
FAILED_STATUSES: frozenset[Status] = frozenset({"wrong", "error"})
Flag = Literal["noisy", "contended", "throttled"]
"""Marks on an ok case: `noisy`, its CI is wider than stats.NOISY_REL_CI; `contended`, other
processes or the hypervisor took cores it needed while it was measured (contention.py);
`throttled`, its GPU's SM clock fell below the threshold or another process used the device
(gpu_state.py)."""
ClaimStatus = Literal["held", "failed", "unmeasured"]
Scalar = str | int | float | bool | None
SUMMARY_TOLERANCE = 1e-9
"""Relative slack when checking stored statistics against the stored samples (float rounding)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Timing(Summary):
    """Per-call times of one case. Validated against its own samples: a file whose summary
    disagrees with the samples it carries has been edited or damaged, and is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    first_call: float = Field(ge=0)
    inner_loops: int = Field(ge=1)
    stopped_by: str
    samples: list[float] = Field(min_length=1, description="raw seconds per call, one per sample")
    process_medians: list[float] = Field(
        default_factory=list,
        description="with --processes (or a confirmed suspect): the median of each process",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Timing:
        for name in ("median", "mean", "min", "max"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} {getattr(self, name)!r} is not a positive time")
        for name in ("stdev", "iqr"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} {getattr(self, name)!r} is negative")
        for name in ("samples", "process_medians"):
            bad = next((value for value in getattr(self, name) if value <= 0), None)
            if bad is not None:
                raise ValueError(f"{name} holds {bad!r}, not a positive time")
        expected = {
            "median": statistics.median(self.samples),
            "min": min(self.samples),
            "max": max(self.samples),
        }
        for name, value in expected.items():
            if not math.isclose(getattr(self, name), value, rel_tol=SUMMARY_TOLERANCE):
                raise ValueError(
                    f"{name} {getattr(self, name)!r} disagrees with its samples ({value!r})"
                )
        if self.ci95 is not None and not self.ci95[0] <= self.median <= self.ci95[1]:
            raise ValueError(f"ci95 {list(self.ci95)} does not contain the median {self.median!r}")
        return self


class CaseResult(_Model):
    key: str
    group: str
    benchmark: str
    workload: str
    implementation: str
    backend: str
    params: dict[str, Scalar]
    threads: int = Field(ge=1)
    threads_spec: int | str
    dtype: str
    math: str = Field("ieee", description="float32 products on the GPU: ieee or tf32")
    cache: Literal["warm", "cold"] = "warm"
    status: Status
    reason: str | None = None
    timing: Timing | None = None
    metrics: dict[str, float | None] = Field(default_factory=dict)
    peak_bytes_source: str | None = Field(
        None, description="what measured metrics.peak_bytes: tracemalloc or cupy_pool"
    )
    thread_pools: dict[str, int] = Field(default_factory=dict)
    precision: dict[str, str] = Field(
        default_factory=dict,
        description="what really computed, where it differs from the case's dtype or the "
        "library says: compute_type (read back from CuPy), cublas_compute, output_dtype",
    )
    flags: list[Flag] = Field(default_factory=list)
    gpu: GpuState | None = Field(
        None, description="a GPU case: its device and clocks while sampled; None elsewhere"
    )

    @property
    def failed(self) -> bool:
        """Wrong or errored: the statuses that fail a run, unlike `skipped`."""
        return self.status in FAILED_STATUSES

    @model_validator(mode="after")
    def _timed_when_ok(self) -> CaseResult:
        if self.status == "ok" and self.timing is None:
            raise ValueError("an ok case must carry its timing and samples")
        if self.status != "ok" and self.timing is not None:
            raise ValueError(f"a {self.status} case carries a timing; only ok cases are timed")
        return self


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
    points: int = Field(0, ge=0, description="points measured; the claim must hold at each")
    at: str | None = Field(None, description="the point giving `value`, when there are several")
    cases: list[str] = Field(default_factory=list, description="the cases giving `value`")


MAX_REASON = 500
"""Characters an exclusion's reason may hold: every gate prints it, so it stays a sentence."""


class GateSetting(_Model):
    """A benchmark's own gate setting, from its suite's `gate:`: a threshold of its own, or
    its exclusion from gating and why. Stored with the run so that whatever gates on the file
    later (`compare`, `run --baseline`) honours what the suite said when it was measured."""

    threshold: float | None = Field(
        None, ge=0, lt=10, description="slowdown that counts for this benchmark (0.15 = 15%)"
    )
    exclude: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_REASON,
        description="why this benchmark is measured but never gated",
    )

    @model_validator(mode="after")
    def _one_of_them(self) -> GateSetting:
        if (self.threshold is None) == (self.exclude is None):
            raise ValueError("a gate setting holds exactly one of 'threshold' and 'exclude'")
        return self


class SuiteInfo(_Model):
    name: str
    path: str
    sha256: str
    baselines: dict[str, str] = Field(description="baseline implementation of each benchmark")
    gates: dict[str, GateSetting] = Field(
        default_factory=dict,
        description="benchmarks' own gate settings, by benchmark id; empty in files older than "
        "them, which load as gated by the command line's threshold",
    )


class MachineLoad(_Model):
    """What else was running when a run started (contention.py)."""

    others_cores: float | None = Field(None, ge=0, description="cores other processes kept busy")
    steal: float | None = Field(None, ge=0, le=1, description="fraction stolen by the hypervisor")
    load_per_core: float | None = Field(None, ge=0, description="1-minute load average per core")


class RunInfo(_Model):
    id: str
    started: str
    finished: str | None = None
    labench_version: str
    command: list[str]
    overrides: dict[str, Scalar] = Field(default_factory=dict)
    processes: int = Field(1, ge=1, description="worker processes each case was measured in")
    execution: str | None = Field(
        None, description="how cases ran (labench.execution); None in files older than it"
    )
    interrupted: bool = False
    resumed: list[str] = Field(default_factory=list, description="when --resume continued it")
    git_commit: str | None = Field(None, description="commit of the current folder's repository")
    git_branch: str | None = None
    git_dirty: bool | None = Field(None, description="tracked files differed from the commit")
    label: str | None = Field(None, description="run --label: the user's name for this run")
    load: MachineLoad | None = None
    confirmed: list[str] = Field(
        default_factory=list,
        description="cases --baseline re-measured in fresh processes because they looked slower",
    )


class Environment(_Model):
    """The machine fingerprint (`environment.fingerprint`). Every field but the machine id is
    optional, since runs converted from other tools know less about their machine."""

    machine_id: str
    hostname: str | None = None
    cpu: str | None = None
    architecture: str | None = None
    cores_logical: int | None = Field(None, ge=1)
    cores_usable: int | None = Field(None, ge=1)
    memory_bytes: int | None = Field(None, ge=0)
    os: str | None = None
    python: str | None = None
    python_implementation: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    thread_pools: list[dict[str, Scalar]] = Field(default_factory=list)
    gpus: list[dict[str, Scalar]] = Field(default_factory=list)


class Result(_Model):
    schema_: Literal["labench.result/2"] = Field(SCHEMA, alias="schema")
    suite: SuiteInfo
    run: RunInfo
    environment: Environment
    cases: list[CaseResult] = Field(default_factory=list)
    claims: list[ClaimResult] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _unique_keys(self) -> Result:
        seen: set[str] = set()
        for index, case in enumerate(self.cases):
            if case.key in seen:
                raise ValueError(f"cases[{index}]: key {shown(case.key, 200)} appears twice")
            seen.add(case.key)
        return self

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=1) + "\n"


def _from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """labench.result/1 -> /2: the environment became a validated model; nothing else moved."""
    return {**document, "schema": SCHEMA}


MIGRATIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "labench.result/1": _from_version_1,
}
"""Each older schema's step towards the next; applied in turn before validation."""


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


def reserve_path(folder: Path, name: str, stamp: str) -> Path:
    """`folder/name-stamp.json`, or `-2`, `-3`... after it, created empty with O_EXCL so that two
    runs started in the same second can never pick the same file; the run overwrites it with
    its first save moments later."""
    folder.mkdir(parents=True, exist_ok=True)
    counter = 1
    while True:
        path = folder / f"{name}-{stamp}{'' if counter == 1 else f'-{counter}'}.json"
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            counter += 1
            continue
        return path


def from_document(path: Path, document: Any) -> Result:
    """Validate an already parsed result document; `path` only words the errors."""
    if not isinstance(document, dict) or "schema" not in document:
        raise InputError(
            f"{path}: not a labench result file: expected a JSON object with 'schema': {SCHEMA!r}"
        )
    schema = document["schema"]
    while isinstance(schema, str) and schema in MIGRATIONS:
        document = MIGRATIONS[schema](document)
        schema = document["schema"]
    if schema != SCHEMA:
        readable = ", ".join([*MIGRATIONS, SCHEMA])
        newer = isinstance(schema, str) and schema.startswith("labench.result/")
        raise InputError(
            f"{path}: unsupported result schema {shown(schema)}; this labench reads {readable}"
            + ("; it was probably written by a newer labench: upgrade to read it" if newer else "")
        )
    try:
        return Result.model_validate(document)
    except ValidationError as error:
        raise InputError(
            f"{path}: damaged result file, refused: {problems(error, document)}"
        ) from None


def problems(error: ValidationError, document: Any, most: int = 5) -> str:
    """Pydantic's findings in one line, `field: what is wrong; ...`, a case named by its key
    too, so the user can find the place in a file of thousands of cases."""
    found = error.errors()
    text = "; ".join(
        f"{field_name(issue['loc'], document)}: {_message(issue)}" for issue in found[:most]
    )
    return text + (f"; and {len(found) - most} more" if len(found) > most else "")


def _message(issue: Any) -> str:
    text = str(issue["msg"]).removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


def field_name(location: Sequence[str | int], document: Any = None) -> str:
    """('cases', 3, 'timing', 'samples', 0) -> "cases[3] ('matmul/.../numpy').timing.samples[0]"."""
    text, node = "", document
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and -len(node) <= part < len(node) else None
            key = node.get("key") if isinstance(node, dict) else None
            if isinstance(key, str):
                text += f" ({shown(key, 200)})"
        else:
            text += f".{shown_name(part)}" if text else shown_name(part)
            node = node.get(part) if isinstance(node, dict) else None
    return text or "(document)"
