"""Workload registry: built-ins by dotted name, user workloads as `module:attribute`."""

from __future__ import annotations

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
    target = getattr(module, attribute, None)
    if isinstance(target, type) and issubclass(target, Workload):
        target = target()
    if not isinstance(target, Workload):
        raise WorkloadNotFound(
            f"{shown(name)} is not a labench Workload subclass or instance "
            f"(found {type(target).__name__})"
        )
    if not target.name:
        target.name = name
    return target


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
