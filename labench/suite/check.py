"""Suite checks beyond structure, and the wording of every suite problem.

Each problem is one line `file:line:column: where: what was expected, got what`, placed with
the source map so an editor can jump to it; close matches are suggested for misspelt names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from labench.backends import BACKENDS, ComputesElsewhere, availability
from labench.core.dtypes import ITEMSIZE
from labench.core.errors import shown, shown_name
from labench.core.host import total_memory
from labench.suite.model import Benchmark, Claim, SuiteModel, as_list, resolve, sweep
from labench.suite.size import case_count_problems
from labench.suite.yamlsource import SourceMap, ValuePath
from labench.workloads import BUILTIN, Workload, WorkloadNotFound, load_workload


def _dotted(path: ValuePath) -> str:
    text = ""
    for part in path:
        name = shown_name(part)
        text += f"[{part}]" if isinstance(part, int) else (f".{name}" if text else name)
    return text or "suite"


def structure_problem(issue: Any, source: SourceMap) -> str:
    """Word one pydantic error as `file:line:col: path: expected ..., got ...`."""
    path: ValuePath = tuple(issue["loc"])
    kind = issue["type"]
    if kind == "extra_forbidden":
        parent, key = path[:-1], path[-1]
        allowed = _allowed_keys(parent)
        hint = difflib.get_close_matches(str(key), allowed, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return (
            f"{source.key(path)}: {_dotted(parent)}: unknown key {shown(key)}{suggestion} "
            f"(expected one of: {', '.join(allowed)})"
        )
    if kind == "missing":
        return f"{source.value(path)}: {_dotted(path[:-1])}: missing required key {shown(path[-1])}"
    message = issue["msg"]
    if kind == "labench":
        return f"{source.value(path)}: {_dotted(path)}: {message}"
    if message.startswith("Input should be "):
        message = "expected " + message.removeprefix("Input should be ")
    elif message.startswith("String should "):
        message = "expected a string that should " + message.removeprefix("String should ")
    else:
        message = message[0].lower() + message[1:]
    return f"{source.value(path)}: {_dotted(path)}: {message}, got {shown(issue['input'])}"


def _allowed_keys(parent: ValuePath) -> list[str]:
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
    return f"{hint}known: {_listed(known)}"


def _listed(names: list[str], most: int = 20) -> str:
    """Names from the suite or the registry, as a message lists them: each readable, and not
    hundreds (a suite may list an implementation a thousand times)."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(shown_name(name) for name in names[:most]) + more


def check_meaning(
    model: SuiteModel, source: SourceMap, suite_dir: Path | None
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
        problems += case_count_problems(model, workloads, source)
    if not problems:
        problems += _check_points(model, workloads, source)
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
                f"{source.key(where)}: {_dotted(where)}: unknown parameter {shown(name)} of "
                f"{workload.name}; "
                f"{_suggest(name, workload.params) if workload.params else 'it takes none'}"
            )
            continue
        values = as_list(value)
        bad = next((i for i, item in enumerate(values) if not spec.accepts(item)), None)
        if not values or bad is not None:
            place = source.value(
                (*where, bad) if isinstance(value, list) and bad is not None else where
            )
            got = value if bad is None else values[bad]
            problems.append(
                f"{place}: {_dotted(where)}: expected {spec.describe()} "
                f"or a list of them, got {shown(got)}"
            )
    implementations = benchmark.implementation_names(workload)
    for position, name in enumerate(benchmark.implementations or []):
        where = (*at, "implementations", position)
        if name not in workload.implementations:
            problems.append(
                f"{source.value(where)}: {_dotted(where)}: unknown implementation {shown(name)} of "
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
            f"{shown(benchmark.baseline)} is not among the implementations of this benchmark "
            f"({_listed(implementations)})"
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
            f"benchmark {shown(claim.benchmark)}; "
            f"{_suggest(claim.benchmark, [b.id for b in model.benchmarks])}"
        ]
    workload = workloads.get(benchmark.id)
    if workload is None:
        return []
    implementations = benchmark.implementation_names(workload)
    problems = []
    for role in ("of", "over"):
        side = getattr(claim.comparison, role, None)
        if side is None:
            continue
        name = side.implementation
        if name not in implementations:
            where: ValuePath = (*at, claim.comparison_key, role)
            if (*where, "implementation") in source.values:
                where = (*where, "implementation")
            problems.append(
                f"{source.value(where)}: {_dotted(where)}: {shown(name)} is not an implementation "
                f"of benchmark {benchmark.id!r} ({_listed(implementations)})"
            )
    selectable = [*workload.params, "threads", "dtype", "math", "cache"]
    for name in claim.where:
        if name not in selectable:
            where = (*at, "where", name)
            problems.append(
                f"{source.key(where)}: {_dotted(where)}: cannot select on {shown(name)}; "
                f"{_suggest(name, selectable)}"
            )
    return problems


def _check_points(
    model: SuiteModel, workloads: dict[str, Workload], source: SourceMap
) -> list[str]:
    """Refuse parameter points that cannot run (the workload says why) or that no run on this
    machine could hold, while we can still point at the line."""
    limit = total_memory()
    problems = []
    for index, benchmark in enumerate(model.benchmarks):
        workload = workloads[benchmark.id]
        dtypes = resolve(model.defaults, benchmark).dtype
        for point in sweep(benchmark.params):
            params = workload.resolve_params(point)
            reason = workload.impossible(params)
            if reason is not None:
                where = ("benchmarks", index, "params")
                problems.append(f"{source.value(where)}: {_dotted(where)}: {reason}")
            for dtype in dtypes:
                need = workload.footprint(params, ITEMSIZE[dtype])
                if need is not None and need > limit:
                    reason = _beyond_this_machine(benchmark, workload, params, dtype, need, limit)
                    if reason is not None:
                        where = ("benchmarks", index, "params")
                        problems.append(f"{source.value(where)}: {_dotted(where)}: {reason}")
    return problems


def _beyond_this_machine(
    benchmark: Benchmark,
    workload: Workload,
    params: dict[str, Any],
    dtype: str,
    need: int,
    limit: int,
) -> str | None:
    """Why a point this machine cannot hold cannot run at all; None when an implementation of
    the benchmark builds its inputs on a cluster whose reported memory holds them (the
    one-machine implementations are then skipped with the reason when the run reaches them)."""
    reason = (
        f"{shown(params, 200)} in {dtype} needs {need / 2**30:.1f} GiB, more than this machine's "
        f"{limit / 2**30:.1f} GiB of memory"
    )
    listed = [workload.implementations[name] for name in benchmark.implementation_names(workload)]
    elsewhere = [i for i in listed if isinstance(BACKENDS[i.backend], ComputesElsewhere)]
    scaled = [implementation for implementation in elsewhere if implementation.at_scale]
    if not scaled:
        if elsewhere:
            names = ", ".join(implementation.name for implementation in elsewhere)
            reason += f" (its {names} implementation makes its inputs on this machine)"
        return reason
    implementation = scaled[0]
    backend = BACKENDS[implementation.backend]
    state = availability(implementation.backend)
    if not state.available:
        return f"{reason}, and {implementation.name} cannot run here: {state.reason}"
    assert isinstance(backend, ComputesElsewhere)
    memory, where = backend.memory()
    there = workload.footprint_at_scale(params, ITEMSIZE[dtype]) or need
    if there <= memory:
        return None
    return (
        f"{reason}, and {there / 2**30:.1f} GiB for {implementation.name}, more than the "
        f"{memory / 2**30:.1f} GiB reported by {where}"
    )
