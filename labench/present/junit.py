"""A gate's comparison as a JUnit XML report, the format the test reporters of GitLab (merge
request widget), Jenkins (JUnit plugin) and GitHub (test-reporter actions) read.

One testcase per compared case: its class is the benchmark (the suite, or the run, for a key of
another shape) and its name the case key. A regression is a `failure` with its ratio, interval
and message; a case the gate could not decide, one its suite excludes from gating, and one
skipped in both runs are `skipped` with why; every other case passes. One testsuite per run
compared with the base, under a `testsuites` root carrying the totals.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

from labench.judge.compare import Comparison, Verdict
from labench.present.comparison import split_key
from labench.present.gate_messages import (
    excluded_message,
    regression_message,
    undecided_message,
)
from labench.results.views import RunView


def junit_xml(comparison: Comparison) -> str:
    """The JUnit XML document of `comparison`'s verdicts."""
    failing = {id(verdict) for verdict in comparison.regressions()}
    undecided = {id(verdict) for verdict in comparison.undecided()}
    root = ElementTree.Element("testsuites", name="labench")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for run, verdicts in zip(comparison.others, comparison.verdicts, strict=True):
        suite = ElementTree.SubElement(
            root, "testsuite", name=f"{run.label} against {comparison.base.label}"
        )
        counts = {"tests": len(verdicts), "failures": 0, "errors": 0, "skipped": 0}
        for verdict in verdicts:
            case = ElementTree.SubElement(
                suite, "testcase", classname=_class_name(run, verdict.key), name=verdict.key
            )
            if id(verdict) in failing:
                message = regression_message(comparison, verdict)
                failure = ElementTree.SubElement(
                    case, "failure", message=message, type=verdict.verdict
                )
                failure.text = message
                counts["failures"] += 1
            elif skip := _skip_message(comparison, verdict, id(verdict) in undecided):
                ElementTree.SubElement(case, "skipped", message=skip)
                counts["skipped"] += 1
        for name, count in counts.items():
            suite.set(name, str(count))
            totals[name] += count
    for name, count in totals.items():
        root.set(name, str(count))
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _skip_message(comparison: Comparison, verdict: Verdict, undecided: bool) -> str | None:
    """Why a case that did not fail was not passed either; None: it passed."""
    if undecided:
        return undecided_message(comparison, verdict)
    if verdict.verdict == "excluded":
        return excluded_message(verdict)
    if verdict.verdict == "skipped":
        return f"{verdict.key} was skipped in both runs"
    return None


def _class_name(run: RunView, key: str) -> str:
    """The benchmark id of a labench key; else the suite's name, else the run's label."""
    parts = split_key(key)
    if parts is not None:
        return parts.benchmark
    return run.suite.name if run.suite is not None else run.label
