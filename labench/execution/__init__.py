"""How cases run: one strategy per module behind the `Executor` interface (base.py), chosen once
from the command line's options by `choose`, which refuses a combination it cannot honour."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labench.core.errors import InputError
from labench.execution.base import Executor
from labench.execution.inprocess import InProcess
from labench.execution.isolated import Isolated
from labench.execution.rounds import Rounds
from labench.suite.case import Suite
from labench.suite.yamlsource import ValuePath


def choose(
    suite: Suite,
    overrides: Mapping[str, Any],
    *,
    isolate: bool,
    processes: int,
    timeout: float | None,
) -> Executor:
    """The executor for one suite's run, or an InputError saying why the options cannot be
    honoured (a timeout where a hung case could not be stopped). A fleet run (`--cluster`)
    makes one result per host, so it is not chosen here: execution.fleet connects to the
    cluster and runs an `OnHost` executor per host."""
    if processes > 1:
        return fresh_processes(suite, overrides, processes)
    if isolate:
        return Isolated(suite, overrides)
    refuse_unstoppable_timeouts(suite, timeout)
    return InProcess()


def fresh_processes(suite: Suite, overrides: Mapping[str, Any], processes: int) -> Executor:
    """Cases measured in `processes` freshly spawned processes (`--processes K`)."""
    return Rounds(Isolated(suite, overrides, independent=True), processes)


def fresh_placements(suite: Suite, overrides: Mapping[str, Any], processes: int) -> Executor:
    """Cases measured again in `processes` jittered forks, all of them in one worker per round
    (run --baseline's confirmation of suspects): independent placement draws at the cost of a
    fork each (placement.py)."""
    return Rounds(
        Isolated(suite, overrides, independent=True, jitter=True, together=True), processes
    )


def refuse_unstoppable_timeouts(suite: Suite, timeout: float | None) -> None:
    """A hung kernel can only be stopped by killing the process it runs in, so a timeout asked
    for in-process is an error rather than a promise labench could not keep."""
    why = "a hung case can only be stopped by killing its process: add --isolate"
    if timeout is not None:
        raise InputError(f"--timeout needs --isolate; {why}")
    places: list[ValuePath] = (
        [("defaults", "timeout")] if suite.model.defaults.timeout is not None else []
    )
    places += [
        ("benchmarks", index, "timeout")
        for index, benchmark in enumerate(suite.model.benchmarks)
        if benchmark.timeout is not None
    ]
    if places:
        raise InputError(
            [
                f"{suite.source.key(place)}: timeout needs process isolation; {why}"
                for place in places
            ]
        )


__all__ = ["Executor", "choose", "fresh_placements", "fresh_processes"]
