"""Which threshold gates a case, or why it is not gated: a suite's per-benchmark `gate:`
settings, as stored with a run (`SuiteInfo.gates`), over the command line's threshold.

Every gate (compare, run --baseline, and any other that judges cases against a threshold) asks
`case_gate`, so one setting in a suite means the same thing to all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labench.results.model import GateSetting


@dataclass(frozen=True)
class CaseGate:
    """How a gate treats one case."""

    threshold: float
    """The slowdown that counts: the benchmark's own, else the command line's."""
    excluded: str | None = None
    """Why the case is measured but never gated (its suite said so); None: it is gated."""
    own: bool = False
    """The threshold is the benchmark's own, not the command line's."""


def benchmark_of(key: str) -> str:
    """The benchmark id a labench case key starts with (`matvec/n=4000/float64/t1/numpy`);
    a key of another shape (a pytest-benchmark name) is its own, and matches no setting."""
    return key.split("/", 1)[0]


def case_gate(settings: Mapping[str, GateSetting], key: str, threshold: float) -> CaseGate:
    """The gate of the case `key` under the stored `settings`, `threshold` (the command line's)
    for a benchmark without a threshold of its own."""
    setting = settings.get(benchmark_of(key))
    if setting is None:
        return CaseGate(threshold)
    if setting.exclude is not None:
        return CaseGate(threshold, excluded=setting.exclude)
    own = setting.threshold
    return CaseGate(threshold if own is None else own, own=own is not None)
