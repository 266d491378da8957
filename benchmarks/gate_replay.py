"""The regression gate replayed on measured process medians: its false-alarm and detection rates
for many tries at the cost of two `--processes` runs.

`benchmarks/gate_noise.py` runs the real commands, 25 s a try on the quick suite, so ten tries
say little about a rate of a few percent. Here each try draws, for every case of the given
`--processes K` results (K >= 9 so each case has a pool of real draws), the one-process
baseline's median and the new run's own median from that case's measured process medians, and
every fresh process the confirmation asks for from the same pool, with replacement. Honest tries
use the draws as they are; slowdown tries scale the baseline by FACTOR. Everything after the
draws is labench's own code: `confirm.confirm` with its budget and both stages, then
`compare.judge`. Its budget runs on a clock that each fresh process advances by what one cost
on the 2-core VM (FRESH_SECONDS). The pools hold the spread between processes (placement, a
neighbour) but not the drift between runs made minutes apart; `gate_noise.py` measures that,
this does not.

Run: python benchmarks/gate_replay.py RESULT.json [RESULT.json ...] [--suite suites/quick.yaml]
         [--tries 300] [--factor 0.85] [--threshold 10%] [--budget 3.5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from labench.backends import BACKENDS
from labench.core.progress import Observer
from labench.core.stats import summarize
from labench.execution.confirm import Judging, confirm
from labench.judge.compare import parse_threshold
from labench.results import reader
from labench.results.model import CaseResult, Result, Timing
from labench.results.views import run_view
from labench.suite.case import Case
from labench.suite.load import load_suite

ROOT = Path(__file__).resolve().parent.parent
SPREAD = np.array([0.998, 0.999, 1.0, 1.001, 1.002])
"""Samples of one synthetic process around its median (only the median matters to the gate)."""
FRESH_SECONDS = {False: 0.04, True: 0.4}
"""What measuring one case in one fresh process cost, measured on the 2-core VM (quick suite,
jittered forks): a NumPy case (8 in 6 processes: 1.9 s), a case whose backend loads compiled
code (`Backend.jit`; one Numba matmul in 6 processes: 2.35 s)."""


def with_medians(case: CaseResult, medians: Sequence[float], processes: bool) -> CaseResult:
    """`case` measured again: one process per median (kept as process medians if `processes`)."""
    samples = [float(median * spread) for median in medians for spread in SPREAD]
    timing = Timing(
        **summarize(samples).model_dump(),
        first_call=case.timing.first_call,
        inner_loops=case.timing.inner_loops,
        stopped_by=case.timing.stopped_by,
        samples=samples,
        process_medians=list(medians) if processes else [],
    )
    return case.model_copy(update={"timing": timing, "flags": []})


class Replay:
    """The pools of measured process medians and the cases they belong to."""

    def __init__(self, files: Sequence[Path], planned: dict[str, Case]):
        loaded = [reader.load(path) for path in files]
        self.template = {
            case.key: case
            for case in loaded[0].cases
            if case.status == "ok" and case.key in planned and case.timing.process_medians
        }
        self.pools = {
            key: np.concatenate([self._medians(result, key) for result in loaded])
            for key in self.template
        }
        self.planned = {key: planned[key] for key in self.template}
        self.shell = loaded[0]
        self.now = 0.0
        """The replay's clock, in seconds of fresh processes."""

    @staticmethod
    def _medians(result: Result, key: str) -> np.ndarray:
        case = next(case for case in result.cases if case.key == key)
        return np.asarray(case.timing.process_medians)

    def one_process_run(self, rng: np.random.Generator, factor: float) -> Result:
        cases = [
            with_medians(case, [float(rng.choice(self.pools[key])) * factor], processes=False)
            for key, case in self.template.items()
        ]
        return self.shell.model_copy(update={"cases": cases})

    def fresh_processes(self, rng: np.random.Generator):
        def measure(cases: Sequence[Case], observer: Observer, count: int) -> Iterator[CaseResult]:
            for case in cases:
                self.now += count * FRESH_SECONDS[BACKENDS[case.backend].jit]
                medians = [float(m) for m in rng.choice(self.pools[case.key], size=count)]
                yield with_medians(self.template[case.key], medians, processes=True)

        return measure


def gate_fails(
    replay: Replay, rng: np.random.Generator, factor: float, threshold: float, budget: float
) -> bool:
    """One try: does the gate fail a new run against a baseline scaled by `factor`?"""
    base = replay.one_process_run(rng, factor)
    new = replay.one_process_run(rng, 1.0)
    judging = Judging(run_view(base, "base"), threshold, 0.01)
    measure = replay.fresh_processes(rng)
    confirm(new, judging, replay.planned, measure, Observer(), budget, clock=lambda: replay.now)
    verdicts = judging.verdicts(new, replay.planned).values()
    return any(verdict.verdict == "slower" for verdict in verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--suite", type=Path, default=ROOT / "suites" / "quick.yaml")
    parser.add_argument("--tries", type=int, default=300)
    parser.add_argument("--factor", type=float, default=0.85)
    parser.add_argument("--threshold", default="10%")
    parser.add_argument(
        "--budget",
        type=float,
        default=3.5,
        help="seconds the plain run measured (the quick "
        "suite on the quiet 2-core VM: about 3.5 of its 4.6 s, the rest start-up)",
    )
    options = parser.parse_args()
    planned = {case.key: case for case in load_suite(options.suite).cases()}
    replay = Replay(options.results, planned)
    threshold = parse_threshold(options.threshold)
    rng = np.random.default_rng(0)

    def tries(factor: float) -> int:
        return sum(
            gate_fails(replay, rng, factor, threshold, options.budget) for _ in range(options.tries)
        )

    alarms, caught = tries(1.0), tries(options.factor)
    print(
        f"{len(replay.pools)} cases, pools of {min(map(len, replay.pools.values()))}+ process "
        f"medians; {options.tries} tries each: false alarms {alarms}/{options.tries} "
        f"({alarms / options.tries:.1%}), x{1 / options.factor:.3f} slowdowns caught "
        f"{caught}/{options.tries} ({caught / options.tries:.1%})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
