"""What a gate says about one case in a CI report: one line for a regression, an undecided or
an excluded case, shared by the JUnit report and the GitHub annotations so both word it alike."""

from __future__ import annotations

from labench.judge.compare import Comparison, Verdict
from labench.present.comparison import p_text, percent, ratio_interval
from labench.present.format import format_seconds

DOUBTS = {
    "one process": "each run measured it in one process, which cannot tell a move from where "
    "memory happened to land (re-measure with `labench run SUITE --baseline BASE`)",
    "spread": "its process medians spread too widely for the move to be significant "
    "(more processes can tell)",
    "unsteady": "it was measured noisily or under contention (flagged `noisy` or `contended`)",
    "state": "it is as slow as earlier runs of this case in the machine's history, after "
    "which the case came back to its level: a state of the machine and a regression look alike "
    "(re-measure when the machine is back in its usual state)",
}
"""Why an undecided case is undecided, after `Verdict.doubt`."""


def _statistics(comparison: Comparison, verdict: Verdict) -> str:
    shown = p_text(verdict)
    p = "" if shown == "-" else f", p = {shown}"
    medians = f"{format_seconds(verdict.base.median)} -> {format_seconds(verdict.new.median)}"
    return (
        f"{medians}, ratio {ratio_interval(verdict)} (95% interval), threshold "
        f"{percent(comparison.threshold_of(verdict))}{p}, based on {verdict.basis}"
    )


def regression_message(comparison: Comparison, verdict: Verdict) -> str:
    """Why a case fails the gate: slower with its ratio and interval, or newly broken."""
    if verdict.verdict == "broken":
        return (
            f"{verdict.key} is newly broken: {verdict.base.status} in "
            f"{comparison.base.label}, {verdict.new.status} now"
        )
    return f"{verdict.key} is slower than in {comparison.base.label}: " + _statistics(
        comparison, verdict
    )


def undecided_message(comparison: Comparison, verdict: Verdict) -> str:
    """Why a case that moved the slow way is neither passed nor failed."""
    why = DOUBTS.get(verdict.doubt, "the data cannot tell the move from noise")
    return (
        f"{verdict.key} moved the slow way beyond its threshold, undecided: {why}; "
        + _statistics(comparison, verdict)
    )


def excluded_message(verdict: Verdict) -> str:
    """Why a case is not gated: its suite's reason."""
    reason = verdict.gate.excluded if verdict.gate is not None else None
    return f"{verdict.key} is not gated: {reason or 'its suite excludes it'}"
