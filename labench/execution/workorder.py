"""What a worker needs to rebuild its cases exactly as the parent planned them, and nothing that
only makes sense on the parent's machine.

A worker may be a forked process here or a Dask worker on another host, so the order carries the
suite's bytes (and their sha256) rather than its path, the source of each user workload module
named `module:Class` that lives in a single file, and only the environment variables that steer
a measurement (thread pools, Numba, the device): never the parent's PATH or HOME, which mean
nothing elsewhere. Each case's settings travel as the parent resolved them, so a strategy that
shares a case's time budget between processes (rounds.py) needs no help from the worker.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from labench.core.errors import InputError
from labench.suite.case import Case, Settings, Suite
from labench.suite.load import suite_from_text
from labench.suite.model import Measurement

STEERING_PREFIXES = (
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "BLIS_",
    "VECLIB_",
    "NUMEXPR_",
    "NUMBA_",
    "CUDA_VISIBLE_DEVICES",
    "CUPY_",
    "LABENCH_",
)
"""Environment variables that change how a case runs; they travel with the order."""


def steering_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed part of `environment`."""
    return {
        name: value for name, value in environment.items() if name.startswith(STEERING_PREFIXES)
    }


@dataclass(frozen=True)
class WorkOrder:
    """A suite's cases, as planned, in a form any worker can rebuild them from."""

    suite_label: str
    """The suite's path on the parent: used only to word messages."""
    suite_bytes: bytes
    sha256: str
    overrides: dict[str, Any]
    environment: dict[str, str]
    modules: dict[str, str] = field(default_factory=dict)
    """Source of each single-file user workload module, by module name."""
    jitter: bool = False
    """Shift the worker's heap before anything else (placement.py): a fresh placement draw."""

    @classmethod
    def of(cls, suite: Suite, overrides: Mapping[str, Any]) -> WorkOrder:
        """The order for `suite`, refused if its file changed since it was loaded."""
        content = suite.path.read_bytes()
        if hashlib.sha256(content).hexdigest() != suite.sha256:
            raise InputError(f"{suite.path}: changed on disk since the run started")
        return cls(
            str(suite.path),
            content,
            suite.sha256,
            dict(overrides),
            steering_environment(os.environ),
            user_modules(suite),
        )

    def rebuild(self, keys: Sequence[str], settings: Sequence[Settings]) -> list[Case]:
        """The cases named by `keys`, with the settings the parent gave them. Called in the
        worker: it steers the environment and makes the shipped modules importable first."""
        if hashlib.sha256(self.suite_bytes).hexdigest() != self.sha256:
            raise InputError(f"{self.suite_label}: the suite arrived damaged (sha256 differs)")
        self.apply_environment()
        text = io.TextIOWrapper(io.BytesIO(self.suite_bytes), encoding="utf-8").read()
        suite = suite_from_text(text, Path(self.suite_label), self.sha256, self.module_folder())
        planned = {case.key: case for case in suite.cases(Measurement(**self.overrides))}
        pairs = zip(keys, settings, strict=True)
        return [replace(planned[key], settings=chosen) for key, chosen in pairs]

    def apply_environment(self) -> None:
        """Steering variables as the parent had them: any the worker has of its own (a fork
        server's, from when it started) are dropped first; the rest of its environment stays."""
        for name in [name for name in os.environ if name.startswith(STEERING_PREFIXES)]:
            del os.environ[name]
        os.environ.update(self.environment)

    def module_folder(self) -> Path | None:
        """The folder holding the shipped modules, first on sys.path so they win over any
        stale copy on the worker; None when there are none. Named by the modules' content, so
        the workers of one run share it and a run leaves at most one folder behind."""
        if not self.modules:
            return None
        digest = hashlib.sha256(repr(sorted(self.modules.items())).encode()).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"labench-modules-{digest}"
        folder.mkdir(exist_ok=True)
        for name, source in self.modules.items():
            target = folder / f"{name}.py"
            if not target.exists() or target.read_text(encoding="utf-8") != source:
                partial = folder / f".{name}.{os.getpid()}.tmp"
                partial.write_text(source, encoding="utf-8")
                partial.replace(target)  # atomic: a worker beside this one never reads half
            sys.modules.pop(name, None)
        sys.path.insert(0, str(folder))
        return folder


def user_modules(suite: Suite) -> dict[str, str]:
    """Source of the user workload modules of `suite` that are one top-level .py file (a
    package must be installed where the workers run)."""
    shipped = {}
    for benchmark in suite.model.benchmarks:
        name = benchmark.workload.partition(":")[0]
        module = sys.modules.get(name) if ":" in benchmark.workload else None
        file = getattr(module, "__file__", None)
        if "." not in name and file and file.endswith(".py") and not file.endswith("__init__.py"):
            shipped[name] = Path(file).read_text(encoding="utf-8")
    return shipped
