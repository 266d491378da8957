"""Suites: YAML -> validated model -> the list of cases to run.

Validation happens in two passes, both reporting `file:line:column: where: what was expected`:
the structure (keys, types, ranges) through pydantic models, which also give the JSON Schema
that `labench schema` prints for editors; then the meaning (workloads, implementations,
parameters, baselines, claims) against the workload registry.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from labench.backends import BACKENDS
from labench.environment import total_memory
from labench.errors import InputError
from labench.threads import resolve_threads
from labench.workloads import BUILTIN, Workload, WorkloadNotFound, load_workload
from labench.yamlsource import SourceMap, ValuePath, load_yaml

FORMAT_VERSION = 1
DTYPES = ("float64", "float32")
ThreadSpec = int | Literal["max"]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _threads(value: Any) -> tuple[ThreadSpec, ...]:
    items = _as_list(value)
    if not items or not all(
        item == "max" or (isinstance(item, int) and not isinstance(item, bool) and item > 0)
        for item in items
    ):
        raise PydanticCustomError(
            "labench",
            "expected a positive integer, 'max', or a list of them, got {got}",
            {"got": repr(value)},
        )
    return tuple(dict.fromkeys(items))


def _dtypes(value: Any) -> tuple[str, ...]:
    items = _as_list(value)
    if not items or not all(item in DTYPES for item in items):
        raise PydanticCustomError(
            "labench",
            "expected one of {known} or a list of them, got {got}",
            {"known": ", ".join(DTYPES), "got": repr(value)},
        )
    return tuple(dict.fromkeys(items))


Threads = Annotated[
    tuple[ThreadSpec, ...],
    BeforeValidator(_threads),
    WithJsonSchema(
        {
            "description": "thread counts to sweep; 'max' means every usable core",
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"const": "max"},
                {
                    "type": "array",
                    "items": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "max"}]},
                },
            ],
        }
    ),
]
Dtypes = Annotated[
    tuple[str, ...],
    BeforeValidator(_dtypes),
    WithJsonSchema(
        {
            "description": "floating-point types to sweep",
            "anyOf": [{"enum": list(DTYPES)}, {"type": "array", "items": {"enum": list(DTYPES)}}],
        }
    ),
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", max_length=80)]
ParamValue = Any


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Measurement(_Strict):
    """How each case is measured; suite `defaults` and each benchmark may set any of these."""

    threads: Threads | None = None
    dtype: Dtypes | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    max_time: Annotated[float, Field(gt=0, description="seconds of sampling per case")] | None = (
        None
    )
    target_rel_ci: (
        Annotated[
            float, Field(gt=0, lt=1, description="stop once the 95% CI of the median is this tight")
        ]
        | None
    ) = None
    min_samples: Annotated[int, Field(ge=3, le=100_000)] | None = None
    warmup: Annotated[float, Field(ge=0, description="seconds of warm-up calls")] | None = None


MEASUREMENT_DEFAULTS = Measurement(
    threads=(1,),
    dtype=("float64",),
    seed=0,
    max_time=1.0,
    target_rel_ci=0.02,
    min_samples=5,
    warmup=0.05,
)


class Benchmark(Measurement):
    id: Identifier
    workload: str
    description: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    implementations: list[str] | None = Field(default=None, min_length=1)
    baseline: str | None = None


class Speedup(_Strict):
    of: str
    over: str


class MetricOf(_Strict):
    name: str
    of: str


class MetricRatio(_Strict):
    metric: str
    of: str
    over: str


class Claim(_Strict):
    """A statement checked against the run: a speedup, a metric, or a ratio of metrics, bounded
    by `at_least` and/or `at_most`. A small closed structure on purpose: no user expressions."""

    id: Identifier
    text: str
    benchmark: str
    where: dict[str, ParamValue] = Field(default_factory=dict)
    speedup: Speedup | None = None
    metric: MetricOf | None = None
    ratio: MetricRatio | None = None
    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_comparison_and_a_bound(self) -> Claim:
        given = [name for name in ("speedup", "metric", "ratio") if getattr(self, name)]
        if len(given) != 1:
            raise PydanticCustomError(
                "labench",
                "expected exactly one of 'speedup', 'metric' or 'ratio', got {got}",
                {"got": ", ".join(given) or "none"},
            )
        if self.at_least is None and self.at_most is None:
            raise PydanticCustomError("labench", "expected a bound: 'at_least' and/or 'at_most'")
        return self


class SuiteModel(_Strict):
    labench: Literal[1] = Field(description="suite format version")
    name: Identifier
    description: str | None = None
    defaults: Measurement = Field(default_factory=Measurement)
    benchmarks: list[Benchmark] = Field(min_length=1)
    claims: list[Claim] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass(frozen=True)
class Settings:
    """The measurement settings of one case, every field resolved."""

    max_time: float
    target_rel_ci: float
    min_samples: int
    warmup: float


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

    @property
    def threads(self) -> int:
        return resolve_threads(self.threads_spec)

    @property
    def backend(self) -> str:
        return self.workload.implementations[self.implementation].backend

    @property
    def group_key(self) -> str:
        """Cases that differ only by implementation share it; speedups are taken inside it."""
        params = ",".join(f"{name}={value}" for name, value in self.params.items())
        return f"{self.benchmark}/{params}/{self.dtype}/t{self.threads_spec}"

    @property
    def data_key(self) -> str:
        """Cases that share input data (same benchmark, parameters and dtype)."""
        return self.group_key.rsplit("/", 1)[0]

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
            merged = _merge(MEASUREMENT_DEFAULTS, self.model.defaults, benchmark, overrides)
            settings = Settings(
                max_time=merged.max_time,
                target_rel_ci=merged.target_rel_ci,
                min_samples=merged.min_samples,
                warmup=merged.warmup,
            )
            implementations = benchmark.implementations or list(workload.implementations)
            for point in _sweep(benchmark.params):
                params = workload.resolve_params(point)
                for dtype, threads, implementation in itertools.product(
                    merged.dtype, _distinct_threads(merged.threads), implementations
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
                        )
                    )
        return cases

    def baseline(self, benchmark_id: str) -> str:
        benchmark = next(b for b in self.model.benchmarks if b.id == benchmark_id)
        implementations = benchmark.implementations or list(
            self.workloads[benchmark_id].implementations
        )
        return benchmark.baseline or implementations[0]


def _merge(*layers: Measurement | None) -> Measurement:
    values: dict[str, Any] = {}
    for layer in layers:
        if layer is not None:
            values.update(
                {
                    name: getattr(layer, name)
                    for name in Measurement.model_fields
                    if getattr(layer, name) is not None
                }
            )
    return Measurement.model_construct(**values)


def _sweep(params: dict[str, Any]) -> Iterable[dict[str, Any]]:
    names = list(params)
    for values in itertools.product(*(_as_list(params[name]) for name in names)):
        yield dict(zip(names, values, strict=True))


def _distinct_threads(specs: Sequence[ThreadSpec]) -> list[ThreadSpec]:
    """Drop specs that resolve to a count already listed ('max' on a 2-core machine is 2)."""
    seen: dict[int, ThreadSpec] = {}
    for spec in specs:
        seen.setdefault(resolve_threads(spec), spec)
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Loading and validation


def load_suite(path: Path) -> Suite:
    """Read, validate and resolve a suite file; raise InputError listing every problem found."""
    data, source = load_yaml(path)
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
        raise InputError(
            [_structure_problem(issue, data, source) for issue in error.errors()]
        ) from None
    workloads, problems = _check_meaning(model, source, path.parent)
    if problems:
        raise InputError(problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Suite(path=path, sha256=digest, model=model, workloads=workloads, source=source)


def _dotted(path: ValuePath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "suite"


def _structure_problem(issue: Any, data: Any, source: SourceMap) -> str:
    """Word one pydantic error as `file:line:col: path: expected ..., got ...`."""
    path: ValuePath = tuple(part for part in issue["loc"] if not _is_validator_tag(part))
    kind = issue["type"]
    if kind == "extra_forbidden":
        parent, key = path[:-1], path[-1]
        allowed = _allowed_keys(data, parent)
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return (
            f"{source.key(path)}: {_dotted(parent)}: unknown key {key!r}{suggestion} "
            f"(expected one of: {', '.join(allowed)})"
        )
    if kind == "missing":
        return f"{source.value(path)}: {_dotted(path[:-1])}: missing required key {path[-1]!r}"
    message = issue["msg"]
    if kind == "labench":
        return f"{source.value(path)}: {_dotted(path)}: {message}"
    if message.startswith("Input should be "):
        message = "expected " + message.removeprefix("Input should be ")
    elif message.startswith("String should "):
        message = "expected a string that should " + message.removeprefix("String should ")
    else:
        message = message[0].lower() + message[1:]
    return f"{source.value(path)}: {_dotted(path)}: {message}, got {issue['input']!r}"


def _is_validator_tag(part: Any) -> bool:
    """pydantic puts union-member and validator names into error paths; they are no keys."""
    return isinstance(part, str) and (
        part.startswith(("function-", "literal[")) or part in ("int", "float", "str")
    )


def _allowed_keys(data: Any, parent: ValuePath) -> list[str]:
    model: type[BaseModel] = SuiteModel
    for part in parent:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        nested = _model_in(annotation)
        if nested is None:
            return []
        model = nested
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _suggest(name: str, known: Iterable[str]) -> str:
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}known: {', '.join(known)}"


def _check_meaning(
    model: SuiteModel, source: SourceMap, suite_dir: Path
) -> tuple[dict[str, Workload], list[str]]:
    problems: list[str] = []
    workloads: dict[str, Workload] = {}
    seen_ids: dict[str, int] = {}
    for index, benchmark in enumerate(model.benchmarks):
        at: ValuePath = ("benchmarks", index)
        if benchmark.id in seen_ids:
            problems.append(
                f"{source.value((*at, 'id'))}: {_dotted((*at, 'id'))}: duplicate benchmark id "
                f"{benchmark.id!r} (also benchmarks[{seen_ids[benchmark.id]}])"
            )
            continue
        seen_ids[benchmark.id] = index
        try:
            workload = load_workload(benchmark.workload, suite_dir)
        except WorkloadNotFound as error:
            known = (
                "" if ":" in benchmark.workload else "; " + _suggest(benchmark.workload, BUILTIN)
            )
            problems.append(
                f"{source.value((*at, 'workload'))}: {_dotted((*at, 'workload'))}: {error}"
                f"{known} (a user workload is written 'module:ClassName')"
            )
            continue
        benchmark_problems = _check_benchmark(benchmark, workload, source, at)
        problems += benchmark_problems
        if not benchmark_problems:
            workloads[benchmark.id] = workload
    for index, claim in enumerate(model.claims):
        problems += _check_claim(claim, model, workloads, source, ("claims", index))
    if not problems:
        problems += _check_memory(model, workloads, source)
    return workloads, problems


def _check_benchmark(
    benchmark: Benchmark, workload: Workload, source: SourceMap, at: ValuePath
) -> list[str]:
    problems: list[str] = []
    for name, value in benchmark.params.items():
        where = (*at, "params", name)
        spec = workload.params.get(name)
        if spec is None:
            problems.append(
                f"{source.key(where)}: {_dotted(where)}: unknown parameter {name!r} of "
                f"{workload.name}; "
                f"{_suggest(name, workload.params) if workload.params else 'it takes none'}"
            )
            continue
        values = _as_list(value)
        bad = next((i for i, item in enumerate(values) if not spec.accepts(item)), None)
        if not values or bad is not None:
            place = source.value(
                (*where, bad) if isinstance(value, list) and bad is not None else where
            )
            got = value if bad is None else values[bad]
            problems.append(
                f"{place}: {_dotted(where)}: expected {spec.describe()} "
                f"or a list of them, got {got!r}"
            )
    implementations = benchmark.implementations or list(workload.implementations)
    for position, name in enumerate(benchmark.implementations or []):
        where = (*at, "implementations", position)
        if name not in workload.implementations:
            problems.append(
                f"{source.value(where)}: {_dotted(where)}: unknown implementation {name!r} of "
                f"{workload.name}; {_suggest(name, workload.implementations)}"
            )
    for dtype in benchmark.dtype or ():
        if dtype not in workload.dtypes:
            problems.append(
                f"{source.value((*at, 'dtype'))}: {_dotted((*at, 'dtype'))}: {workload.name} "
                f"supports {', '.join(workload.dtypes)}, got {dtype!r}"
            )
    if benchmark.baseline is not None and benchmark.baseline not in implementations:
        problems.append(
            f"{source.value((*at, 'baseline'))}: {_dotted((*at, 'baseline'))}: baseline "
            f"{benchmark.baseline!r} is not among the implementations of this benchmark "
            f"({', '.join(implementations)})"
        )
    for implementation in workload.implementations.values():
        if implementation.backend not in BACKENDS:
            problems.append(
                f"{source.value((*at, 'workload'))}: {workload.name}: implementation "
                f"{implementation.name!r} needs backend {implementation.backend!r}; "
                f"known backends: {', '.join(sorted(BACKENDS))}"
            )
    return problems


def _check_claim(
    claim: Claim,
    model: SuiteModel,
    workloads: dict[str, Workload],
    source: SourceMap,
    at: ValuePath,
) -> list[str]:
    benchmark = next((b for b in model.benchmarks if b.id == claim.benchmark), None)
    if benchmark is None:
        return [
            f"{source.value((*at, 'benchmark'))}: {_dotted((*at, 'benchmark'))}: unknown "
            f"benchmark {claim.benchmark!r}; "
            f"{_suggest(claim.benchmark, [b.id for b in model.benchmarks])}"
        ]
    workload = workloads.get(benchmark.id)
    if workload is None:
        return []
    implementations = benchmark.implementations or list(workload.implementations)
    problems = []
    comparison = claim.speedup or claim.metric or claim.ratio
    comparison_key = "speedup" if claim.speedup else "metric" if claim.metric else "ratio"
    for role in ("of", "over"):
        name = getattr(comparison, role, None)
        if name is not None and name not in implementations:
            where = (*at, comparison_key, role)
            problems.append(
                f"{source.value(where)}: {_dotted(where)}: {name!r} is not an implementation "
                f"of benchmark {benchmark.id!r} ({', '.join(implementations)})"
            )
    selectable = [*workload.params, "threads", "dtype"]
    for name in claim.where:
        if name not in selectable:
            where = (*at, "where", name)
            problems.append(
                f"{source.key(where)}: {_dotted(where)}: cannot select on {name!r}; "
                f"{_suggest(name, selectable)}"
            )
    return problems


def _check_memory(
    model: SuiteModel, workloads: dict[str, Workload], source: SourceMap
) -> list[str]:
    """Refuse sizes no run on this machine could hold, while we can still point at the line."""
    limit = total_memory()
    problems = []
    for index, benchmark in enumerate(model.benchmarks):
        workload = workloads[benchmark.id]
        dtypes = _merge(MEASUREMENT_DEFAULTS, model.defaults, benchmark).dtype
        for point in _sweep(benchmark.params):
            params = workload.resolve_params(point)
            for dtype in dtypes:
                need = workload.footprint(params, np.dtype(dtype).itemsize)
                if need is not None and need > limit:
                    where = ("benchmarks", index, "params")
                    problems.append(
                        f"{source.value(where)}: {_dotted(where)}: {params} in {dtype} needs "
                        f"{need / 2**30:.1f} GiB, more than this machine's "
                        f"{limit / 2**30:.1f} GiB of memory"
                    )
    return problems
