"""`labench run SUITE --cluster ADDRESS`: the command's side of a fleet run (execution/fleet.py
measures). It refuses the options that concern one result file, runs each suite on every host
(continuing an earlier run's files with --resume, fleet_resume.py), measures the suite's dask
cases once on the whole cluster after the hosts, judges each file's claims, says where each
file went or why a host was lost, and ends with the comparison of all of them, one column per
machine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from labench import results
from labench.claims import evaluate_all
from labench.errors import InputError
from labench.fleet_resume import FleetFiles, Member, Part, fleet_files, resume_parts
from labench.interop import RunView, run_view
from labench.report import render_result
from labench.results import Result
from labench.resume import in_suite_order
from labench.runner import Observer, new_result, run_suite
from labench.suite import Case, Suite

FOLDER = Path("results")


def refuse_single_file_options(output: Path | None, baseline: Path | None, processes: int) -> None:
    """Options a fleet run cannot honour, each with what to do instead."""
    problems = []
    if output is not None:
        problems.append(
            "-o with --cluster: a fleet run writes one file per host, "
            "results/<suite>-<host>-<timestamp>.json; drop -o"
        )
    if baseline is not None:
        problems.append(
            "--baseline with --cluster: gate each host's file with labench compare BASE NEW"
        )
    if processes > 1:
        problems.append(
            "--processes with --cluster: each host measures every case once; run --processes "
            "on each host instead"
        )
    if problems:
        raise InputError(problems)


def on_the_cluster(case: Case) -> bool:
    """A dask case computes on the cluster's workers, not on one host: measured once per run,
    since hosts measuring it at the same time would contend for the same workers."""
    return case.backend == "dask"


@dataclass(frozen=True)
class FleetOptions:
    """What the command line asks of a fleet run besides the suites."""

    cluster: str
    overrides: dict[str, Any]
    resume: Path | None = None
    force: bool = False


def run_on_fleet(
    options: FleetOptions,
    plans: Sequence[tuple[Suite, list[Case], list[Case]]],
    console: Console,
    errors: Console,
    render: Callable[[list[RunView]], Any],
) -> bool:
    """Run each (suite, planned, cases) on every host of the cluster; True when a host was lost
    or a case failed. `render` shows the comparison of the files."""
    from labench.execution.fleet import connect

    earlier = fleet_files(options.resume) if options.resume is not None else None
    fleet = connect(options.cluster)
    failed = False
    try:
        for suite, planned, cases in plans:
            failed |= _run_suite(
                fleet, options, earlier, suite, planned, cases, console, errors, render
            )
    finally:
        fleet.close()
    return failed


def _run_suite(
    fleet: Any,
    options: FleetOptions,
    earlier: FleetFiles | None,
    suite: Suite,
    planned: list[Case],
    cases: list[Case],
    console: Console,
    errors: Console,
    render: Callable[[list[RunView]], Any],
) -> bool:
    from labench.execution.fleet import CLUSTER, HostRun, cluster_environment, run_fleet
    from labench.execution.workorder import WorkOrder

    on_hosts = [case for case in cases if not on_the_cluster(case)]
    members = {
        host.name: Member(results.Environment.model_validate(host.environment), on_hosts)
        for host in fleet.hosts
    }
    on_cluster = [case for case in cases if on_the_cluster(case)]
    if on_cluster:
        members[CLUSTER] = Member(cluster_environment(fleet), on_cluster)

    def fresh(member: Member) -> Part:
        result = new_result(suite, options.overrides, execution=fleet.describe())
        result.environment = member.environment
        return Part(result, member.cases)

    if earlier is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        parts = {name: fresh(member) for name, member in members.items()}
    else:
        planned_run = new_result(suite, options.overrides, execution=fleet.describe()).run
        stamp = earlier.stamp
        parts = resume_parts(
            earlier,
            members,
            suite,
            planned_run,
            options.force,
            fresh,
            lambda line: errors.print(line, highlight=False),
        )
    names = ", ".join(host.name for host in fleet.hosts)
    console.print(
        f"{suite.name}: {len(on_hosts)} cases on each of {len(fleet.hosts)} hosts ({names})"
        + (f", then {len(on_cluster)} dask cases on the whole cluster" if on_cluster else ""),
        highlight=False,
    )

    saved: list[tuple[str, Result]] = []

    def finished(name: str, result: Result, path: Path, lost: str | None) -> None:
        in_suite_order(result, planned)
        result.claims = evaluate_all(suite.model.claims, result.cases, planned)
        results.save(result, path)
        if lost:
            errors.print(f"{name}: lost, {lost}", highlight=False)
        console.print(f"{name}: saved {path}", highlight=False)
        saved.append((name, result))

    runs = [
        HostRun(host, parts[host.name].result, parts[host.name].cases, parts[host.name].path)
        for host in fleet.hosts
        if on_hosts
    ]
    try:
        run_fleet(
            fleet,
            WorkOrder.of(suite, options.overrides),
            runs,
            FOLDER,
            suite.name,
            stamp,
            lambda run: finished(run.host.name, run.result, run.path, run.lost),
        )
        if on_cluster:
            whole = _measure_on_cluster(fleet, suite, options.overrides, parts[CLUSTER], stamp)
            finished(CLUSTER, whole.result, whole.path, None)
    except KeyboardInterrupt:
        errors.print(
            f"interrupted: every host's finished cases are kept in {FOLDER}/{suite.name}-<host>-"
            f"{stamp}.json; continue with labench run {suite.path} --cluster {options.cluster} "
            "--resume <any of those files>",
            highlight=False,
            soft_wrap=True,
        )
        raise
    failed = any(run.lost for run in runs)
    failed |= any(case.status in ("wrong", "error") for _, run in saved for case in run.cases)
    hosts = [(name, result) for name, result in saved if name != CLUSTER]
    if len(hosts) > 1:
        console.print()
        hosts.sort(key=lambda item: list(members).index(item[0]))
        render([run_view(result, name) for name, result in hosts])
    for name, result in saved:
        if name == CLUSTER:  # its cases are measured on no host: a table of its own
            console.print()
            render_result(result, console)
    return failed


def _measure_on_cluster(
    fleet: Any, suite: Suite, overrides: dict[str, Any], part: Part, stamp: str
) -> Part:
    """The dask cases, once, in an isolated worker here whose dask backend finds the cluster's
    scheduler in LABENCH_DASK_SCHEDULER; saved as results/<suite>-cluster-<stamp>.json."""
    from labench.execution.fleet import CLUSTER, scheduler_address
    from labench.execution.isolated import Isolated

    if part.path is None:
        part.path = results.reserve_path(FOLDER, f"{suite.name}-{CLUSTER}", stamp)
    executor = Isolated(
        suite, overrides, environment={"LABENCH_DASK_SCHEDULER": scheduler_address(fleet)}
    )
    run_suite(part.cases, part.result, part.path, Observer(), executor.run)
    return part
