"""Claims: statements in a suite checked against the run that measured them.

A claim selects cases of one benchmark (`where`), pairs the sides it compares point by point
(same parameters and dtype, and same thread count unless a side names its own), and bounds a
value at every point. It holds only if it holds at every selected point, so the reported value
is the point nearest to breaking the bound (or the one breaking it most). A point whose case
was skipped, failed or not run leaves the claim `unmeasured`, never quietly `held`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from labench.judge.compare import ratio_test
from labench.results.model import CaseResult, ClaimResult
from labench.results.views import series
from labench.suite.model import Claim
from labench.suite.selection import ClaimSelectionError, Row, Rows, pair_up


def bound_text(claim: Claim) -> str:
    parts = []
    if claim.at_least is not None:
        parts.append(f">= {claim.at_least:g}")
    if claim.at_most is not None:
        parts.append(f"<= {claim.at_most:g}")
    return " and ".join(parts)


def _metric(case: CaseResult, name: str) -> float | None:
    if name == "time":
        return case.timing.median if case.timing else None
    if name == "first_call":
        return case.timing.first_call if case.timing else None
    value = case.metrics.get(name)
    return None if value is None else float(value)


def _value(claim: Claim, point: dict[str, CaseResult]) -> tuple[float | None, str | None]:
    """The compared value at one point, or why there is none."""
    if claim.speedup is not None:
        over, of = point["over"].timing, point["of"].timing
        if over is None or of is None or of.median <= 0:
            return None, "no timing"
        return over.median / of.median, None
    if claim.metric is not None:
        value = _metric(point["of"], claim.metric.name)
        return value, None if value is not None else f"no metric {claim.metric.name!r}"
    assert claim.ratio is not None
    top, bottom = (_metric(point[role], claim.ratio.metric) for role in ("of", "over"))
    if top is None or bottom is None:
        return None, f"no metric {claim.ratio.metric!r}"
    if bottom == 0:
        return None, f"{claim.ratio.metric} of {point['over'].key} is 0"
    return top / bottom, None


def _margin(claim: Claim, value: float) -> float:
    """How far inside the bounds a value is, relative to the bound; negative when outside."""
    margins = []
    if claim.at_least is not None:
        margins.append((value - claim.at_least) / (abs(claim.at_least) or 1.0))
    if claim.at_most is not None:
        margins.append((claim.at_most - value) / (abs(claim.at_most) or 1.0))
    return min(margins)


TIMED_METRICS = frozenset(
    {"time", "first_call", "gflops", "gbps", "roofline_frac", "host_time", "latency"}
)
"""Metrics that are timings or rates, and so as unsteady as the measurement behind them."""


def _timed(claim: Claim) -> bool:
    if claim.speedup is not None:
        return True
    if claim.metric is not None:
        return claim.metric.name in TIMED_METRICS
    assert claim.ratio is not None, "a claim has exactly one comparison (Claim's validator)"
    return claim.ratio.metric in TIMED_METRICS


def _not_measured(claim: Claim, point: dict[str, CaseResult]) -> str | None:
    """Why a point cannot be judged: a side not ok, or (for a timing) measured too unsteadily
    to quote, since a verdict must not sound surer than its data."""
    for case in point.values():
        if case.status != "ok":
            return f"{case.implementation} {case.status}" + (
                f" ({case.reason})" if case.reason else ""
            )
    for case in point.values() if _timed(claim) else ():
        if case.flags:
            return f"{case.implementation} {' and '.join(case.flags)} (measure on a quiet machine)"
    return None


def evaluate(
    claim: Claim, cases: Sequence[CaseResult] | Rows[CaseResult], planned: int | None = None
) -> ClaimResult:
    """Judge one claim on a run's cases. `planned` is how many points the suite defines, so a
    run filtered down to some of them is not mistaken for a complete one."""
    verdict = ClaimResult(
        id=claim.id,
        text=claim.text,
        benchmark=claim.benchmark,
        status="unmeasured",
        bound=bound_text(claim),
    )
    try:
        points = pair_up(claim, cases)
    except ClaimSelectionError as error:
        verdict.reason = f"no measurement: {error}"
        return verdict
    measured: list[tuple[float, float, dict[str, CaseResult]]] = []
    gaps = []
    for point in points:
        gap = _not_measured(claim, point)
        value, problem = (None, gap) if gap else _value(claim, point)
        if value is None or not math.isfinite(value):
            gaps.append(problem or "no finite value")
        else:
            measured.append((_margin(claim, value), value, point))
    if planned is not None and len(points) < planned:
        gaps.append(f"{planned - len(points)} of {planned} points not in this run")
    verdict.points = len(measured)
    if measured:
        margin, value, point = min(measured, key=lambda item: item[0])
        verdict.value, verdict.cases = value, [case.key for case in point.values()]
        verdict.at = _varying(point["of"], [item[2]["of"] for item in measured])
        if claim.speedup is not None:
            verdict.ci = _speedup_ci(point)
        if margin < 0:
            verdict.status = "failed"
            return verdict
    if gaps:
        verdict.reason = "; ".join(
            gap + (f" at {count} points" if count > 1 else "")
            for gap, count in Counter(gaps).items()
        )
        return verdict
    verdict.status = "held"
    return verdict


def _coordinates(case: CaseResult) -> dict[str, Any]:
    return case.params | {"dtype": case.dtype, "math": case.math, "threads": case.threads}


def _varying(chosen: CaseResult, cases: Sequence[CaseResult]) -> str | None:
    """Name the point that decided the value by what differs between the points."""
    coordinates = [_coordinates(case) for case in cases]
    mine = _coordinates(chosen)
    varying = [name for name in mine if len({str(c.get(name)) for c in coordinates}) > 1]
    return " ".join(f"{name}={mine[name]}" for name in varying) or None


def _speedup_ci(point: dict[str, CaseResult]) -> tuple[float, float] | None:
    """95% CI of time(over) / time(of), from the same statistical units as `compare`: the
    per-process medians when the run has them, else the raw samples."""
    test = ratio_test(series(point["of"]), series(point["over"]))
    return None if test is None else test.ci95


def evaluate_all(
    claims: Sequence[Claim], cases: Sequence[CaseResult], planned: Sequence[Row]
) -> list[ClaimResult]:
    """Judge every claim of a suite on a run; `planned` are the suite's cases before --filter."""
    verdicts = []
    measured, points = Rows(cases), Rows(planned)  # indexed once for every claim
    for claim in claims:
        try:
            expected = len(pair_up(claim, points))
        except ClaimSelectionError:
            expected = None
        verdicts.append(evaluate(claim, measured, expected))
    return verdicts
