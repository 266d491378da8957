"""A/B: two sides (revisions, folders or interpreters) measured interleaved in one job.

On a shared CI runner two runs minutes apart differ for the whole machine (a neighbour, a clock,
the hypervisor), and a regression of a few percent drowns in that. Measured in rounds instead,
each round measuring every case once per side, the sides back to back, a slowdown of the machine
hits both measurements of a round alike and their ratio cancels it (judge/paired.py). Each
measurement is a fresh process of its side (`SideProcess`: a new draw of the memory placement,
execution/rounds.py), and the order alternates, AB then BA, so a trend within a round cancels
as well.

Like `Rounds`, a strategy behind the executor idea (base.py): a `SideProcess` runs cases and
yields their results as they finish, is described and closed. It takes case keys rather than
`Case` objects because the cases are planned in the side's own process (side_worker.py): this
process cannot import two versions of one workload module, nor the packages of another
interpreter.

The rounds follow the looks of a fixed `Schedule`: at each look every case still `unsure` is
judged, and only those are measured in the next rounds, up to the cap. Each case takes
1 / (first look's rounds) of its time budget per process, so the first look costs each side
about what a `--processes` run with that many processes costs.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import metadata
from typing import IO, Any

from labench.core.errors import InputError
from labench.execution.isolated import STARTUP_LIMIT
from labench.execution.sides import Side
from labench.judge.compare import Verdict
from labench.judge.gates import case_gate
from labench.judge.paired import Schedule, look
from labench.results.merge import merge_processes
from labench.results.model import CaseResult, Result
from labench.results.views import run_view

WORKER = ("-m", "labench.execution.side_worker")
VERSION_PROBE = "from importlib.metadata import version; print(version('labench'))"
STDERR_TAIL = 600
"""Characters of a failed side process's standard error quoted in a message."""


@dataclass(frozen=True)
class Request:
    """What both sides are asked, identical for the two."""

    suite: str
    overrides: dict[str, Any]
    execution: str


@dataclass
class SidePlan:
    """One side's suite as its own process planned it."""

    side: Side
    header: Result
    """The side's result file, cases to come: its suite, git commit and environment."""
    settings: dict[str, dict[str, Any]]
    stand_ins: dict[str, CaseResult]
    """Per case, an `error` record to stand in for it if its process dies."""


def tail(handle: IO[str]) -> str:
    handle.seek(0)
    text = " ".join(handle.read().split())
    return text[-STDERR_TAIL:] if text else "nothing on standard error"


def answers(stream: IO[str]) -> queue.Queue[str | None]:
    """The lines of `stream` as they come, read by a thread of their own so that the reader can
    stop waiting when a limit passes (a pipe cannot be waited on with a timeout line by line);
    None marks the end of the stream."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="labench-side-answers", daemon=True).start()
    return lines


def exchange(
    side: Side, request: Mapping[str, Any], limits: Sequence[float | None] = ()
) -> Iterator[dict[str, Any]]:
    """Start a fresh process of `side`, send it `request`, yield its answers; the process is
    killed if it is still running when the caller stops (an interruption included). The n-th
    answer must come within `limits[n]` seconds of the one before (none beyond the list):
    past it the process is killed and the last answer is `late`, with that limit. Ends with a
    `died` answer when the process ended with an error."""
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            [side.python, *WORKER],
            cwd=side.folder,
            env=side.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert process.stdin is not None and process.stdout is not None
            with suppress(BrokenPipeError):  # a process that died at once says so below
                process.stdin.write(json.dumps(request))
                process.stdin.close()
            lines = answers(process.stdout)
            for count in itertools.count():
                limit = limits[count] if count < len(limits) else None
                try:
                    line = lines.get(timeout=limit)
                except queue.Empty:
                    process.kill()
                    yield {"late": limit}
                    return
                if line is None:
                    break
                yield json.loads(line)
            code = process.wait()
            if code not in (0, 2):
                yield {"died": f"its process exited with code {code}: {tail(stderr)}"}
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()


def check_labench(side: Side, version: str) -> None:
    """Refuse an interpreter without labench, or with another version of it."""
    probe = subprocess.run(
        [side.python, "-c", VERSION_PROBE], capture_output=True, text=True, check=False
    )
    found = probe.stdout.strip()
    if probe.returncode != 0:
        raise InputError(
            f"{side.describe()}: labench is not installed for {side.python}, so it cannot "
            f"measure there; install this labench ({version}) into that environment"
        )
    if found != version:
        raise InputError(
            f"{side.describe()}: {side.python} has labench {found}, this is labench {version}; "
            "both sides must measure with the same labench, or a difference could be the "
            f"harness's: install labench {version} there"
        )


def plan_side(side: Side, request: Request, version: str) -> SidePlan:
    """The side's cases and result header, from a process of its own; an InputError naming the
    side when its folder lacks the suite or a workload module does not import there."""
    if not side.folder.is_dir():
        raise InputError(
            f"{side.describe()}: the current folder does not exist on this side, so the suite "
            f"{request.suite} does not either"
        )
    check_labench(side, version)
    asked = {"mode": "plan", "suite": request.suite, "overrides": request.overrides}
    for message in exchange(side, asked | {"execution": request.execution}):
        if "refused" in message:
            raise InputError(
                f"{side.describe()}: the suite cannot be used on this side: "
                + "; ".join(message["refused"])
            )
        if "plan" in message:
            plan = message["plan"]
            return SidePlan(
                side,
                Result.model_validate(plan["result"]),
                {key: case["settings"] for key, case in plan["cases"].items()},
                {
                    key: CaseResult.model_validate(case["stand_in"])
                    for key, case in plan["cases"].items()
                },
            )
        if "died" in message:
            raise InputError(f"{side.describe()}: could not plan the suite: {message['died']}")
    raise InputError(f"{side.describe()}: its process ended without answering")


class SideProcess:
    """Executor: cases measured in one fresh process of one side, each with the settings of
    `settings` (the same for both sides) and `share` of its time budget."""

    stops_hung_cases = True

    def __init__(
        self,
        plan: SidePlan,
        request: Request,
        settings: Mapping[str, dict[str, Any]],
        share: float,
    ):
        self.plan = plan
        self.request = request
        self.settings = settings
        self.share = share

    def run(self, keys: Sequence[str]) -> Iterator[CaseResult]:
        """Measure `keys` in order in one fresh process; a case its process did not report
        (it died) is recorded as `error` with the reason. A case past its `timeout` has the
        process killed and is recorded as timed out; the cases after it go on in a new one."""
        pending = list(keys)
        why = "its process ended before reporting it"
        while pending:
            asked = {
                "mode": "measure",
                "suite": self.request.suite,
                "overrides": self.request.overrides,
                "cases": [[key, self.settings[key]] for key in pending],
                "share": self.share,
            }
            limits = [STARTUP_LIMIT, *(self.settings[key].get("timeout") for key in pending)]
            ready, late = False, None
            for message in exchange(self.plan.side, asked, limits):
                if "ready" in message:
                    ready = True
                elif "case" in message:
                    result = CaseResult.model_validate(message["case"])
                    pending.remove(result.key)
                    yield result
                elif "late" in message:
                    late = message["late"]
                else:
                    why = message.get("died") or "; ".join(message.get("refused", [why]))
            if late is None:
                break
            if not ready:
                why = f"its process did not answer within {STARTUP_LIMIT:g} s of starting"
                break
            yield self.stand_in(pending.pop(0), f"timed out after {late:g} s (process killed)")
        for key in pending:
            yield self.stand_in(key, why)

    def stand_in(self, key: str, why: str) -> CaseResult:
        """The `error` record of a case its process did not report, with the reason."""
        return self.plan.stand_ins[key].model_copy(update={"reason": why})

    def describe(self) -> str:
        return f"fresh process of {self.plan.side.describe()}"

    def close(self) -> None:
        """Each process ends with its round (`exchange`); nothing outlives it."""


@dataclass
class Interleaved:
    """The two sides' measurements, round by round."""

    base: SideProcess
    new: SideProcess
    measured: dict[str, dict[str, list[CaseResult]]] = field(
        default_factory=lambda: {"base": {}, "new": {}}
    )
    rounds: int = 0

    def round(self, keys: Sequence[str]) -> None:
        """One round: every case of `keys` once per side, base first in odd rounds."""
        self.rounds += 1
        order = (self.base, self.new) if self.rounds % 2 else (self.new, self.base)
        for side in order:
            for result in side.run(keys):
                self.measured[side.plan.side.name].setdefault(result.key, []).append(result)

    def result(self, name: str) -> Result:
        """One side's result: its header and each case merged over its rounds."""
        plan = self.base.plan if name == "base" else self.new.plan
        header = plan.header.model_copy(deep=True)
        header.run.command = list(sys.argv)
        header.run.label = plan.side.describe()
        header.cases = [merge_processes(rounds) for rounds in self.measured[name].values()]
        counts = [len(rounds) for rounds in self.measured[name].values()]
        header.run.processes = max(counts, default=1)
        return header


Progress = Callable[[str], None]


def verdicts_at(
    interleaved: Interleaved, keys: Sequence[str], threshold: float, level: float
) -> dict[str, Verdict]:
    """Each of `keys` judged on the rounds so far, under the new side's gate settings."""
    base = run_view(interleaved.result("base"), "base").cases
    new = run_view(interleaved.result("new"), "new")
    return {
        key: look(key, base[key], new.cases[key], case_gate(new.gates, key, threshold), level)
        for key in keys
    }


def run_rounds(
    interleaved: Interleaved,
    keys: Sequence[str],
    schedule: Schedule,
    threshold: float,
    alpha: float,
    progress: Progress,
) -> dict[str, int]:
    """Rounds up to each look of `schedule`, judging the cases still undecided at each and
    measuring only those further; the rounds each case was measured in."""
    level = schedule.level(alpha)
    pending = list(keys)
    rounds: dict[str, int] = {}
    for target in schedule.looks:
        while interleaved.rounds < target:
            progress(f"round {interleaved.rounds + 1} of {target}: {len(pending)} case(s)")
            interleaved.round(pending)
        found = verdicts_at(interleaved, pending, threshold, level)
        rounds.update(dict.fromkeys(found, interleaved.rounds))
        pending = [key for key, verdict in found.items() if verdict.verdict == "unsure"]
        if not pending:
            break
    return rounds


@dataclass(frozen=True)
class Measured:
    """What an A/B run measured: each side's result, the rounds of each compared case, and
    the cases found on one side only."""

    base: Result
    new: Result
    rounds: dict[str, int]
    only_in: dict[str, list[str]]


def chosen(plan: SidePlan, keys: Sequence[str], patterns: Sequence[str]) -> list[str]:
    """`keys` whose key or benchmark id matches one of `patterns` (all of them without)."""
    if not patterns:
        return list(keys)
    return [
        key
        for key in keys
        if any(
            fnmatch.fnmatchcase(key, pattern)
            or fnmatch.fnmatchcase(plan.stand_ins[key].benchmark, pattern)
            for pattern in patterns
        )
    ]


def measure_ab(
    sides: tuple[Side, Side],
    request: Request,
    schedule: Schedule,
    judging: tuple[float, float],
    patterns: Sequence[str],
    progress: Progress,
) -> Measured:
    """Plan both sides, then measure the cases they share in interleaved rounds (`run_rounds`,
    `judging` is the threshold and alpha). Every case runs with the new side's settings on both
    sides, so a suite edited between the two still measures both alike."""
    version = metadata.version("labench")
    base, new = (plan_side(side, request, version) for side in sides)
    common = chosen(new, [key for key in new.settings if key in base.settings], patterns)
    if not common:
        raise InputError(
            f"{request.suite}: the two sides share no case"
            + (f" matching --filter {' '.join(patterns)}" if patterns else "")
            + "; cases match by key, so nothing can be compared"
        )
    share = 1 / schedule.first
    interleaved = Interleaved(
        SideProcess(base, request, new.settings, share),
        SideProcess(new, request, new.settings, share),
    )
    rounds = run_rounds(interleaved, common, schedule, *judging, progress)
    only_in = {
        "base": chosen(base, [key for key in base.settings if key not in new.settings], patterns),
        "new": chosen(new, [key for key in new.settings if key not in base.settings], patterns),
    }
    return Measured(interleaved.result("base"), interleaved.result("new"), rounds, only_in)
