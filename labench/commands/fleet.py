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

from labench.backends.dask_cluster import Tls
from labench.core.errors import InputError
from labench.core.progress import Observer
from labench.execution.fleet_resume import FleetFiles, Member, Part, fleet_files, resume_parts
from labench.execution.session import finish, new_result, run_suite
from labench.present.report import render_result
from labench.results import model as results
from labench.results.model import Environment, Result
from labench.results.store import index_saved
from labench.results.views import RunView, run_view
from labench.suite.case import Case, Suite

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
    tls: Tls | None = None
    """This machine's certificates for a tls:// cluster (`--tls-*`)."""


@dataclass(frozen=True)
class Output:
    """Where a fleet run speaks: progress and saved files, problems, and the comparison."""

    console: Console
    errors: Console
    render: Callable[[list[RunView]], Any]

    def say(self, line: str) -> None:
        self.console.print(line, highlight=False, soft_wrap=True)

    def warn(self, line: str) -> None:
        self.errors.print(line, highlight=False, soft_wrap=True)


def run_on_fleet(
    options: FleetOptions,
    plans: Sequence[tuple[Suite, list[Case], list[Case]]],
    output: Output,
) -> bool:
    """Run each (suite, planned, cases) on every host of the cluster; True when a host was lost
    or a case failed."""
    from labench.execution.fleet import connect, exposure

    earlier = fleet_files(options.resume) if options.resume is not None else None
    warning = exposure(options.cluster)
    if warning:
        output.warn(warning)
    fleet = connect(options.cluster, options.tls)
    failed = False
    try:
        for suite, planned, cases in plans:
            failed |= _run_suite(fleet, options, earlier, suite, planned, cases, output)
    finally:
        fleet.close()
    return failed


def _members(fleet: Any, cases: list[Case]) -> dict[str, Member]:
    """Who measures what: every host the cases of one machine, the cluster its dask cases."""
    from labench.execution.fleet import CLUSTER, cluster_environment

    on_hosts = [case for case in cases if not on_the_cluster(case)]
    members = {
        host.name: Member(Environment.model_validate(host.environment), on_hosts)
        for host in fleet.hosts
        if on_hosts
    }
    on_cluster = [case for case in cases if on_the_cluster(case)]
    if on_cluster:
        members[CLUSTER] = Member(cluster_environment(fleet), on_cluster)
    return members


def _parts(
    fleet: Any,
    options: FleetOptions,
    earlier: FleetFiles | None,
    suite: Suite,
    members: dict[str, Member],
    output: Output,
) -> tuple[str, dict[str, Part]]:
    """The run's stamp and each member's part: fresh, or continued from the earlier run."""

    def fresh(member: Member) -> Part:
        result = new_result(suite, options.overrides, execution=fleet.describe())
        result.environment = member.environment
        return Part(result, member.cases)

    if earlier is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return stamp, {name: fresh(member) for name, member in members.items()}
    planned = new_result(suite, options.overrides, execution=fleet.describe()).run
    parts = resume_parts(earlier, members, suite, planned, options.force, fresh, output.warn)
    return earlier.stamp, parts


def _run_suite(
    fleet: Any,
    options: FleetOptions,
    earlier: FleetFiles | None,
    suite: Suite,
    planned: list[Case],
    cases: list[Case],
    output: Output,
) -> bool:
    from labench.execution.fleet import CLUSTER, HostRun, run_fleet
    from labench.execution.workorder import WorkOrder

    members = _members(fleet, cases)
    stamp, parts = _parts(fleet, options, earlier, suite, members, output)
    _announce(fleet, suite, members, output)
    if earlier is not None:
        todo = ", ".join(f"{name} {len(part.cases)}" for name, part in parts.items())
        output.say(f"resuming the run of {earlier.stamp}: cases to run: {todo}")
    saved: dict[str, Result] = {}
    case_failed = False

    def finished(name: str, result: Result, path: Path, lost: str | None) -> None:
        nonlocal case_failed
        case_failed |= finish(result, planned, suite.model.claims, path)
        if lost:
            output.warn(f"{name}: lost, {lost}")
        output.say(f"{name}: saved {path}")
        unindexed = index_saved(result, path)
        if unindexed:
            output.warn(f"{name}: {unindexed}")
        saved[name] = result

    runs = [
        HostRun(host, parts[host.name].result, parts[host.name].cases, parts[host.name].path)
        for host in fleet.hosts
        if host.name in parts
    ]
    try:
        order = WorkOrder.of(suite, options.overrides)
        report = lambda run: finished(run.host.name, run.result, run.path, run.lost)  # noqa: E731
        run_fleet(fleet, order, runs, FOLDER, suite.name, stamp, report)
        if CLUSTER in parts:
            whole = _measure_on_cluster(fleet, suite, options, parts[CLUSTER], stamp)
            assert whole.path is not None, "_measure_on_cluster reserves the file it saves"
            finished(CLUSTER, whole.result, whole.path, None)
    except KeyboardInterrupt:
        output.warn(
            f"interrupted: every host's finished cases are kept in {FOLDER}/{suite.name}-<host>-"
            f"{stamp}.json; continue with labench run {suite.path} --cluster {options.cluster} "
            "--resume <any of those files>"
        )
        raise
    failed = case_failed or any(run.lost for run in runs)
    _show(saved, list(members), output)
    return failed


def _announce(fleet: Any, suite: Suite, members: dict[str, Member], output: Output) -> None:
    """What the fleet run will measure: the cases on each host, then those on the cluster."""
    from labench.execution.fleet import CLUSTER

    names = ", ".join(host.name for host in fleet.hosts)
    on_hosts = [member for name, member in members.items() if name != CLUSTER]
    output.say(
        f"{suite.name}: {len(on_hosts[0].cases) if on_hosts else 0} cases on each of "
        f"{len(fleet.hosts)} hosts ({names})"
        + (
            f", then {len(members[CLUSTER].cases)} dask cases on the cluster"
            if CLUSTER in members
            else ""
        )
    )


def _show(saved: dict[str, Result], members: list[str], output: Output) -> None:
    """The comparison of the hosts' files, in the cluster's order; then the cluster's own file,
    whose cases no host measured, so that they would match nothing in the comparison."""
    from labench.execution.fleet import CLUSTER

    hosts = [name for name in members if name in saved and name != CLUSTER]
    if len(hosts) > 1:
        output.console.print()
        output.render([run_view(saved[name], name) for name in hosts])
    if CLUSTER in saved:
        output.console.print()
        render_result(saved[CLUSTER], output.console)


def _measure_on_cluster(
    fleet: Any, suite: Suite, options: FleetOptions, part: Part, stamp: str
) -> Part:
    """The dask cases, once, in an isolated worker here whose dask backend finds the cluster's
    scheduler in LABENCH_DASK_SCHEDULER (and this machine's certificates for it in
    LABENCH_TLS_*); saved as results/<suite>-cluster-<stamp>.json."""
    from labench.execution.fleet import CLUSTER, scheduler_address
    from labench.execution.isolated import Isolated

    if part.path is None:
        part.path = results.reserve_path(FOLDER, f"{suite.name}-{CLUSTER}", stamp)
    environment = {"LABENCH_DASK_SCHEDULER": scheduler_address(fleet)}
    if options.tls is not None:
        environment |= options.tls.environment()
    executor = Isolated(suite, options.overrides, environment=environment)
    run_suite(part.cases, part.result, part.path, Observer(), executor.run)
    return part
