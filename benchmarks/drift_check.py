"""The drift line on a deliberately slowed machine: what a gated run says when the whole machine
got slower between the baseline and the new run, with the commands a user types.

For each suite: a plain baseline run (`labench run SUITE -o base.json`), then the same suite
gated against it twice, back to back: once as the machine is, once with COMPETITORS busy loops
started between the baseline and the gated run (each a Python process spinning on a core,
stopped when the gated run ends). It prints, per gated run, the exit status, the run-wide factor
line (`drift: ...`) and the verdict line, and the 1-minute load average before each run.

Run: python benchmarks/drift_check.py [--competitors 1] [--keep DIR]
         [--suites benchmarks/steady.yaml benchmarks/one_case/suite.yaml]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SPIN = "while True: pass"


def labench(*arguments: str) -> tuple[int, str]:
    """The CLI in a fresh interpreter, as a user runs it: exit status and everything it said
    (on lines as wide as they need)."""
    done = subprocess.run(
        [sys.executable, "-m", "labench", *arguments],
        capture_output=True,
        text=True,
        env=os.environ | {"COLUMNS": "1000"},
    )
    if done.returncode not in (0, 1, 3):
        raise SystemExit(f"labench {' '.join(arguments)} exited {done.returncode}:\n{done.stderr}")
    return done.returncode, done.stdout + done.stderr


def said(output: str) -> list[str]:
    """The run-wide factor line and the gate's last word."""
    starts = ("drift: ", "PASS: ", "REGRESSION: ", "UNDECIDED: ")
    return [line.strip() for line in output.splitlines() if line.strip().startswith(starts)]


def gated(suite: Path, base: Path, output: Path, competitors: int) -> None:
    spinning = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(competitors)]
    try:
        if spinning:
            time.sleep(2)  # the competitors are running before the gated run starts
        load = os.getloadavg()[0]
        status, output_text = labench("run", str(suite), "--baseline", str(base), "-o", str(output))
    finally:
        for process in spinning:
            process.kill()
            process.wait()
    print(f"  {competitors} competitor(s), load {load:.2f}: exit {status}")
    for line in said(output_text):
        print(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suites",
        type=Path,
        nargs="+",
        default=[ROOT / "steady.yaml", ROOT / "one_case" / "suite.yaml"],
    )
    parser.add_argument("--competitors", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="Keep the result files here.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = options.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for suite in options.suites:
            name = suite.parent.name if suite.name == "suite.yaml" else suite.stem
            base = folder / f"{name}-base.json"
            load = os.getloadavg()[0]
            labench("run", str(suite), "-q", "-o", str(base))
            print(f"{name}: baseline (load {load:.2f})", flush=True)
            gated(suite, base, folder / f"{name}-as-is.json", 0)
            gated(suite, base, folder / f"{name}-slowed.json", options.competitors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
