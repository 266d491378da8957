"""labench: a benchmark harness for the linear algebra behind deep learning.

The public API is what a user workload needs; everything else is reached through the CLI.
It is loaded on first use (PEP 562), because it brings NumPy, and every `labench` command
imports this package first: `labench --help` should not wait for NumPy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labench.core.errors import SkipCase
    from labench.workloads.base import (
        Implementation,
        Kernel,
        Param,
        Workload,
        WrongAnswer,
        implementation,
    )

__all__ = [
    "Implementation",
    "Kernel",
    "Param",
    "SkipCase",
    "Workload",
    "WrongAnswer",
    "implementation",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("labench.workloads.base"), name)
    raise AttributeError(f"module 'labench' has no attribute {name!r}")
