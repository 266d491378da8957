"""Acceptance of the regression gate with the commands a user types: honest pairs, slowdowns.

Each try: a baseline run B (`labench run SUITE -o B.json`), then the gated run
`labench run SUITE --baseline B.json` on the unchanged code (an honest pair: it must pass), then
again against B with every timing scaled by FACTOR (so the code looks 1/FACTOR - 1 slower: the
gate must catch it). Both gated runs include whatever the gate does (confirming suspects in fresh
processes). With --processes K, every run is measured in K processes instead.

A gated run ends PASS (exit 0), REGRESSION (exit 1) or UNDECIDED (exit 3: a case moved the slow
way and the draws could not tell it from noise). An undecided run is counted on its own, neither
a pass nor a catch: an honest pair that ends undecided did not pass, and a slowdown that ends
undecided was not caught.

Prints, per try and in total: false alarms, detections, undecided runs, and the wall time of a
plain and of a gated run, so the README can quote measured figures. For a false alarm, a miss or
an undecided run it also prints what the gate said of the cases that moved the slow way
(verdict, what it rested on, flags), and with --keep DIR every try's files stay there to be
examined.

Run: python benchmarks/gate_noise.py [--tries 10] [--processes 1] [--factor 0.85]
         [--suite suites/quick.yaml] [--threshold 10%] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXIT_UNDECIDED = 3


def labench(*arguments: str) -> tuple[int, float]:
    """Run the CLI in a fresh interpreter, as a user would; exit code and wall seconds. A gated
    run may end 0 (PASS), 1 (REGRESSION) or 3 (UNDECIDED); anything else is a failure."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "labench", *arguments], capture_output=True, text=True
    )
    if done.returncode not in (0, 1, EXIT_UNDECIDED):
        raise SystemExit(f"labench {' '.join(arguments)} failed:\n{done.stderr}")
    return done.returncode, time.perf_counter() - started


def scaled(source: Path, target: Path, factor: float) -> Path:
    """A copy of a result with every time multiplied by `factor` (summaries stay consistent)."""
    document = json.loads(source.read_text())
    for case in document["cases"]:
        timing = case.get("timing")
        if not timing:
            continue
        for name in ("median", "mean", "stdev", "min", "max", "iqr", "first_call"):
            timing[name] *= factor
        for name in ("samples", "process_medians"):
            timing[name] = [value * factor for value in timing[name]]
        if timing["ci95"]:
            timing["ci95"] = [value * factor for value in timing["ci95"]]
    target.write_text(json.dumps(document))
    return target


def judged(path: Path, base: Path, threshold: str) -> tuple[list[str], str]:
    """The cases the gate called slower, recomputed from the saved files, and what it said of
    every case whose ratio moved the slow way beyond the threshold."""
    from labench.judge.compare import compare, parse_threshold
    from labench.results.views import load_run

    limit = parse_threshold(threshold)
    comparison = compare([load_run(base), load_run(path)], limit)
    moved = [
        f"{verdict.key}: x{verdict.ratio:.2f} {verdict.verdict} ({verdict.basis}"
        f"{', ' + ', '.join(verdict.new.flags) if verdict.new.flags else ''})"
        for verdict in comparison.verdicts[0]
        if verdict.ratio is not None and verdict.ratio > 1 + limit
    ]
    return [verdict.key for verdict in comparison.regressions()], "; ".join(moved) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--factor", type=float, default=0.85)
    parser.add_argument("--suite", default=str(ROOT / "suites" / "quick.yaml"))
    parser.add_argument("--threshold", default="10%")
    parser.add_argument("--keep", type=Path, help="Keep every try's files in this folder.")
    options = parser.parse_args()
    common = ["-q", "--no-fail-on-claims", "--processes", str(options.processes)]
    gate = ["--threshold", options.threshold]
    passed = caught = honest_undecided = slowed_undecided = 0
    plain_times, gated_times, slowed_times = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        folder = options.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, options.tries + 1):
            base = Path(folder) / f"base{attempt}.json"
            _, plain = labench("run", options.suite, "-o", str(base), *common)
            honest_path, slowed_path = (
                Path(folder) / f"h{attempt}.json",
                Path(folder) / f"s{attempt}.json",
            )
            honest_code, gated = labench(
                "run",
                options.suite,
                "-o",
                str(honest_path),
                *common,
                "--baseline",
                str(base),
                *gate,
            )
            lucky = scaled(base, Path(folder) / f"fast{attempt}.json", options.factor)
            slowed_code, slowed = labench(
                "run",
                options.suite,
                "-o",
                str(slowed_path),
                *common,
                "--baseline",
                str(lucky),
                *gate,
            )
            alarms, honest_moves = judged(honest_path, base, options.threshold)
            found, slowed_moves = judged(slowed_path, lucky, options.threshold)
            # exit 3: neither a pass nor a catch (failed, exit 1, wins over undecided)
            honest_open = honest_code == EXIT_UNDECIDED
            slowed_open = slowed_code == EXIT_UNDECIDED
            honest_undecided += honest_open
            slowed_undecided += slowed_open
            passed += not alarms and not honest_open
            caught += bool(found)
            plain_times.append(plain)
            gated_times.append(gated)
            slowed_times.append(slowed)
            honest_said = "FALSE ALARM" if alarms else "UNDECIDED" if honest_open else "passed"
            slowed_said = "caught" if found else "UNDECIDED" if slowed_open else "MISSED"
            print(
                f"try {attempt}: honest pair {honest_said} "
                f"({', '.join(alarms) or 'no case slower'}); x{1 / options.factor:.3f} slowdown "
                f"{slowed_said} ({len(found)} cases slower); "
                f"plain run {plain:.1f} s, gated runs {gated:.1f} s honest, {slowed:.1f} s slowed",
                flush=True,
            )
            if alarms or honest_open:
                print(f"  honest pair, moved the slow way: {honest_moves}", flush=True)
            if not found:
                print(f"  slowed pair, moved the slow way: {slowed_moves}", flush=True)
    tries = options.tries
    alarms_total = tries - passed - honest_undecided
    missed = tries - caught - slowed_undecided
    plain = statistics.median(plain_times)

    def gated(times: list[float]) -> str:
        ratio = statistics.median(g / p for g, p in zip(times, plain_times, strict=True))
        return f"{statistics.median(times):.1f} s ({ratio:.2f}x)"

    print(
        f"{options.suite}, --processes {options.processes}, threshold {options.threshold}: "
        f"honest pairs passed {passed}/{tries} (false alarms {alarms_total}/{tries}, undecided "
        f"{honest_undecided}/{tries}); x{1 / options.factor:.3f} slowdowns caught "
        f"{caught}/{tries} (undecided {slowed_undecided}/{tries}, missed {missed}/{tries}); "
        "median wall time "
        f"plain {plain:.1f} s, gated {gated(gated_times)} honest, {gated(slowed_times)} slowed"
    )
    return 0 if passed >= 0.9 * tries and caught == tries else 1


if __name__ == "__main__":
    sys.exit(main())
