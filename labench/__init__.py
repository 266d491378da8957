"""labench: a benchmark harness for the linear algebra behind deep learning.

The public API is what a user workload needs; everything else is reached through the CLI.
"""

from labench.workloads.base import (
    Implementation,
    Kernel,
    Param,
    SkipCase,
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
