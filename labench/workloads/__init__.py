"""Workload registry: built-ins by dotted name, user workloads as `module:attribute`."""

from __future__ import annotations

import difflib
import importlib
import sys
from pathlib import Path

from labench.core.errors import SkipCase, shown
from labench.workloads.base import (
    Implementation,
    Inputs,
    Kernel,
    Param,
    Params,
    Workload,
    WrongAnswer,
    at_scale,
    implementation,
)
from labench.workloads.gradients import LeastSquares, Logistic, TwoLayerPerceptron
from labench.workloads.kernels import (
    Conv2dWorkload,
    DenseLayerWorkload,
    MatmulWorkload,
    MatvecWorkload,
    SoftmaxXentWorkload,
)
from labench.workloads.lowrank import LowRankMatmul, LowRankMatvec
from labench.workloads.regression import Ridge

BUILTIN: dict[str, type[Workload]] = {
    workload.name: workload
    for workload in (
        MatmulWorkload,
        MatvecWorkload,
        Conv2dWorkload,
        DenseLayerWorkload,
        SoftmaxXentWorkload,
        LeastSquares,
        Logistic,
        TwoLayerPerceptron,
        LowRankMatvec,
        LowRankMatmul,
        Ridge,
    )
}


class WorkloadNotFound(LookupError):
    """The suite named a workload that does not exist or cannot be imported; worded for users."""


def load_workload(name: str, search_dir: Path | None = None) -> Workload:
    """Instantiate a workload from a built-in name or a `module:attribute` reference.

    `search_dir` (the suite's folder) is importable while loading, so a suite can sit next to
    the module that defines its workloads.
    """
    if name in BUILTIN:
        return BUILTIN[name]()
    if ":" not in name:
        raise WorkloadNotFound(f"unknown workload {shown(name)}")
    module_name, _, attribute = name.partition(":")
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise WorkloadNotFound(
            f"cannot import module {shown(module_name)}: expected a module name such as "
            "'my_workloads' or 'package.module' before the ':'"
        )
    added = str(search_dir) if search_dir is not None else None
    if added is not None:
        sys.path.insert(0, added)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        missing = f"no module named {shown(error.name)}" if error.name else str(error)
        raise WorkloadNotFound(f"cannot import module {shown(module_name)}: {missing}") from None
    finally:
        if added is not None:
            sys.path.remove(added)
    if not hasattr(module, attribute):
        defined = sorted(attr for attr, value in vars(module).items() if _is_workload(value))
        close = difflib.get_close_matches(attribute, defined, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise WorkloadNotFound(
            f"module {module_name!r} has no {attribute!r}{hint} "
            f"(its workloads: {', '.join(defined) or 'none'})"
        )
    target = getattr(module, attribute)
    if isinstance(target, type) and issubclass(target, Workload):
        target = target()
    if not isinstance(target, Workload):
        raise WorkloadNotFound(
            f"{shown(name)} is not a labench Workload subclass or instance "
            f"(found {type(target).__name__})"
        )
    _refuse_incomplete(target, name)
    if not target.name:
        target.name = name
    return target


def _refuse_incomplete(target: Workload, name: str) -> None:
    """A workload that could never run: no inputs, no reference, or nothing to time."""
    undefined = [
        method
        for method in ("make_inputs", "reference")
        if getattr(type(target), method) is getattr(Workload, method)
    ]
    if undefined:
        raise WorkloadNotFound(
            f"{shown(name)} does not define {' or '.join(undefined)}: a workload makes its "
            "inputs and computes the float64 reference every implementation is checked against"
        )
    if not target.implementations:
        raise WorkloadNotFound(
            f"{shown(name)} has no implementation: mark at least one method with @implementation"
        )


def _is_workload(value: object) -> bool:
    """A workload instance, or a subclass of Workload other than itself."""
    if isinstance(value, type):
        return issubclass(value, Workload) and value is not Workload
    return isinstance(value, Workload)


__all__ = [
    "BUILTIN",
    "Implementation",
    "Inputs",
    "Kernel",
    "Param",
    "Params",
    "SkipCase",
    "Workload",
    "WorkloadNotFound",
    "WrongAnswer",
    "at_scale",
    "implementation",
    "load_workload",
]
