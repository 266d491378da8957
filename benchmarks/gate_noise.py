"""Acceptance of the regression gate (issue: compare and gate).

Ten tries, each: two honest back-to-back runs of suites/quick.yaml in fresh processes, judged
by `labench compare --fail-on-regression` (should be "same", exit 0), then the first run with
every raw sample scaled by 0.85, i.e. the second run made 15%+ slower (should be caught).

Prints each try's verdict counts and which cases raised a false alarm, then the totals.
Run: python benchmarks/gate_noise.py [TRIES] [PROCESSES]
(about 10 s per try on 2 cores in one process; 30 s with PROCESSES=6, the mode that meets the
acceptance: compare then works on per-process medians)
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

from labench.compare import compare
from labench.interop import RunView, load_run

SUITE = Path(__file__).resolve().parent.parent / "suites" / "quick.yaml"


def fresh_run(path: Path, processes: int) -> RunView:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "labench",
            "run",
            str(SUITE),
            "-q",
            "-o",
            str(path),
            "--processes",
            str(processes),
        ],
        check=True,
        capture_output=True,
    )
    return load_run(path)


def scaled(run: RunView, factor: float) -> RunView:
    cases = {
        key: dataclasses.replace(
            series,
            median=series.median * factor if series.median else series.median,
            samples=series.samples * factor if series.samples is not None else None,
            process_medians=series.process_medians * factor
            if series.process_medians is not None
            else None,
            mean=series.mean * factor if series.mean else series.mean,
            stdev=series.stdev * factor if series.stdev else series.stdev,
        )
        for key, series in run.cases.items()
    }
    return dataclasses.replace(run, label=f"{run.label} x{factor}", cases=cases)


def main(tries: int, processes: int) -> int:
    same, caught = 0, 0
    with tempfile.TemporaryDirectory() as folder:
        for attempt in range(1, tries + 1):
            first = fresh_run(Path(folder) / f"a{attempt}.json", processes)
            second = fresh_run(Path(folder) / f"b{attempt}.json", processes)
            honest = compare([first, second]).regressions()
            slowed = compare([scaled(first, 0.85), second]).regressions()
            same += not honest
            caught += bool(slowed)
            alarms = ", ".join(f"{v.key} x{v.ratio:.2f}" for v in honest) or "none"
            print(
                f"try {attempt}: honest pair {'same' if not honest else 'REGRESSION'} "
                f"(false alarms: {alarms}); 15% slowdown {'caught' if slowed else 'MISSED'} "
                f"({len(slowed)} cases)",
                flush=True,
            )
    print(f"honest pairs judged same: {same}/{tries}; 15% slowdowns caught: {caught}/{tries}")
    return 0 if same >= 0.9 * tries and caught == tries else 1


if __name__ == "__main__":
    tries = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    sys.exit(main(tries, processes))
