"""The harness's own cost per case, and where it goes (issue: the harness scales).

The sweep is the issue's: `kernels.matvec` over n = 8, 9, ... (one case per n), numpy, one
thread, `max_time: 0.005`, `warmup: 0`, `min_samples: 3`. Each size runs `labench run -q` in a
fresh interpreter, with the harness's parts wrapped in timers, and prints the wall time per case
and its breakdown:

- start-up: interpreter, imports, suite loading and planning, until the first case starts;
- inputs: making the inputs and the float64 reference (once per data group);
- checks: the first (cold) call and the correctness check against the reference;
- measurement: warm-up, calibration and sampling (the timed calls themselves);
- statistics: the CI of the median (during sampling and after) and the summary;
- saving: everything written to disk (journal records, result files);
- other: the rest (thread limits, recording, ordering, claims, ...).

Times are exclusive: the statistics computed while sampling are not counted as measurement.
Run: python benchmarks/harness_overhead.py [CASES ...]   (default 250 1000 4000; about 1.5 min
for all three on 2 cores). With PYTHONPATH pointing at another checkout it measures that one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SUITE = """\
labench: 1
name: overhead
defaults: {{threads: [1], max_time: 0.005, warmup: 0, min_samples: 3}}
benchmarks:
  - id: matvec
    workload: kernels.matvec
    params: {{n: [{sizes}]}}
    implementations: [numpy]
"""

CATEGORIES = ("start-up", "inputs", "checks", "measurement", "statistics", "saving", "other")

# (module, attribute, category): the functions whose time is attributed to a category. A name
# missing from the measured checkout (an older version) is skipped.
WRAPPED = (
    ("labench.runner", "_prepare_data", "inputs"),
    ("labench.runner", "first_call", "checks"),
    ("labench.runner", "_check", "checks"),
    ("labench.runner", "sample", "measurement"),
    ("labench.timing", "median_ci", "statistics"),
    ("labench.stats", "median_ci", "statistics"),
    ("labench.runner", "summarize", "statistics"),
    ("labench.results", "save", "saving"),
    ("labench.journal.Journal", "append", "saving"),
    ("labench.journal.Journal", "start", "saving"),
)


class Clock:
    """Exclusive wall time per category: time spent in a nested wrapped call counts once, for
    the inner category."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(CATEGORIES, 0.0)
        self.inner: list[float] = []

    def wrap(self, function: Callable[..., Any], category: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.inner.append(0.0)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.spent[category] += elapsed - self.inner.pop()
                if self.inner:
                    self.inner[-1] += elapsed

        return timed


def _resolve(owner: str) -> Any | None:
    """A module, or a class in a module, by dotted name; None when this checkout lacks it."""
    import importlib

    try:
        return importlib.import_module(owner)
    except ImportError:
        module, _, name = owner.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name, None)
        except ImportError:
            return None


def child(suite: str, output: str) -> None:
    """Runs in the fresh interpreter: wrap the parts, run the CLI, print the breakdown."""
    entered = time.perf_counter()
    from labench import cli, runner

    clock = Clock()
    for owner, name, category in WRAPPED:
        target = _resolve(owner)
        if target is not None and hasattr(target, name):
            setattr(target, name, clock.wrap(getattr(target, name), category))
    first_case: list[float] = []
    original = runner.measure_case

    def measure_case(*args: Any, **kwargs: Any) -> Any:
        if not first_case:
            first_case.append(time.perf_counter())
        return original(*args, **kwargs)

    runner.measure_case = measure_case
    try:
        cli.app(["run", suite, "-o", output, "-q", "--force"])
    except SystemExit as exit_:
        if exit_.code:
            raise
    finished = time.perf_counter()
    report = {"elapsed": finished - entered, "until_first_case": first_case[0] - entered}
    print(json.dumps(report | {"spent": clock.spent}))


def measure(cases: int, folder: Path) -> dict[str, Any]:
    suite = folder / f"overhead-{cases}.yaml"
    sizes = ", ".join(str(n) for n in range(8, 8 + cases))
    suite.write_text(SUITE.format(sizes=sizes), encoding="utf-8")
    output = folder / f"overhead-{cases}.json"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(suite), str(output)],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    report = json.loads(done.stdout.strip().splitlines()[-1])
    spent = report["spent"]
    # Interpreter start and imports happen before the child's clock starts: add them.
    spent["start-up"] = wall - report["elapsed"] + report["until_first_case"]
    spent["other"] = wall - sum(value for name, value in spent.items() if name != "other")
    return {"cases": cases, "wall": wall, "spent": spent, "bytes": output.stat().st_size}


def main(sizes: list[int]) -> None:
    print(f"python {sys.version.split()[0]}; per-case cost of labench run -q, ms per case")
    header = ["cases", "wall s", "per case", *CATEGORIES, "result MB"]
    print(" | ".join(header))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for cases in sizes:
            row = measure(cases, Path(folder))
            rows.append(row)
            per_case = {name: 1e3 * value / cases for name, value in row["spent"].items()}
            cells = [
                str(cases),
                f"{row['wall']:.1f}",
                f"{1e3 * row['wall'] / cases:.1f}",
                *(f"{per_case[name]:.2f}" for name in CATEGORIES),
                f"{row['bytes'] / 1e6:.2f}",
            ]
            print(" | ".join(cells), flush=True)
    first = rows[0]
    for row in rows[1:]:
        ratio = (row["wall"] / row["cases"]) / (first["wall"] / first["cases"])
        print(f"per-case cost at {row['cases']} / at {first['cases']}: {ratio:.2f}x")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        main([int(arg) for arg in sys.argv[1:]] or [250, 1000, 4000])
