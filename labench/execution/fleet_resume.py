"""`labench run SUITE --cluster ADDRESS --resume FILE`: every host continues its own file.

FILE is any host's file of an interrupted fleet run (Ctrl-C, SIGTERM, a lost host); the run's
other files are its siblings: same folder, same suite, same stamp
(`<suite>-<host>-<stamp>.json`, the host being the one the file's environment names). Each member
of the fleet now (each host, and the cluster itself when the suite has dask cases) continues
the sibling that names it after the checks of a local --resume (resume.py: the same suite, the
same machine, which here is that host's own fingerprint now, and the same options); a member
without one starts a fresh file with the same stamp; a file whose host has left the cluster is
reported and left as it is. Every file is checked before anything runs, so one refused file
refuses the whole resume, and nothing is overwritten that a resume could not continue.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from labench.core.errors import InputError
from labench.execution.resume import continue_result
from labench.results import reader
from labench.results.model import Environment, Result, RunInfo
from labench.suite.case import Case, Suite


@dataclass(frozen=True)
class Member:
    """A host of the fleet (or the cluster as a whole): what it is and what it measures."""

    environment: Environment
    cases: list[Case]


@dataclass
class Part:
    """One member's share of a fleet run: its result, the cases it still has to measure, and
    its file (None: a fresh one, reserved when the member starts)."""

    result: Result
    cases: list[Case]
    path: Path | None = None


@dataclass(frozen=True)
class FleetFiles:
    """The files of one earlier fleet run, by the host each names."""

    stamp: str
    files: dict[str, tuple[Path, Result]]


def fleet_files(path: Path) -> FleetFiles:
    """The run that `path`, one host's file of it, belongs to."""
    result = reader.load(path)
    suite, host = result.suite.name, result.environment.hostname
    prefix = f"{suite}-{host}-"
    if not host or not path.name.startswith(prefix) or path.suffix != ".json":
        raise InputError(
            f"{path}: not a host's file of a fleet run: --resume with --cluster expected a file "
            f"named <suite>-<host>-<stamp>.json as run --cluster saves them, here "
            f"{prefix}<stamp>.json ({suite!r} is its suite, {host!r} the host its environment "
            "names); resume a one-machine run without --cluster"
        )
    stamp = path.name[len(prefix) : -len(".json")]
    files = {}
    pattern = f"{glob.escape(suite)}-*-{glob.escape(stamp)}.json"
    for sibling in sorted(path.parent.glob(pattern)):
        earlier = result if sibling == path else reader.load(sibling)
        name = earlier.environment.hostname
        if earlier.suite.name == suite and sibling.name == f"{suite}-{name}-{stamp}.json":
            files[str(name)] = (sibling, earlier)
    return FleetFiles(stamp, files)


def resume_parts(
    earlier: FleetFiles,
    members: Mapping[str, Member],
    suite: Suite,
    planned: RunInfo,
    force: bool,
    fresh: Callable[[Member], Part],
    report: Callable[[str], None],
) -> dict[str, Part]:
    """Each member's part: its own file of the `earlier` run continued, or `fresh`.
    `planned` is the run the options given now would start; `report` hears of the files left
    alone because their host is gone."""
    parts, problems = {}, []
    for name, member in members.items():
        if name not in earlier.files:
            parts[name] = fresh(member)
            continue
        file, result = earlier.files[name]
        try:
            resumption = continue_result(
                file,
                result,
                suite,
                member.cases,
                planned,
                force,
                member.environment.machine_id,
                where=f"host {name} is now",
            )
        except InputError as error:
            problems += error.problems
            continue
        parts[name] = Part(resumption.result, resumption.todo, file)
    if problems:
        raise InputError(list(dict.fromkeys(problems)))  # "pass --force" once, not per file
    for name in sorted(set(earlier.files) - set(members)):
        report(f"{name}: not in the cluster now; {earlier.files[name][0]} is left as it is")
    return parts
