"""Suites: YAML file -> validated model -> the list of cases to run.

Validation happens in two passes, both reporting `file:line:column: where: what was expected`:
the structure through the pydantic models of `suite_model`, then the meaning (workloads,
implementations, parameters, baselines, claims, memory) in `suite_check`.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from labench.core.dtypes import DEFAULT_MATH
from labench.core.errors import InputError
from labench.core.host import distinct_threads, resolve_threads
from labench.judge.claims import ClaimSelectionError, pair_up
from labench.suite.check import check_meaning, structure_problem
from labench.suite.model import (
    FORMAT_VERSION,
    MEASUREMENT_DEFAULTS,
    Measurement,
    SuiteModel,
    ThreadSpec,
    merge,
    sweep,
)
from labench.suite.yamlsource import SourceMap, load_yaml, parse_yaml
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
    cache: str = "warm"

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
            merged = merge(MEASUREMENT_DEFAULTS, self.model.defaults, benchmark, overrides)
            settings = Settings(
                max_time=merged.max_time,
                target_rel_ci=merged.target_rel_ci,
                min_samples=merged.min_samples,
                warmup=merged.warmup,
                tolerance=merged.tolerance,
                timeout=merged.timeout,
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


def load_suite(path: Path) -> Suite:
    """Read, validate and resolve a suite file; raise InputError listing every problem found."""
    data, source = load_yaml(path)
    return _resolve(data, source, path, hashlib.sha256(path.read_bytes()).hexdigest(), path.parent)


def suite_from_text(text: str, path: Path, sha256: str, search_dir: Path | None) -> Suite:
    """A suite sent as text to a worker that has no copy of the file (labench.execution): the
    same checks as `load_suite`; `path` only words messages, user workload modules are looked
    for in `search_dir`."""
    data, source = parse_yaml(text, str(path))
    return _resolve(data, source, path, sha256, search_dir)


def _resolve(
    data: Any, source: SourceMap, path: Path, sha256: str, search_dir: Path | None
) -> Suite:
    file = str(path)
    if data is None:
        raise InputError(
            f"{file}:1:1: the file is empty; expected a suite: a mapping with "
            "'labench: 1', 'name' and 'benchmarks'"
        )
    if not isinstance(data, dict):
        raise InputError(
            f"{source.value(())}: expected a mapping with 'labench: 1', 'name' and "
            f"'benchmarks', got a {type(data).__name__}"
        )
    version = data.get("labench")
    if version != FORMAT_VERSION:
        where = source.value(("labench",)) if "labench" in data else source.value(())
        got = "no 'labench' key" if "labench" not in data else f"version {version!r}"
        raise InputError(
            f"{where}: unsupported suite format: expected 'labench: {FORMAT_VERSION}' "
            f"(the format this labench reads), got {got}"
        )
    try:
        model = SuiteModel.model_validate(data)
    except ValidationError as error:
        raise InputError([structure_problem(issue, source) for issue in error.errors()]) from None
    workloads, problems = check_meaning(model, source, search_dir)
    if problems:
        raise InputError(problems)
    suite = Suite(path=path, sha256=sha256, model=model, workloads=workloads, source=source)
    problems = _claim_selection_problems(suite)
    if problems:
        raise InputError(problems)
    return suite


def _claim_selection_problems(suite: Suite) -> list[str]:
    """A claim whose sides select no case, or several at once, could never be judged."""
    planned = suite.cases()
    problems = []
    for index, claim in enumerate(suite.model.claims):
        try:
            pair_up(claim, planned)
        except ClaimSelectionError as error:
            at = ("claims", index, claim.comparison_key)
            problems.append(f"{suite.source.value(at)}: claims[{index}] {claim.id!r}: {error}")
    return problems
