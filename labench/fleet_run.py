"""`labench run SUITE --cluster ADDRESS`: the command's side of a fleet run (execution/fleet.py
measures). It refuses the options that concern one result file, runs each suite on every host,
judges each host's claims, says where each host's file went or why the host was lost, and ends
with the comparison of all hosts, one column per machine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from labench import results
from labench.claims import evaluate_all
from labench.errors import InputError
from labench.interop import RunView, run_view
from labench.resume import in_suite_order
from labench.runner import new_result
from labench.suite import Case, Suite


def refuse_single_file_options(
    output: Path | None, resume: Path | None, baseline: Path | None, processes: int
) -> None:
    """Options a fleet run cannot honour, each with what to do instead."""
    problems = []
    if output is not None:
        problems.append(
            "-o with --cluster: a fleet run writes one file per host, "
            "results/<suite>-<host>-<timestamp>.json; drop -o"
        )
    if resume is not None:
        problems.append(
            "--resume with --cluster: resume each host's file on that host "
            "(labench run SUITE --resume FILE there)"
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


def run_on_fleet(
    cluster: str,
    plans: Sequence[tuple[Suite, list[Case], list[Case]]],
    overrides: dict[str, Any],
    console: Console,
    errors: Console,
    render: Callable[[list[RunView]], Any],
) -> bool:
    """Run each (suite, planned, cases) on every host of `cluster`; True when a host was lost
    or a case failed. `render` shows the comparison of the hosts' runs."""
    from labench.execution.fleet import connect, run_fleet
    from labench.execution.workorder import WorkOrder

    fleet = connect(cluster)
    failed = False
    try:
        names = ", ".join(host.name for host in fleet.hosts)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for suite, planned, cases in plans:
            console.print(
                f"{suite.name}: {len(cases)} cases on each of {len(fleet.hosts)} hosts ({names})",
                highlight=False,
            )

            def finished(run: Any, suite: Suite = suite, planned: list[Case] = planned) -> None:
                in_suite_order(run.result, planned)
                run.result.claims = evaluate_all(suite.model.claims, run.result.cases, planned)
                results.save(run.result, run.path)
                if run.lost:
                    errors.print(f"{run.host.name}: lost, {run.lost}", highlight=False)
                console.print(f"{run.host.name}: saved {run.path}", highlight=False)

            try:
                runs = run_fleet(
                    fleet,
                    WorkOrder.of(suite, overrides),
                    cases,
                    lambda mode, suite=suite: new_result(suite, overrides, execution=mode),
                    Path("results"),
                    suite.name,
                    stamp,
                    finished,
                )
            except KeyboardInterrupt:
                errors.print(
                    "interrupted (Ctrl-C): every host's finished cases are kept in "
                    f"results/{suite.name}-<host>-{stamp}.json",
                    highlight=False,
                )
                raise
            failed |= any(run.lost for run in runs)
            failed |= any(
                case.status in ("wrong", "error") for run in runs for case in run.result.cases
            )
            if len(runs) > 1:
                console.print()
                render([run_view(run.result, run.host.name) for run in runs if run.path])
    finally:
        fleet.close()
    return failed
