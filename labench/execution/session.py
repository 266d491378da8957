"""The session loop: one result file, every case journaled as it finishes, noisy ones retried.

How the cases themselves run (here, isolated, in rounds, on a fleet) is the executor's
business; this loop only owns the result, its journal and the retries.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from labench.core.clock import now
from labench.core.pause import pause_at
from labench.core.progress import Observer
from labench.core.provenance import git_state
from labench.execution.resume import in_suite_order
from labench.judge.claims import evaluate_all
from labench.measure.case import run_cases
from labench.measure.environment import fingerprint
from labench.results import model as results
from labench.results.journal import Journal
from labench.results.model import (
    CaseResult,
    Environment,
    GateSetting,
    Result,
    RunInfo,
    SuiteInfo,
)
from labench.suite.case import Case, Suite
from labench.suite.model import Claim


def new_result(
    suite: Suite,
    overrides: Mapping[str, Any],
    processes: int = 1,
    label: str | None = None,
    execution: str | None = None,
) -> Result:
    source = git_state(Path.cwd())
    return Result(
        suite=SuiteInfo(
            name=suite.name,
            path=str(suite.path),
            sha256=suite.sha256,
            baselines={b.id: suite.baseline(b.id) for b in suite.model.benchmarks},
            gates={
                b.id: GateSetting(threshold=b.gate.threshold, exclude=b.gate.exclude)
                for b in suite.model.benchmarks
                if b.gate is not None
            },
        ),
        run=RunInfo(
            id=uuid.uuid4().hex[:12],
            started=now(),
            labench_version=metadata.version("labench"),
            command=list(sys.argv),
            overrides=dict(overrides),
            processes=processes,
            execution=execution,
            git_commit=source.commit,
            git_branch=source.branch,
            git_dirty=source.dirty,
            label=label,
        ),
        environment=Environment.model_validate(fingerprint()),
    )


Execute = Callable[[Sequence[Case], Observer], Iterable[CaseResult]]


def run_suite(
    cases: Sequence[Case],
    result: Result,
    path: Path,
    observer: Observer,
    execute: Execute | None = None,
    retry_noisy: int = 0,
    recovery: float = 0.0,
) -> Result:
    """Run every case (in this process, or as `execute` says), appending to `result`; each
    finished case is journaled beside `path` at once, and `path` is written at the start and
    the end (see labench.results.journal: rewriting it per case made runs quadratic). Cases measured
    `noisy`, `contended` or `throttled` are measured again at the end, up to `retry_noisy`
    times, and the steadier measurement is kept: a neighbour's burst of activity rarely lasts
    the whole run. Before a round that holds a throttled case the GPU rests `recovery` seconds,
    for its clocks to come back.

    On Ctrl-C (or SIGTERM, see signals.py) the file is saved marked as interrupted, holding
    every finished case, and the KeyboardInterrupt propagates so the caller can exit 130/143.
    """
    run = execute or run_cases
    results.save(result, path)
    journal = Journal.start(result, path)
    try:
        for case_result in run(cases, observer):
            result.cases.append(case_result)
            journal.append(case_result)
            observer.finished(case_result)
            pause_at("case")
        by_key = {case.key: case for case in cases}
        for _ in range(retry_noisy):
            pause_at("retry")
            position = {case.key: index for index, case in enumerate(result.cases)}
            again = [by_key[case.key] for case in result.cases if case.flags and case.key in by_key]
            if not again:
                break
            if any("throttled" in case.flags for case in result.cases if case.key in by_key):
                time.sleep(recovery)
            # not journaled: the first measurement of each case already is, so a kill here loses
            # only the second look, and rewriting the file per case would make runs quadratic
            for case_result in run(again, observer):
                index = position[case_result.key]
                result.cases[index] = steadier(result.cases[index], case_result)
                observer.finished(case_result)
    except (KeyboardInterrupt, OSError):  # a signal, or a disk that fails or fills up
        result.run.interrupted = True
        raise
    finally:
        result.run.finished = now()
        results.save(result, path)
        journal.discard()
    return result


def steadier(first: CaseResult, second: CaseResult) -> CaseResult:
    """Of two measurements of one case, the one with fewer flags, then the tighter CI."""
    if second.status != "ok" or second.timing is None or first.timing is None:
        return first

    def unsteadiness(case: CaseResult) -> tuple[int, float]:
        assert case.timing is not None
        return len(case.flags), case.timing.rel_ci if case.timing.rel_ci is not None else 1e9

    return second if unsteadiness(second) < unsteadiness(first) else first


def finish(result: Result, planned: Sequence[Case], claims: Sequence[Claim], path: Path) -> bool:
    """The end of every run, wherever its cases ran (here, in processes, on a fleet's hosts):
    cases in the suite's order, the suite's claims judged on them, the file saved. True when a
    case was wrong or errored."""
    in_suite_order(result, planned)
    pause_at("claims")
    result.claims = evaluate_all(claims, result.cases, planned)
    pause_at("saving")
    results.save(result, path)
    return any(case.failed for case in result.cases)
