"""What a suite plans: the resolved suite, its cases and their settings.

Kept apart from loading so that whatever only needs a case's identity (a progress bar, a
claim's selection, a work order) does not import the YAML reader or the workload registry.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from labench.core.dtypes import DEFAULT_MATH
from labench.core.host import distinct_threads, resolve_threads
from labench.suite.model import CacheMode, Measurement, SuiteModel, ThreadSpec, resolve, sweep
from labench.suite.yamlsource import SourceMap

if TYPE_CHECKING:
    from labench.workloads import Workload


@dataclass(frozen=True)
class Settings:
    """The measurement settings of one case, every field resolved."""

    max_time: float
    target_rel_ci: float
    min_samples: int
    warmup: float
    tolerance: float | None
    timeout: float | None
    throttle_threshold: float
    """A GPU case whose SM clock falls below this share of its maximum is `throttled`."""


@dataclass(frozen=True)
class Case:
    """One workload x parameter point x threads x dtype x implementation."""

    benchmark: str
    workload: Workload = field(compare=False)
    implementation: str
    params: dict[str, Any]
    threads_spec: ThreadSpec
    dtype: str
    seed: int
    settings: Settings
    math: str = DEFAULT_MATH
    cache: CacheMode = "warm"

    @property
    def threads(self) -> int:
        return resolve_threads(self.threads_spec)

    @property
    def backend(self) -> str:
        return self.workload.implementations[self.implementation].backend

    @property
    def group_key(self) -> str:
        """Cases that differ only by implementation share it; speedups are taken inside it.
        The math mode appears only when it is not the default, and a cold case adds `/cold`
        (a warm one nothing), so keys of runs made before either existed still match."""
        math = "" if self.math == DEFAULT_MATH else f"+{self.math}"
        cold = "/cold" if self.cache == "cold" else ""
        return f"{self.data_key}{math}/t{self.threads_spec}{cold}"

    @property
    def data_key(self) -> str:
        """Cases that share input data (same benchmark, parameters and dtype): the math mode
        and the cache mode are left out, so every variant sees the same numbers. A parameter
        marked `in_key_at_default=False` is left out while at its default, so keys made before
        it existed still match."""
        specs = self.workload.params
        params = ",".join(
            f"{name}={value}"
            for name, value in self.params.items()
            if name not in specs or specs[name].in_key_at_default or value != specs[name].default
        )
        return f"{self.benchmark}/{params}/{self.dtype}"

    @property
    def key(self) -> str:
        """Stable identity across runs and machines."""
        return f"{self.group_key}/{self.implementation}"

    def rng(self) -> np.random.Generator:
        """Seeded from the suite seed and the data key, so every implementation and every run
        of the same point sees identical inputs, while different points differ."""
        digest = hashlib.sha256(self.data_key.encode()).digest()
        return np.random.default_rng([self.seed, int.from_bytes(digest[:8], "little")])


@dataclass(frozen=True)
class Suite:
    path: Path
    sha256: str
    model: SuiteModel
    workloads: dict[str, Workload]
    source: SourceMap

    @property
    def name(self) -> str:
        return self.model.name

    def cases(self, overrides: Measurement | None = None) -> list[Case]:
        """Expand every benchmark's sweep (cartesian product of list-valued params, then
        threads, dtype and implementation) into cases, in the order they will run."""
        cases: list[Case] = []
        for benchmark in self.model.benchmarks:
            workload = self.workloads[benchmark.id]
            merged = resolve(self.model.defaults, benchmark, overrides)
            settings = Settings(
                max_time=merged.max_time,
                target_rel_ci=merged.target_rel_ci,
                min_samples=merged.min_samples,
                warmup=merged.warmup,
                tolerance=merged.tolerance,
                timeout=merged.timeout,
                throttle_threshold=merged.throttle_threshold,
            )
            implementations = benchmark.implementation_names(workload)
            for point in sweep(benchmark.params):
                params = workload.resolve_params(point)
                for dtype, math, threads, cache, implementation in itertools.product(
                    merged.dtype,
                    merged.math,
                    distinct_threads(merged.threads),
                    merged.cache,
                    implementations,
                ):
                    cases.append(
                        Case(
                            benchmark=benchmark.id,
                            workload=workload,
                            implementation=implementation,
                            params=params,
                            threads_spec=threads,
                            dtype=dtype,
                            seed=merged.seed,
                            settings=settings,
                            math=math,
                            cache=cache,
                        )
                    )
        return cases

    def baseline(self, benchmark_id: str) -> str:
        benchmark = next(b for b in self.model.benchmarks if b.id == benchmark_id)
        return benchmark.baseline or benchmark.implementation_names(self.workloads[benchmark_id])[0]
