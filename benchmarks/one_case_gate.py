"""The regression gate on ONE regressed case, with the commands a user types.

The suite is benchmarks/one_case/ (six one-thread cases: a repeated matmul at n = 32, 96, 160
and a repeated elementwise update at n = 64, 256, 512, 20 repetitions each). Two kinds of code
are generated as folders, each holding the suite and its workload module side by side (labench
imports `module:Class` from the suite's folder, so the fresh processes that confirm suspects run
the same code as the run that found them):

- OLD: the module unchanged;
- NEW-<case>: the module with that one case doing `--regression` more work (23 repetitions
  instead of 20 for 0.15), in every process that measures it.

Each trial: `labench run OLD/suite.yaml -o base.json -q` (the plain run; with
`--base-processes K` it is measured in K processes), then the gated run
`labench run NEW/suite.yaml --baseline base.json -q -o new.json`, where NEW regresses case
(trial mod 6) (a regressed trial) or is OLD itself (an honest trial). By default both gated runs
follow each baseline, honest first. For each gated run it records the exit status (0 PASS,
1 REGRESSION, 3 UNDECIDED), the verdicts recomputed from the saved files (as `labench compare
base.json new.json` gives them), and the wall time of the plain and of the gated run.

A regressed trial is `caught` when the run exits 1 with the regressed case `slower`, `undecided`
when it exits 3, `passed` (a miss) when it exits 0; an honest trial `passed`, `undecided` or a
`false alarm` (exit 1). For a regressed case not caught, and for every case of an honest trial
that did not pass, it prints the ratio, p, what the verdict rested on and the spread of the
process medians. The last lines are a summary table and the median of per-trial ratios of
gated to plain wall time.

On a shared machine, `--quiet-below 1.3` starts each trial only once the 1-minute load average
is below 1.3 (waiting up to `--wait` minutes); each trial records the load average at its start
and end, and how many cases labench flagged `contended`.

`--summarize DIR/trials.jsonl` prints the summary of every trial recorded in a --keep folder;
with `--rejudge`, each trial judged again by the current gate from the files the folder kept.

With `--history WARMUP` the gate is `run --against`: WARMUP plain runs of the old code start a
history folder, each trial's plain run joins it, and the gated runs are judged against it.

Run: python benchmarks/one_case_gate.py [--trials 12] [--regression 0.15] [--threshold 10%]
         [--base-processes 1 | --history 6] [--honest-only | --regressed-only] [--first 0]
         [--keep DIR] [--quiet-below LOAD] [--wait MINUTES]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "benchmarks" / "one_case"
MODULE = "one_case_workloads.py"
REPETITIONS = 20
CASES = [
    ("matmul", 32),
    ("matmul", 96),
    ("matmul", 160),
    ("update", 64),
    ("update", 256),
    ("update", 512),
]
"""The six cases, in the order trials regress them (trial mod 6)."""


def key(case: tuple[str, int]) -> str:
    """The labench case key of one of CASES (one thread, float64, NumPy)."""
    return f"{case[0]}/n={case[1]}/float64/t1/numpy"


def generate(folder: Path, regressed: tuple[str, int] | None, repetitions: int) -> Path:
    """A copy of the suite and its module in `folder`, the module's `MORE` set so that
    `regressed` (if any) repeats its operation `repetitions` times; the suite's path."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE / "suite.yaml", folder / "suite.yaml")
    text = (SOURCE / MODULE).read_text()
    more = {f"{regressed[0]}/n={regressed[1]}": repetitions} if regressed else {}
    changed, count = re.subn(
        r"^MORE: dict\[str, int\] = \{\}$",
        f"MORE: dict[str, int] = {more!r}",
        text,
        flags=re.MULTILINE,
    )
    if count != 1:
        raise SystemExit(f"{SOURCE / MODULE}: no `MORE: dict[str, int] = {{}}` line to set")
    (folder / MODULE).write_text(changed)
    return folder / "suite.yaml"


def labench(*arguments: str) -> tuple[int, float]:
    """Run the CLI in a fresh interpreter, as a user would; exit status and wall seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "labench", *arguments], capture_output=True, text=True
    )
    if done.returncode not in (0, 1, 3):
        raise SystemExit(f"labench {' '.join(arguments)} exited {done.returncode}:\n{done.stderr}")
    return done.returncode, time.perf_counter() - started


@dataclass
class Judged:
    """What the comparison of a gated run's file with its baseline says of one case."""

    key: str
    verdict: str
    ratio: float | None
    p: float | None
    basis: str
    doubt: str
    base_median: float | None
    base_processes: list[float]
    new_median: float | None
    new_processes: list[float]
    flags: list[str]

    def describe(self) -> str:
        def us(values: list[float]) -> str:
            if not values:
                return "-"
            if len(values) == 1:
                return f"{values[0] * 1e6:.1f}"
            return (
                f"{len(values)} at {min(values) * 1e6:.1f}-{max(values) * 1e6:.1f} "
                f"(median {statistics.median(values) * 1e6:.1f})"
            )

        ratio = f"x{self.ratio:.3f}" if self.ratio is not None else "x?"
        p = f"p={self.p:.2g}" if self.p is not None else "p=-"
        base = us(self.base_processes) if self.base_processes else us([self.base_median or 0])
        new = us(self.new_processes) if self.new_processes else us([self.new_median or 0])
        doubt = f", doubt {self.doubt}" if self.doubt else ""
        flags = f", flags {' '.join(self.flags)}" if self.flags else ""
        return (
            f"{self.key}: {self.verdict} {ratio} {p} ({self.basis}{doubt}{flags}); "
            f"base us {base}; new us {new}"
        )


def judged(base: Path, new: Path, threshold: str, alpha: float) -> dict[str, Judged]:
    """Every case's verdict, recomputed from the saved files as `labench compare` gives it;
    `base` a folder: against its history as `run --against` judges (recomputed after the run)."""
    from labench.judge.compare import compare, parse_threshold
    from labench.judge.history_gate import history_baseline
    from labench.results import reader
    from labench.results.store import opened
    from labench.results.views import load_run

    if base.is_dir():
        result = reader.load(new)
        with opened(base) as store:
            baseline = history_baseline(store, result.suite.name, result.environment).view
    else:
        baseline = load_run(base)
    comparison = compare([baseline, load_run(new)], parse_threshold(threshold), alpha)
    found = {}
    for verdict in comparison.verdicts[0]:

        def listed(values: object) -> list[float]:
            return [float(value) for value in values] if values is not None else []

        found[verdict.key] = Judged(
            verdict.key,
            verdict.verdict,
            verdict.ratio,
            verdict.p_value,
            verdict.basis,
            verdict.doubt,
            verdict.base.median,
            listed(verdict.base.process_medians),
            verdict.new.median,
            listed(verdict.new.process_medians),
            sorted(set(verdict.base.flags) | set(verdict.new.flags)),
        )
    return found


@dataclass
class Trial:
    number: int
    kind: str
    """`regressed` or `honest`."""
    regressed: str | None
    status: int
    outcome: str
    plain_seconds: float
    gated_seconds: float
    load: float
    """The 1-minute load average when the trial's baseline run started."""
    load_after: float
    """The 1-minute load average when the gated run ended."""
    contended: int
    """Cases labench flagged `contended` (other processes took the cores) in either file."""
    confirmed: list[str] = field(default_factory=list)
    """The cases the gated run measured again in fresh processes."""
    notes: list[str] = field(default_factory=list)
    """The regressed case's verdict first (a regressed trial), then every other case that
    moved the slow way and did not pass: what the comparison said of it (`Judged.describe`)."""

    @property
    def verdict(self) -> str | None:
        """The regressed case's own final verdict (slower, unsure, same, faster)."""
        if self.kind != "regressed" or not self.notes:
            return None
        return self.notes[0].split(": ", 1)[1].split(" ", 1)[0]

    @property
    def cost(self) -> float:
        return self.gated_seconds / self.plain_seconds


def quiet(below: float, minutes: float) -> float | None:
    """The 1-minute load average once it is below `below`, checked every minute for at most
    `minutes`; None when it never was."""
    waited = 0.0
    while True:
        load = os.getloadavg()[0]
        if load < below:
            return load
        if waited >= minutes:
            return None
        print(f"  load average {load:.2f}: waiting a minute", flush=True)
        time.sleep(60)
        waited += 1


def slow(found: Judged) -> bool:
    """Moved the slow way: the unsure cases a gate must decide."""
    return found.ratio is not None and found.ratio > 1


def outcome(kind: str, status: int, regressed: Judged | None) -> str:
    if kind == "honest":
        return {0: "passed", 1: "false alarm", 3: "undecided"}[status]
    if status == 1:
        caught = regressed is not None and regressed.verdict == "slower"
        return "caught" if caught else "failed on another case"
    return {0: "passed", 3: "undecided"}[status]


def rejudged(folder: Path, trial: Trial, threshold: str, alpha: float) -> Trial:
    """`trial` of a --keep folder judged again by the current gate from its saved files: the
    gated run's file (its fresh processes included) against its baseline file, or, for a
    history campaign, against the history as it stood then (the warm-up runs and the baseline
    runs of trials up to this one). The exit status is the one the gate gives those verdicts
    (1 on a case slower or broken, 3 on one unsure that moved the slow way, else 0)."""
    new = folder / f"{trial.kind}{trial.number}.json"
    history = folder / "history"
    with tempfile.TemporaryDirectory() as scratch:
        if history.is_dir():
            base = Path(scratch)
            for earlier in history.glob("*.json"):
                number = re.fullmatch(r"base(\d+)\.json", earlier.name)
                if number is None or int(number[1]) <= trial.number:
                    shutil.copy2(earlier, base / earlier.name)
        else:
            base = folder / f"base{trial.number}.json"
        verdicts = judged(base, new, threshold, alpha)
    undecided = any(found.verdict == "unsure" and slow(found) for found in verdicts.values())
    failed = any(found.verdict in ("slower", "broken") for found in verdicts.values())
    status = 1 if failed else 3 if undecided else 0
    target = verdicts[trial.regressed] if trial.regressed else None
    notes = [target.describe()] if target is not None else []
    notes += [
        found.describe()
        for found in verdicts.values()
        if found.key != trial.regressed
        and (found.verdict in ("slower", "broken") or (found.verdict == "unsure" and slow(found)))
    ]
    ending = {"status": status, "outcome": outcome(trial.kind, status, target), "notes": notes}
    return Trial(**(asdict(trial) | ending))


def gated_trial(
    number: int,
    kind: str,
    suite: Path,
    regressed: tuple[str, int] | None,
    base: Path,
    plain: float,
    load: float,
    folder: Path,
    options: argparse.Namespace,
) -> Trial:
    """One gated run of `suite` against `base`, judged and described."""
    new = folder / f"{kind}{number}.json"
    status, seconds = labench(
        "run",
        str(suite),
        "--against" if base.is_dir() else "--baseline",
        str(base),
        "--threshold",
        options.threshold,
        "-q",
        "-o",
        str(new),
    )
    load_after = os.getloadavg()[0]
    verdicts = judged(base, new, options.threshold, options.alpha)
    target = verdicts[key(regressed)] if regressed else None
    trial = Trial(
        number,
        kind,
        key(regressed) if regressed else None,
        status,
        outcome(kind, status, target),
        plain,
        seconds,
        load,
        load_after,
        sum("contended" in found.flags for found in verdicts.values()),
        json.loads(new.read_text())["run"]["confirmed"],
    )
    if target is not None:
        trial.notes.append(target.describe())
    others = [
        found
        for found in verdicts.values()
        if found.key != trial.regressed
        and (found.verdict in ("slower", "broken") or (found.verdict == "unsure" and slow(found)))
    ]
    trial.notes += [found.describe() for found in others]
    return trial


def summary(trials: list[Trial], options: argparse.Namespace) -> str:
    def ratio(kind: str) -> str:
        chosen = [trial.cost for trial in trials if trial.kind == kind]
        return f"{statistics.median(chosen):.2f}x" if chosen else "-"

    def count(kind: str, result: str) -> int:
        return sum(trial.kind == kind and trial.outcome == result for trial in trials)

    def seconds(kind: str, attribute: str) -> str:
        chosen = [getattr(trial, attribute) for trial in trials if trial.kind == kind]
        return f"{statistics.median(chosen):.1f} s" if chosen else "-"

    loads = [trial.load for trial in trials] + [trial.load_after for trial in trials]
    contended = sum(trial.contended > 0 for trial in trials)
    regressed = sum(trial.kind == "regressed" for trial in trials)
    honest = sum(trial.kind == "honest" for trial in trials)
    more = round(REPETITIONS * (1 + options.regression))
    lines = [
        f"one case x{1 + options.regression:.2f} work ({more} repetitions instead of "
        f"{REPETITIONS}), threshold {options.threshold}, baseline "
        + (
            f"a history (run --against; {options.history} warm-up runs, then each trial's "
            "plain run)"
            if options.history is not None
            else f"--processes {options.base_processes}"
        )
        + "; 1-minute load average at the trials' start and "
        f"end {min(loads):.2f}-{max(loads):.2f}; gated runs with a case flagged contended: "
        f"{contended} of {len(trials)}",
    ]
    if regressed:
        lines += [
            "",
            "| trials | caught | undecided | passed (missed) | failed on another case "
            "| median wall: plain / gated (ratio) |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines.append(
            f"| {regressed} regressed | {count('regressed', 'caught')} "
            f"| {count('regressed', 'undecided')} | {count('regressed', 'passed')} "
            f"| {count('regressed', 'failed on another case')} "
            f"| {seconds('regressed', 'plain_seconds')} / {seconds('regressed', 'gated_seconds')}"
            f" ({ratio('regressed')}) |"
        )
        verdicts = collections.Counter(trial.verdict for trial in trials if trial.verdict)
        lines += [
            "",
            "the regressed case's own verdict: "
            + ", ".join(f"{name} {number}" for name, number in sorted(verdicts.items())),
        ]
    if honest:
        lines += [
            "",
            "| trials | passed | undecided | false alarms | median wall: plain / gated (ratio) |",
            "| --- | --- | --- | --- | --- |",
        ]
        lines.append(
            f"| {honest} honest | {count('honest', 'passed')} | {count('honest', 'undecided')} "
            f"| {count('honest', 'false alarm')} "
            f"| {seconds('honest', 'plain_seconds')} / {seconds('honest', 'gated_seconds')}"
            f" ({ratio('honest')}) |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--first", type=int, default=0, help="Number of the first trial.")
    parser.add_argument("--regression", type=float, default=0.15)
    parser.add_argument("--threshold", default="10%")
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--base-processes", type=int, default=1)
    parser.add_argument(
        "--history",
        type=int,
        metavar="WARMUP",
        help="Gate against a history (`run --against`) instead of a baseline file: WARMUP "
        "plain runs of the old code make its first runs, and every trial's plain run joins it.",
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--honest-only", action="store_true")
    only.add_argument("--regressed-only", action="store_true")
    parser.add_argument(
        "--quiet-below",
        type=float,
        default=math.inf,
        help="Start each trial only once the 1-minute load average is below this (checked "
        "every minute); timings taken while other jobs hold the cores are worthless.",
    )
    parser.add_argument(
        "--wait", type=float, default=25, help="Minutes to wait for --quiet-below per trial."
    )
    parser.add_argument(
        "--summarize",
        type=Path,
        metavar="TRIALS_JSONL",
        help="Measure nothing: print the summary of the trials recorded in this file (a --keep "
        "folder's trials.jsonl, which every invocation into that folder appends to), then the "
        "same for the trials in which labench flagged no case contended.",
    )
    parser.add_argument(
        "--rejudge",
        action="store_true",
        help="With --summarize: judge every recorded trial again with the current gate, from "
        "the files its --keep folder saved (`rejudged`), before summarizing.",
    )
    parser.add_argument("--keep", type=Path, help="Keep every trial's folders and files here.")
    options = parser.parse_args()
    if options.summarize is not None:
        recorded = [
            Trial(**json.loads(line)) for line in options.summarize.read_text().splitlines()
        ]
        if options.rejudge:
            folder = options.summarize.parent
            recorded = [
                rejudged(folder, trial, options.threshold, options.alpha) for trial in recorded
            ]
        print(summary(recorded, options))
        steady = [trial for trial in recorded if not trial.contended]
        if steady and len(steady) < len(recorded):
            print("\nThe trials in which no case was flagged contended:\n")
            print(summary(steady, options))
        return 0
    repetitions = round(REPETITIONS * (1 + options.regression))
    trials: list[Trial] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = options.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        old = generate(folder / "old", None, REPETITIONS)
        new = {
            case: generate(folder / f"new-{case[0]}-{case[1]}", case, repetitions) for case in CASES
        }
        log = (folder / "trials.jsonl").open("a")
        history = folder / "history"
        if options.history is not None and not history.exists():
            history.mkdir()
            for number in range(options.history):
                labench("run", str(old), "-q", "-o", str(history / f"warmup{number}.json"))
        for number in range(options.first, options.first + options.trials):
            load = quiet(options.quiet_below, options.wait)
            if load is None:
                print(
                    f"the 1-minute load average stayed at or above {options.quiet_below} for "
                    f"{options.wait:g} minutes: stopped before trial {number}",
                    flush=True,
                )
                break
            base = folder / f"base{number}.json"
            processes = ["--processes", str(options.base_processes)]
            if options.history is not None:
                base = history / f"base{number}.json"
            _, plain = labench("run", str(old), "-q", "-o", str(base), *processes)
            if options.history is not None:
                base = history
            runs = []
            if not options.regressed_only:
                runs.append(("honest", old, None))
            if not options.honest_only:
                case = CASES[number % len(CASES)]
                runs.append(("regressed", new[case], case))
            for kind, suite, case in runs:
                trial = gated_trial(number, kind, suite, case, base, plain, load, folder, options)
                trials.append(trial)
                log.write(json.dumps(asdict(trial)) + "\n")
                log.flush()
                print(
                    f"trial {number} {kind}"
                    f"{' ' + trial.regressed if trial.regressed else ''}: exit {trial.status} "
                    f"{trial.outcome}; plain {plain:.1f} s, gated {trial.gated_seconds:.1f} s "
                    f"({trial.cost:.2f}x); load {load:.2f} then {trial.load_after:.2f}; "
                    f"{trial.contended} case(s) contended; confirmed "
                    f"{', '.join(trial.confirmed) or 'none'}",
                    flush=True,
                )
                for note in trial.notes:
                    print(f"  {note}", flush=True)
        log.close()
    print()
    if trials:
        print(summary(trials, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
