"""The workload plug-in API.

A workload is a family of computations with parameters. It owns everything that must be the
same for all of its implementations — input data, the float64 reference answer, flop and byte
counts, memory footprint — so that implementations differ only in how they compute, and every
one is checked against the same reference before it is timed.

A user workload is a subclass; a suite names it as `module:ClassName`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

# Part of the workload API (`from labench import SkipCase`); defined with the other errors.
from labench.core.errors import SkipCase as SkipCase

Params = Mapping[str, Any]
Inputs = Mapping[str, Any]


@dataclass(frozen=True)
class Param:
    """One parameter of a workload: its default and what values make sense.

    `positive` and `minimum` exist so impossible sizes are rejected while the suite is read,
    with the file and line, rather than as an exception deep inside a kernel.
    """

    default: Any
    kind: type = int
    positive: bool = False
    minimum: float | None = None
    choices: tuple[Any, ...] | None = None
    optional: bool = False
    help: str = ""
    in_key_at_default: bool = True
    """False for a parameter added after results were kept: left at its default it is not
    written into the case key, so the keys of earlier runs still match (see `Case.data_key`)."""

    def describe(self) -> str:
        """What the suite must give, worded for an error message."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(choice) for choice in self.choices)
        noun = {int: "integer", float: "number", str: "string", bool: "boolean"}[self.kind]
        if self.positive:
            noun = f"positive {noun}"
        elif self.minimum is not None:
            noun = f"{noun} >= {self.minimum:g}"
        article = "an" if noun[0] in "aeiou" else "a"
        return f"{article} {noun}" + (" or null" if self.optional else "")

    def accepts(self, value: Any) -> bool:
        """Whether one (non-list) value is valid for this parameter."""
        if value is None:
            return self.optional
        if self.choices is not None:
            return value in self.choices
        if self.kind is float:
            valid = isinstance(value, int | float) and not isinstance(value, bool)
            # finite as a float too (np.isfinite raised TypeError on an integer beyond 64 bits)
            valid = valid and abs(value) <= sys.float_info.max
        else:
            valid = isinstance(value, self.kind) and not (
                self.kind is int and isinstance(value, bool)
            )
            # a size numpy can hold: beyond it, footprints overflow the floats that word them
            valid = valid and (self.kind is not int or abs(value) < 2**63)
        if valid and self.positive:
            valid = value > 0
        if valid and self.minimum is not None:
            valid = value >= self.minimum
        return valid


class WrongAnswer(Exception):
    """Raised by an implementation whose own sanity check failed: the case is `wrong`."""


@dataclass
class Kernel:
    """What an implementation hands the runner: the zero-argument call that gets timed.

    Preparation (moving data to a device, factoring a matrix, compiling) happens before the
    Kernel exists, so it never lands in the timed region; its cost can be reported in `metrics`.
    `to_host` turns the call's output into a NumPy array for the correctness check.

    `expected` is for deliberate approximations (a low-rank product): the exact float64 answer
    of the approximation itself. The output is then checked against it rather than against the
    workload's reference, so a kernel that is fast because it is broken is still caught, while
    the distance to the reference is reported as a metric of the approximation.
    """

    run: Callable[[], Any]
    metrics: dict[str, float] = field(default_factory=dict)
    to_host: Callable[[Any], np.ndarray] = np.asarray
    expected: np.ndarray | None = None
    error_in_place: Callable[[Any], float] | None = None
    """For an output too large for this host (see `at_scale`): its relative error, worked out
    where it was computed against a float64 check, instead of a host reference."""


Prepare = Callable[[Any, Inputs, Params], "Kernel | Callable[[], Any]"]
PrepareAtScale = Callable[[Any, Params, np.dtype, int], Kernel]
"""(workload, params, dtype, seed) -> Kernel: see `at_scale`."""


@dataclass(frozen=True)
class Implementation:
    """A named way to compute a workload, bound to the backend that must be available for it."""

    name: str
    backend: str
    prepare: Prepare
    tolerance: float | None = None
    summary: str = ""
    opt_in: bool = False
    """Runs only in a benchmark that lists it: a benchmark without an `implementations` list
    keeps running what it ran before this implementation existed (dask needs a cluster)."""
    at_scale: PrepareAtScale | None = None
    """How it runs a case whose data this host cannot hold, if it can (see `at_scale`)."""


def implementation(
    backend: str = "numpy",
    *,
    name: str | None = None,
    tolerance: float | None = None,
    opt_in: bool = False,
) -> Callable[[Prepare], Prepare]:
    """Mark a workload method as an implementation.

    The method receives the inputs and parameters and returns a `Kernel` or a bare zero-argument
    callable; its docstring's first line becomes the summary shown by `labench list`.
    """

    def mark(prepare: Prepare) -> Prepare:
        summary = (prepare.__doc__ or "").strip().splitlines()[0:1]
        _tag(
            prepare,
            "__labench_implementation__",
            Implementation(
                name=name or prepare.__name__,
                backend=backend,
                prepare=prepare,
                tolerance=tolerance,
                summary=summary[0] if summary else "",
                opt_in=opt_in,
            ),
        )
        return prepare

    return mark


def at_scale(name: str) -> Callable[[PrepareAtScale], PrepareAtScale]:
    """Mark a workload method as the way implementation `name` runs a case whose inputs this
    host cannot hold, on a backend that computes elsewhere (a dask cluster, backends.base
    `ComputesElsewhere`): it gets the parameters, the dtype and a seed instead of inputs, builds
    the inputs where its backend computes, and returns a Kernel whose `error_in_place` checks
    the output there. The workload's `footprint_at_scale` says what that needs."""

    def mark(prepare: PrepareAtScale) -> PrepareAtScale:
        _tag(prepare, "__labench_at_scale__", name)
        return prepare

    return mark


def _tag(method: Callable[..., Any], attribute: str, value: object) -> None:
    """Mark a method for `Workload.__init_subclass__`, which reads it back with getattr: an
    attribute of a function object, which its Callable type does not declare."""
    setattr(method, attribute, value)


class Workload:
    """Base class of every workload. Subclasses set `name` and `params`, and override
    `make_inputs` and `reference`; they should also give `flops`, `bytes_moved` and `footprint`
    so the report can show rates and the runner can refuse cases that cannot fit in memory.
    """

    name: str = ""
    """Set by each subclass; `load_workload` names an instance loaded without one."""
    summary: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Param]] = {}
    dtypes: ClassVar[tuple[str, ...]] = ("float64", "float32")
    dtypes_reason: ClassVar[str] = ""
    """Why the other types are left out; a case asking for one is skipped with it."""
    implementations: ClassVar[dict[str, Implementation]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Implementation] = {}
        for klass in reversed(cls.__mro__):
            for attribute in vars(klass).values():
                marked = getattr(attribute, "__labench_implementation__", None)
                if marked is not None:
                    found[marked.name] = marked
        for klass in reversed(cls.__mro__):
            for attribute in vars(klass).values():
                scaled = getattr(attribute, "__labench_at_scale__", None)
                if scaled in found:
                    found[scaled] = replace(found[scaled], at_scale=attribute)
        # opt-in ones last, so a mixin's never comes first (a default baseline, `labench list`)
        cls.implementations = dict(sorted(found.items(), key=lambda item: item[1].opt_in))

    def resolve_params(self, given: Params) -> dict[str, Any]:
        """The given parameters with the declared defaults filled in, in declaration order."""
        return {name: given.get(name, spec.default) for name, spec in self.params.items()}

    def make_inputs(self, params: Params, dtype: np.dtype, rng: np.random.Generator) -> Inputs:
        """Random, never all-zero input arrays in `dtype`, from the seeded generator."""
        raise NotImplementedError(f"{type(self).__name__} must define make_inputs")

    def reference(self, inputs: Inputs, params: Params) -> np.ndarray:
        """The answer computed in float64, against which every implementation is checked."""
        raise NotImplementedError(f"{type(self).__name__} must define reference")

    def impossible(self, params: Params) -> str | None:
        """Why this combination of parameters cannot run (a constraint between parameters,
        which `Param` cannot express), so the suite is refused with its line; None if it can."""
        return None

    def flops(self, params: Params) -> float | None:
        """Floating-point operations of one call, for GFLOP/s; None when it means nothing."""
        return None

    def bytes_moved(self, params: Params, itemsize: int) -> float | None:
        """Minimum bytes one call must read and write, for GB/s."""
        return None

    def bytes_written(self, params: Params, itemsize: int) -> float | None:
        """How many of `bytes_moved` are writes, so the roofline can pick the matching memory
        roof (a read-only stream is faster than a copy); None when unknown (copy roof)."""
        return None

    def footprint(self, params: Params, itemsize: int) -> int | None:
        """Bytes the case holds at once (inputs, outputs, float64 reference); None if unknown."""
        return None

    def footprint_at_scale(self, params: Params, itemsize: int) -> int | None:
        """Bytes an `at_scale` implementation holds where it computes (inputs and output, no
        host reference); None when the workload has no such implementation."""
        return None

    def tolerance(self, params: Params, dtype: np.dtype) -> float:
        """Largest relative error (Frobenius norm) that still counts as a correct answer.

        The default allows rounding error that grows with the amount of data but stays far below
        what a wrong kernel produces (an error of order 1).
        """
        return 1e-10 if dtype == np.float64 else 1e-4

    def error(self, output: np.ndarray, reference: np.ndarray) -> float:
        """Relative error of an output against the reference, in float64."""
        difference = np.linalg.norm(np.asarray(output, dtype=np.float64) - reference)
        scale = np.linalg.norm(reference)
        return float(difference / scale) if scale > 0 else float(difference)
