"""How big a suite is before it runs: case counts taken without expanding a sweep, the limit on
them, and the time the cases may take.

A sweep is a cartesian product, so five lists of a hundred values are 10^10 cases: expanding
them to check them would never finish. Counting is a product of list lengths, so a suite is
measured first, refused beyond its limit with the line of the benchmark that explodes, and only
then expanded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labench.backends import BACKENDS
from labench.core.host import distinct_threads
from labench.suite.model import Benchmark, SuiteModel, as_list, resolve
from labench.suite.yamlsource import SourceMap

if TYPE_CHECKING:
    from labench.suite.case import Case
    from labench.workloads import Workload

DEFAULT_MAX_CASES = 10_000
"""Cases a suite may hold unless it sets `max_cases`. At the default 1 s of sampling and 0.05 s
of warm-up, 10,000 cases are three hours; even under `--quick` they are eighteen minutes. Beyond
that a sweep is far more often a slip (a list where one value was meant, a pasted range) than a
plan, and the shipped suites hold fewer than a hundred."""


_CENTURY = 100 * 365.25 * 86_400


@dataclass(frozen=True)
class CaseCount:
    """A benchmark's cases as the product of its sweep's dimensions, each (what, how many)."""

    factors: tuple[tuple[str, int], ...]

    @property
    def total(self) -> int:
        return math.prod(count for _, count in self.factors)

    def __str__(self) -> str:
        shown = [f"{count:,} {name}" for name, count in self.factors if count > 1]
        return " x ".join(shown) or "one case"


def count_cases(benchmark: Benchmark, workload: Workload, model: SuiteModel) -> CaseCount:
    """The number of cases `Suite.cases` would make for this benchmark, without making them."""
    merged = resolve(model.defaults, benchmark)
    return CaseCount(
        (
            *((name, len(as_list(value))) for name, value in benchmark.params.items()),
            ("dtypes", len(merged.dtype)),
            ("math modes", len(merged.math)),
            ("cache modes", len(merged.cache)),
            ("thread counts", len(distinct_threads(merged.threads))),
            ("implementations", len(benchmark.implementation_names(workload))),
        )
    )


def case_count_problems(
    model: SuiteModel, workloads: dict[str, Workload], source: SourceMap
) -> list[str]:
    """Refuse a suite whose sweeps hold more cases than its limit, naming each benchmark that
    alone exceeds it, or else the largest one, at its line."""
    limit = model.max_cases or DEFAULT_MAX_CASES
    counts = {
        index: count_cases(benchmark, workloads[benchmark.id], model)
        for index, benchmark in enumerate(model.benchmarks)
    }
    total = sum(count.total for count in counts.values())
    if total <= limit:
        return []
    how_to_allow = (
        f"a suite may hold {limit:,} cases; set 'max_cases: N' at the top of the suite "
        "if you mean to run more"
    )
    over = [index for index, count in counts.items() if count.total > limit]
    if not over:
        largest = max(counts, key=lambda index: counts[index].total)
        return [
            f"{source.value(('benchmarks', largest))}: the suite sweeps {total:,} cases in "
            f"all; its largest benchmark, benchmarks[{largest}] "
            f"{model.benchmarks[largest].id!r}, sweeps {counts[largest].total:,} "
            f"({counts[largest]}); {how_to_allow}"
        ]
    return [
        f"{source.value(('benchmarks', index))}: benchmarks[{index}] "
        f"{model.benchmarks[index].id!r} sweeps {counts[index].total:,} cases "
        f"({counts[index]}); {how_to_allow}"
        for index in over
    ]


def worst_case_seconds(cases: Sequence[Case]) -> float:
    """Seconds of warm-up and sampling the cases may spend at most. A device case also samples
    its host-side latency for a quarter of max_time. Not included, because nothing bounds them
    before the kernels run: first calls (JIT compilation), input and reference making, and a
    kernel so slow that `min_samples` calls outlast max_time."""
    total = 0.0
    for case in cases:
        host = BACKENDS[case.backend].synchronized is not None
        total += case.settings.warmup + case.settings.max_time
        if host:
            total += case.settings.warmup + case.settings.max_time / 4
    return total


def human_duration(seconds: float) -> str:
    """'~45 s', '~3 min 20 s', '~2 h 5 min', '~3 d 4 h': two units are plenty for a budget,
    and a suite that asks for more than a century needs no exact figure."""
    if seconds >= _CENTURY:
        return "over a century"
    rounded = round(seconds)
    if rounded == 0:
        return "under 1 s" if seconds > 0 else "0 s"
    units = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))
    parts: list[str] = []
    for name, size in units:
        if rounded >= size or parts:
            amount, rounded = divmod(rounded, size)
            parts.append(f"{amount} {name}")
        if len(parts) == 2:
            break
    shown = [part for part in parts if not part.startswith("0 ")] or parts[:1]
    return "~" + " ".join(shown)


def describe_budget(cases: Sequence[Case], retries: int = 0) -> str:
    """The cases' time budget in words, for `validate` and the start of `run`. With `retries`
    (run's --retry-noisy) every case may be measured that many times more, if all are noisy."""
    seconds = human_duration(worst_case_seconds(cases) * (1 + retries))
    retried = {0: "", 1: " with noisy cases retried once"}.get(
        retries, f" with noisy cases retried up to {retries} times"
    )
    return f"worst case {seconds} of warm-up and sampling{retried}, plus setup and first calls"
