"""The suite format as pydantic models: the structure a suite file must have.

pydantic checks keys, types and ranges and gives the JSON Schema `labench schema` prints; the
sweep fields use validators of their own so their messages read "expected ..., got ...".
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from labench.core.dtypes import DEFAULT_MATH, DTYPES, MATH_MODES
from labench.core.errors import shown
from labench.core.threshold import MAX_THRESHOLD, threshold_fraction
from labench.results.model import MAX_REASON

if TYPE_CHECKING:
    from labench.workloads import Workload

FORMAT_VERSION = 1
MAX_CASES = 100_000
"""The most a suite's `max_cases` may allow: 100,000 cases are over a day of sampling at the
default settings, and loading a suite costs about ten microseconds a case (its sweep's points
are checked, its cases made), so a second at this limit. A larger limit would let one line make
loading, let alone running, last for days."""
CACHE_MODES = ("warm", "cold")
CacheMode = Literal["warm", "cold"]
ThreadSpec = int | Literal["max"]


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _threads(value: Any) -> tuple[ThreadSpec, ...]:
    items = as_list(value)
    if not items or not all(
        item == "max" or (isinstance(item, int) and not isinstance(item, bool) and item > 0)
        for item in items
    ):
        raise PydanticCustomError(
            "labench",
            "expected a positive integer, 'max', or a list of them, got {got}",
            {"got": shown(value)},
        )
    return tuple(dict.fromkeys(items))


def _choices(known: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    """A validator for a field that takes one of `known` or a list of them (a swept axis)."""

    def validate(value: Any) -> tuple[str, ...]:
        items = as_list(value)
        if not items or not all(isinstance(item, str) and item in known for item in items):
            raise PydanticCustomError(
                "labench",
                "expected one of {known} or a list of them, got {got}",
                {"known": ", ".join(known), "got": shown(value)},
            )
        return tuple(dict.fromkeys(items))

    return validate


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
                    "minItems": 1,
                },
            ],
        }
    ),
]
Dtypes = Annotated[
    tuple[str, ...],
    BeforeValidator(_choices(DTYPES)),
    WithJsonSchema(
        {
            "description": "floating-point types to sweep",
            "anyOf": [
                {"enum": list(DTYPES)},
                {"type": "array", "items": {"enum": list(DTYPES)}, "minItems": 1},
            ],
        }
    ),
]
MathModes = Annotated[
    tuple[str, ...],
    BeforeValidator(_choices(MATH_MODES)),
    WithJsonSchema(
        {
            "description": "float32 products on the GPU: ieee, or tf32 tensor cores; to sweep",
            "anyOf": [
                {"enum": list(MATH_MODES)},
                {"type": "array", "items": {"enum": list(MATH_MODES)}, "minItems": 1},
            ],
        }
    ),
]
Caches = Annotated[
    tuple[CacheMode, ...],
    BeforeValidator(_choices(CACHE_MODES)),
    WithJsonSchema(
        {
            "description": "warm: calls back to back (data stays in cache); cold: the "
            "last-level cache (GPU L2) is evicted before every timed call; a list sweeps both",
            "anyOf": [
                {"enum": list(CACHE_MODES)},
                {"type": "array", "items": {"enum": list(CACHE_MODES)}, "minItems": 1},
            ],
        }
    ),
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", max_length=80)]
ParamValue = Any


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Measurement(_Strict):
    """How each case is measured; suite `defaults` and each benchmark may set any of these."""

    threads: Threads | None = None
    dtype: Dtypes | None = None
    math: MathModes | None = None
    cache: Caches | None = None
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
    tolerance: (
        Annotated[
            float,
            Field(
                gt=0,
                description="relative error beyond which an answer is wrong; "
                "default: each implementation's own",
            ),
        ]
        | None
    ) = None
    timeout: (
        Annotated[
            float,
            Field(gt=0, description="seconds a case may take before it is killed (--isolate)"),
        ]
        | None
    ) = None
    throttle_threshold: (
        Annotated[
            float,
            Field(
                gt=0,
                le=1,
                description="a GPU case whose SM clock falls below this share of its maximum "
                "while sampled is flagged throttled",
            ),
        ]
        | None
    ) = None


MEASUREMENT_DEFAULTS = Measurement(
    threads=(1,),
    dtype=("float64",),
    math=(DEFAULT_MATH,),
    cache=("warm",),
    seed=0,
    max_time=1.0,
    target_rel_ci=0.02,
    min_samples=5,
    warmup=0.05,
    throttle_threshold=0.75,  # nvbench's default: a clock below 3/4 of its top is no longer boost
)


def _threshold(value: Any) -> float:
    """The forms `--threshold` takes (10%, 0.1), read by the same leaf."""
    try:
        return threshold_fraction(value)
    except ValueError as error:
        raise PydanticCustomError("labench", "{message}", {"message": str(error)}) from None


Threshold = Annotated[
    float,
    BeforeValidator(_threshold),
    WithJsonSchema(
        {
            "description": "slowdown that counts for this benchmark, as --threshold takes it: "
            "a percentage such as '15%' or a fraction such as 0.15",
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[0-9.eE+-]+%?\s*$"},
                {"type": "number", "minimum": 0, "exclusiveMaximum": MAX_THRESHOLD},
            ],
        }
    ),
]


class Gate(_Strict):
    """How `run --baseline` and `compare` gate this benchmark: with a threshold of its own
    (the command line's `--threshold` stays the default for the others), or not at all, for a
    reason that every gate prints. A benchmark that is excluded is still measured and shown."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    threshold: Threshold | None = None
    exclude: (
        Annotated[
            str,
            Field(
                min_length=1,
                max_length=MAX_REASON,
                description="why this benchmark is measured but never gated; printed with "
                "its cases",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _one_of_them(self) -> Gate:
        if (self.threshold is None) == (self.exclude is None):
            raise PydanticCustomError(
                "labench",
                "expected exactly one of 'threshold' (e.g. 15%) or 'exclude' (the reason it is "
                "not gated), got {got}",
                {"got": "both" if self.threshold is not None else "neither"},
            )
        return self


def _gate(value: Any) -> Any:
    """A gate setting is a mapping; anything else gets a message that shows both forms."""
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "labench",
            "expected a mapping: {threshold: 15%} for a threshold of its own, or {exclude: why} "
            "to measure it without gating it, got {got}",
            {"got": shown(value)},
        )
    return value


class Benchmark(Measurement):
    id: Identifier
    workload: str
    description: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    implementations: list[str] | None = Field(default=None, min_length=1)
    baseline: str | None = None
    gate: Annotated[Gate, BeforeValidator(_gate)] | None = None

    def implementation_names(self, workload: Workload) -> list[str]:
        """The implementations this benchmark runs: those listed, else all of the workload's
        that are not opt-in."""
        return self.implementations or [
            name for name, found in workload.implementations.items() if not found.opt_in
        ]


def _one_thread_spec(value: Any) -> ThreadSpec:
    if value != "max" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise PydanticCustomError(
            "labench", "expected a positive integer or 'max', got {got}", {"got": shown(value)}
        )
    spec: ThreadSpec = value
    return spec


class Pick(_Strict):
    """One side of a claim: an implementation, optionally at a given thread count, dtype or
    math mode, so a claim can compare one implementation with itself across threads (all cores
    over one core) or precisions (bfloat16 over float32 on the GPU)."""

    implementation: str
    threads: Annotated[ThreadSpec, BeforeValidator(_one_thread_spec)] | None = None
    dtype: Literal["float64", "float32", "float16", "bfloat16"] | None = None
    math: Literal["ieee", "tf32"] | None = None


def _side(value: Any) -> Any:
    """A bare name is shorthand for {implementation: name}."""
    if isinstance(value, str):
        return {"implementation": value}
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "labench",
            "expected an implementation name or a mapping with 'implementation' and "
            "optionally 'threads', 'dtype' and 'math', got {got}",
            {"got": shown(value)},
        )
    return value


Side = Annotated[
    Pick,
    BeforeValidator(_side),
    WithJsonSchema(
        {
            "description": "an implementation name, or {implementation, threads}",
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "implementation": {"type": "string"},
                        "threads": {"anyOf": [{"type": "integer", "minimum": 1}, {"const": "max"}]},
                        "dtype": {"enum": list(DTYPES)},
                        "math": {"enum": list(MATH_MODES)},
                    },
                    "required": ["implementation"],
                    "additionalProperties": False,
                },
            ],
        }
    ),
]


class Speedup(_Strict):
    """time(over) / time(of): above 1 when `of` is faster."""

    of: Side
    over: Side


class MetricOf(_Strict):
    """A metric of one implementation; 'time' is the median time, 'first_call' the cold call."""

    name: str
    of: Side


class MetricRatio(_Strict):
    """metric(of) / metric(over)."""

    metric: str
    of: Side
    over: Side


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

    @property
    def comparison(self) -> Speedup | MetricOf | MetricRatio:
        comparison = self.speedup or self.metric or self.ratio
        assert comparison is not None, "the validator requires exactly one comparison"
        return comparison

    @property
    def comparison_key(self) -> str:
        return "speedup" if self.speedup else "metric" if self.metric else "ratio"

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
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise PydanticCustomError(
                "labench",
                "expected at_least <= at_most, got {low} > {high}: no value could hold",
                {"low": self.at_least, "high": self.at_most},
            )
        return self


class SuiteModel(_Strict):
    labench: Literal[1] = Field(description="suite format version")
    name: Identifier
    description: str | None = None
    max_cases: (
        Annotated[
            int,
            Field(
                ge=1,
                le=MAX_CASES,
                description="cases the suite may hold; default 10,000 (a guard on sweeps)",
            ),
        ]
        | None
    ) = None
    defaults: Measurement = Field(default_factory=Measurement)
    benchmarks: list[Benchmark] = Field(min_length=1)
    claims: list[Claim] = Field(default_factory=list)


def merge(*layers: Measurement | None) -> Measurement:
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


_T = TypeVar("_T")


def _given(value: _T | None) -> _T:
    assert value is not None, "MEASUREMENT_DEFAULTS gives it, and merge never unsets a field"
    return value


@dataclass(frozen=True)
class Resolved:
    """The measurement settings of a benchmark once merged over MEASUREMENT_DEFAULTS: every
    field given, but `tolerance` and `timeout`, which have no default."""

    threads: tuple[ThreadSpec, ...]
    dtype: tuple[str, ...]
    math: tuple[str, ...]
    cache: tuple[CacheMode, ...]
    seed: int
    max_time: float
    target_rel_ci: float
    min_samples: int
    warmup: float
    tolerance: float | None
    timeout: float | None
    throttle_threshold: float


def resolve(*layers: Measurement | None) -> Resolved:
    """`merge` of the layers over MEASUREMENT_DEFAULTS, typed as what it then is."""
    merged = merge(MEASUREMENT_DEFAULTS, *layers)
    return Resolved(
        threads=_given(merged.threads),
        dtype=_given(merged.dtype),
        math=_given(merged.math),
        cache=_given(merged.cache),
        seed=_given(merged.seed),
        max_time=_given(merged.max_time),
        target_rel_ci=_given(merged.target_rel_ci),
        min_samples=_given(merged.min_samples),
        warmup=_given(merged.warmup),
        tolerance=merged.tolerance,
        timeout=merged.timeout,
        throttle_threshold=_given(merged.throttle_threshold),
    )


def sweep(params: dict[str, Any]) -> Iterable[dict[str, Any]]:
    names = list(params)
    for values in itertools.product(*(as_list(params[name]) for name in names)):
        yield dict(zip(names, values, strict=True))
