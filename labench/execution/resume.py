"""Resuming an interrupted run: measure only what it lacks, in the same file.

A result may only be continued by the suite that made it (same content hash) on the machine that
made it (same machine id) with the same measurement overrides; anything else would put
incomparable numbers side by side in one file. `--force` accepts a different suite or machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labench.core.clock import now
from labench.core.errors import InputError
from labench.measure.environment import fingerprint
from labench.results import reader
from labench.results.model import Result, RunInfo
from labench.suite.case import Case, Suite


@dataclass
class Resumption:
    result: Result
    todo: list[Case]


def resume(
    path: Path, suite: Suite, cases: Sequence[Case], planned: RunInfo, force: bool
) -> Resumption:
    """The earlier result, holding its `ok` cases only, and the cases still to measure: those
    missing from it or not `ok` there (skipped, wrong or error cases get another chance).
    `planned` is the run the options given now would start."""
    machine = fingerprint().get("machine_id")
    return continue_result(path, reader.load(path), suite, cases, planned, force, machine)


def continue_result(
    path: Path,
    result: Result,
    suite: Suite,
    cases: Sequence[Case],
    planned: RunInfo,
    force: bool,
    machine: str | None,
    where: str = "this is",
) -> Resumption:
    """`resume` of an already loaded `result`, to be continued on `machine` (a fleet host's,
    worded as `where`, e.g. "host local-0 is"), after the same checks."""
    problems = []
    if result.suite.sha256 != suite.sha256:
        problems.append(
            f"{path}: was made by a different version of {suite.path} (suite content hash "
            f"{result.suite.sha256[:12]}, now {suite.sha256[:12]})"
        )
    if result.environment.machine_id != machine:
        problems.append(
            f"{path}: was measured on machine {result.environment.machine_id}, {where} {machine}"
        )
    if problems and not force:
        raise InputError([*problems, "pass --force to resume it anyway"])
    differences = incompatibilities(result.run, planned)
    if differences:
        raise InputError(f"{path}: was run {'; '.join(differences)}; resume with the same options")
    done = {case.key for case in result.cases if case.status == "ok"}
    todo = [case for case in cases if case.key not in done]
    again = {case.key for case in todo}
    result.cases = [case for case in result.cases if case.key not in again]
    result.run.interrupted = False
    result.run.finished = None
    result.run.resumed.append(now())
    return Resumption(result, todo)


def incompatibilities(earlier: RunInfo, now: RunInfo) -> list[str]:
    """How two runs were measured differently, in words ("with settings A, now B"); empty when
    their cases may sit in one file. A file older than `execution` was recorded says nothing
    about it, and is taken at its word."""
    differences = []
    if earlier.overrides != now.overrides:
        differences.append(
            f"with settings {earlier.overrides or 'from the suite'}, "
            f"now {now.overrides or 'from the suite'}"
        )
    if earlier.processes != now.processes:
        differences.append(f"in {earlier.processes} process(es), now {now.processes}")
    if earlier.execution is not None and earlier.execution != now.execution:
        differences.append(f"{earlier.execution}, now {now.execution}")
    return differences


def in_suite_order(result: Result, planned: Sequence[Case]) -> None:
    """Put resumed cases back where the suite lists them, so tables group as in one run."""
    order = {case.key: index for index, case in enumerate(planned)}
    result.cases.sort(key=lambda case: order.get(case.key, len(order)))
