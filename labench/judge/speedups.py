"""Speedups inside a group: the baseline implementation's median over each case's.

A computation on results, shared by the tables and the figures."""

from __future__ import annotations

from labench.results.model import Result


def speedups(result: Result) -> dict[str, float]:
    """Baseline median / case median for every ok case whose group has an ok baseline."""
    medians = {
        (case.group, case.implementation): case.timing.median
        for case in result.cases
        if case.status == "ok" and case.timing
    }
    found = {}
    for case in result.cases:
        baseline = medians.get((case.group, result.suite.baselines.get(case.benchmark, "")))
        mine = medians.get((case.group, case.implementation))
        if baseline and mine:
            found[case.key] = baseline / mine
    return found


def unsteady(result: Result) -> set[str]:
    """Keys whose speedup rests on a flagged (noisy, contended, throttled) case or baseline:
    such a speedup is shown with a `?`, never bare."""
    flagged = {(case.group, case.implementation) for case in result.cases if case.flags}
    return {
        case.key
        for case in result.cases
        if (case.group, case.implementation) in flagged
        or (case.group, result.suite.baselines.get(case.benchmark, "")) in flagged
    }
