"""A machine's measured ceilings as stored: the file `labench calibrate` writes, and its reader.

Readers (show, report, the roofline) need only this model; measuring the roofs is
labench.machine's job and brings the backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, Literal

from platformdirs import user_cache_dir
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labench.core.errors import InputError
from labench.core.files import read_json
from labench.results.gpu_state import GpuState
from labench.results.model import CaseResult, write_atomically


class GemmRoof(BaseModel):
    """The compute roof of one dtype and math mode, with the sweep that found it."""

    model_config = ConfigDict(extra="forbid")

    dtype: str
    math: str
    gflops: float = Field(description="best GFLOP/s of the sweep")
    size: int = Field(description="the n of the n x n x n GEMM that reached it")
    sweep: dict[int, float] = Field(description="GFLOP/s at each size tried")
    precision: dict[str, str] = Field(
        default_factory=dict, description="compute type as the library reports it"
    )
    reason: str | None = Field(None, description="why the sweep stopped before its end")


class GpuCeiling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gemm: list[GemmRoof]
    missing: dict[str, str] = Field(
        default_factory=dict, description="dtype/math whose every GEMM failed, with the reason"
    )
    gbps: float = Field(description="copy bandwidth, bytes read + written per second / 1e9")
    clocks: GpuState | None = Field(
        None, description="the device and its clocks while the roofs were timed"
    )

    def peak(self, dtype: str, math: str) -> float | None:
        """The compute roof a case of this dtype and math mode runs under, if measured."""
        return next(
            (roof.gflops for roof in self.gemm if roof.dtype == dtype and roof.math == math), None
        )


SCHEMA: Final = "labench.ceilings/1"


class Ceiling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threads: int = Field(description="host threads; 0 for a GPU")
    gflops_float64: float
    gflops_float32: float
    gbps: float = Field(description="copy bandwidth, bytes read + written per second / 1e9")
    gbps_read: float | None = Field(
        None, description="read bandwidth (a reduction over 4x the last-level cache), GB/s"
    )
    gemm_sizes: dict[str, int] = Field(
        default_factory=dict, description="per dtype: the GEMM size where the rate plateaus"
    )
    gemm_capped: list[str] = Field(
        default_factory=list,
        description="dtypes whose size sweep hit its time or memory cap before the plateau",
    )

    def peak(self, dtype: str, math: str) -> float | None:
        """The host's GEMM roof for a case's dtype; none measured for the 16-bit types."""
        return {"float64": self.gflops_float64, "float32": self.gflops_float32}.get(dtype)


class Ceilings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["labench.ceilings/1"] = Field(SCHEMA, alias="schema")
    machine_id: str
    measured: str
    environment: dict[str, Any]
    cpu: list[Ceiling]
    gpu: GpuCeiling | None = None

    def for_case(self, case: CaseResult) -> Ceiling | GpuCeiling | None:
        if case.backend == "cupy":
            return self.gpu
        return next((c for c in self.cpu if c.threads == case.threads), None)


def cache_path(machine_id: str) -> Path:
    return Path(user_cache_dir("labench")) / f"ceilings-{machine_id}.json"


def save(ceilings: Ceilings) -> Path:
    path = cache_path(ceilings.machine_id)
    write_atomically(path, ceilings.model_dump_json(by_alias=True, indent=1) + "\n")
    return path


def load(machine_id: str) -> Ceilings | None:
    """This machine's stored ceilings, None if it was never calibrated; a damaged file is an
    InputError naming it and the command that rewrites it."""
    path = cache_path(machine_id)
    if not path.exists():
        return None
    try:
        return Ceilings.model_validate(read_json(path, "a labench ceilings file"))
    except (ValidationError, InputError):
        raise InputError(
            f"{path}: damaged ceilings file; run `labench calibrate` to measure them again"
        ) from None
