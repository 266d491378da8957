"""The harness's own cost per case, and where it goes (does the harness scale?).

Each size runs `labench run -q` in a fresh interpreter, with the harness's parts wrapped in
timers, and prints the wall time per case and its breakdown:

- start-up: interpreter, imports, suite loading and planning, until the first case starts;
- inputs: making the inputs and the float64 reference (once per data group);
- checks: the first (cold) call and the correctness check against the reference;
- measurement: warm-up, calibration and sampling (the timed calls themselves);
- statistics: the CI of the median (during sampling and after) and the summary;
- saving: everything written to disk (journal records, result files);
- other: the rest (thread limits, recording, ordering, claims, ...).
Times are exclusive: the statistics computed while sampling are not counted as measurement.

The cases are `kernels.matvec`, numpy, one thread, `max_time: 0.005`, `warmup: 0`,
`min_samples: 3`, one case per n. By default every size repeats the same block of n = 8..257
(one benchmark per block of 250 cases), so a case costs the same work at every size and any
growth per case is the harness's own. `--growing-sweep` runs a growing sweep instead, n = 8,
9, ... up to as many cases as asked: there larger runs also mean larger matrices (n up to 4007
at 4000 cases), so inputs and sampling grow per case whatever the harness does.
Then it times the ways of keeping finished cases on disk, on the records of the last run.

Run: python benchmarks/harness_overhead.py [--growing-sweep] [CASES ...]
(default 250 1000 4000: about 3 minutes on 2 cores). With PYTHONPATH pointing at another
checkout it measures that one.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HEADER = """\
labench: 1
name: overhead
defaults: {threads: [1], max_time: 0.005, warmup: 0, min_samples: 3}
benchmarks:
"""
BENCHMARK = """\
  - id: matvec{index}
    workload: kernels.matvec
    params: {{n: [{sizes}]}}
    implementations: [numpy]
"""
BLOCK = 250

CATEGORIES = ("start-up", "inputs", "checks", "measurement", "statistics", "saving", "other")

# (module, attribute, category): the functions whose time is attributed to a category. A name
# missing from the measured checkout (an older version) is skipped.
WRAPPED = (
    ("labench.measure.case", "_prepare_data", "inputs"),
    ("labench.measure.case", "first_call", "checks"),
    ("labench.measure.case", "_check", "checks"),
    ("labench.measure.case", "sample", "measurement"),
    ("labench.measure.timing", "median_ci", "statistics"),
    ("labench.core.stats", "median_ci", "statistics"),
    ("labench.measure.case", "summarize", "statistics"),
    ("labench.results.model", "save", "saving"),
    ("labench.results.journal.Journal", "append", "saving"),
    ("labench.results.journal.Journal", "start", "saving"),
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
    from labench.commands import app as cli
    from labench.measure import case as runner

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
        # no second look at noisy cases: that is measurement the suite asked for, not overhead
        cli.app(["run", suite, "-o", output, "-q", "--force", "--retry-noisy", "0"])
    except SystemExit as exit_:
        if exit_.code:
            raise
    finished = time.perf_counter()
    report = {"elapsed": finished - entered, "until_first_case": first_case[0] - entered}
    print(json.dumps(report | {"spent": clock.spent}))


def suite_text(cases: int, growing: bool) -> str:
    if growing:
        return HEADER + BENCHMARK.format(index=0, sizes=", ".join(map(str, range(8, 8 + cases))))
    blocks = []
    for index, first in enumerate(range(0, cases, BLOCK)):
        sizes = ", ".join(str(8 + n) for n in range(min(BLOCK, cases - first)))
        blocks.append(BENCHMARK.format(index=index, sizes=sizes))
    return HEADER + "".join(blocks)


def measure(cases: int, folder: Path, growing: bool) -> dict[str, Any]:
    suite = folder / f"overhead-{cases}.yaml"
    suite.write_text(suite_text(cases, growing), encoding="utf-8")
    output = folder / f"overhead-{cases}.json"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(suite), str(output)],
        capture_output=True,
        text=True,
        # A private cache: no stored ceilings, so no roofline step, whatever this machine holds.
        env=os.environ | {"XDG_CACHE_HOME": str(folder / "cache")},
    )
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"labench run failed:\n{done.stderr}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    spent = report["spent"]
    # Interpreter start and imports happen before the child's clock starts: add them.
    spent["start-up"] = wall - report["elapsed"] + report["until_first_case"]
    spent["other"] = wall - sum(value for name, value in spent.items() if name != "other")
    return {"cases": cases, "wall": wall, "spent": spent, "output": output}


def _median_ms(action: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def storage_alternatives(output: Path, folder: Path) -> None:
    """Per finished case, what each way of keeping it on disk costs: rewriting the whole result
    (what labench did; its cost per case grows with the cases before it) against appending it to
    the journal, with and without fsync."""
    from labench.results import model as results
    from labench.results import reader
    from labench.results.journal import Journal

    run = reader.load(output)
    print("\nkeeping a finished case on disk, ms per case (median):")
    for count in (250, 1000, 4000):
        cases = [
            case.model_copy(update={"key": f"{case.key}#{index}"})
            for index in range(count // len(run.cases) + 1)
            for case in run.cases
        ][:count]
        prefix = run.model_copy(update={"cases": cases})
        rewrite = _median_ms(partial(results.save, prefix, folder / "rewrite.json"), 5)
        print(f"  rewrite the result after case {count}: {rewrite:.2f}")
    journal = Journal.start(run.model_copy(update={"cases": []}), folder / "journal.json")
    synced = _median_ms(lambda: journal.append(run.cases[-1]), 200)
    with journal.path.open("ab") as stream:
        line = journal.path.read_bytes().splitlines()[-1] + b"\n"
        unsynced = _median_ms(lambda: (stream.write(line), stream.flush()), 200)
    journal.discard()
    print(f"  append to the journal, flushed and fsynced: {synced:.2f}")
    print(f"  append to the journal, flushed, not fsynced: {unsynced:.3f}")


def main(sizes: list[int], growing: bool) -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; labench run -q, ms per case")
    print("sweep: " + ("n = 8, 9, ... (growing)" if growing else "n = 8..257 repeated"))
    header = ["cases", "wall s", "per case", *CATEGORIES, "result MB"]
    print(" | ".join(header))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for cases in sizes:
            row = measure(cases, Path(folder), growing)
            rows.append(row)
            per_case = {name: 1e3 * value / cases for name, value in row["spent"].items()}
            cells = [
                str(cases),
                f"{row['wall']:.1f}",
                f"{1e3 * row['wall'] / cases:.1f}",
                *(f"{per_case[name]:.2f}" for name in CATEGORIES),
                f"{row['output'].stat().st_size / 1e6:.2f}",
            ]
            print(" | ".join(cells), flush=True)
        first = rows[0]
        for row in rows[1:]:
            ratio = (row["wall"] / row["cases"]) / (first["wall"] / first["cases"])
            print(f"per-case cost at {row['cases']} / at {first['cases']}: {ratio:.2f}x")
        # Checkouts older than the journal lack it.
        if _resolve("labench.results.journal") is not None:
            storage_alternatives(rows[-1]["output"], Path(folder))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
    else:
        arguments = sys.argv[1:]
        growing = "--growing-sweep" in arguments
        counts = [int(arg) for arg in arguments if arg != "--growing-sweep"]
        main(counts or [250, 1000, 4000], growing)
