"""Correctness before timing: a case runs only where it can, and its answer is checked first.

A fast wrong kernel must never be ranked, and a case a backend cannot compute in the asked
precision is skipped with the reason, never silently computed in another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from labench.core import dtypes as precision
from labench.core.dtypes import DEFAULT_MATH
from labench.measure.failures import CaseFailed

if TYPE_CHECKING:
    from labench.backends import Backend
    from labench.suite.case import Case
    from labench.workloads import Workload


def unsupported(workload: Workload, backend: Backend, dtype: str, math: str) -> str | None:
    """Why a case cannot run in this dtype and math mode on this backend, so it is skipped
    with the reason instead of silently computing in another precision; None if it can."""
    if dtype not in workload.dtypes:
        return f"{workload.name} computes in {', '.join(workload.dtypes)} only" + (
            f": {workload.dtypes_reason}" if workload.dtypes_reason else ""
        )
    if math != DEFAULT_MATH:
        if math not in backend.math_modes:
            return f"math {math} exists only on a GPU; the {backend.name} backend has none"
        if dtype != "float32":
            return f"math {math} changes float32 products only, not {dtype}"
    return None


def check_output(case: Case, output: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Correctness before timing: a fast wrong kernel must never be ranked."""
    if np.shape(output) != reference.shape:
        raise CaseFailed(
            "wrong",
            f"output shape {np.shape(output)} differs from the reference's {reference.shape}",
        )
    return within_tolerance(case, case.workload.error(output, reference))


def within_tolerance(case: Case, error: float) -> dict[str, float]:
    """The relative error against the tolerance of the case's precision and implementation."""
    dtype = precision.resolve(case.dtype)
    implementation = case.workload.implementations[case.implementation]
    tolerance = (
        case.settings.tolerance
        or implementation.tolerance
        or case.workload.tolerance(case.params, dtype) + precision.math_allowance(case.math)
    )
    metrics = {"error_rel": error, "tolerance": tolerance}
    if not np.isfinite(error) or error > tolerance:
        raise CaseFailed(
            "wrong", f"relative error {error:.3g} exceeds the tolerance {tolerance:.3g}", metrics
        )
    return metrics
