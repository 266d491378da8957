"""A machine's history of one suite, kept compact: per run, its start, the load average around
it, and per case the median of each of its processes, in order.

`history_replay.py` replays gates on such a file. A folder of labench results (one
`labench run SUITE --processes K -o DIR/STAMP.json` per tick) holds every sample of every
process; the gates read only the process medians, rounded here to 4 significant digits, so a
history of hours fits in the repository. Process 1 of each run is what a plain one-process run
would have measured; the others are fresh draws, in the order they were measured.

The load average comes from the recorder's log when one is given (`--log`): lines
`STAMP start load L1 L5 L15` and `STAMP end load L1 L5 L15`, STAMP the result file's name.

Run: python benchmarks/extract_history.py DIR -o FILE [--log LOG]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from labench.core.errors import InputError
from labench.results import reader

LOG_LINE = re.compile(r"^(\d{8}T\d{6}) (start|end) load ([\d.]+) ([\d.]+) ([\d.]+)\s*$")


def rounded(value: float) -> float:
    """`value` to 4 significant digits."""
    return float(f"{value:.4g}")


def load_averages(log: Path | None) -> dict[str, dict[str, float]]:
    """STAMP -> {"start": the 1-minute load average at the tick's start, "end": at its end}."""
    found: dict[str, dict[str, float]] = {}
    if log is None:
        return found
    current = None  # an `end` line carries its own time: it belongs to the start before it
    for line in log.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if match and match[2] == "start":
            current = match[1]
            found[current] = {"start": float(match[3])}
        elif match and current is not None:
            found[current]["end"] = float(match[3])
            current = None
    return found


def tick(path: Path, loads: dict[str, dict[str, float]]) -> dict[str, Any] | None:
    """One result file as one tick of the history; None for an interrupted run."""
    result = reader.load(path)
    if result.run.interrupted:
        return None
    cases: dict[str, list[float]] = {}
    flagged: dict[str, list[str]] = {}
    for case in result.cases:
        if case.status != "ok" or case.timing is None:
            continue
        medians = case.timing.process_medians or [case.timing.median]
        cases[case.key] = [rounded(median) for median in medians]
        if case.flags:
            flagged[case.key] = sorted(case.flags)
    entry: dict[str, Any] = {
        "file": path.name,
        "started": result.run.started,
        "processes": result.run.processes,
        "load": loads.get(path.stem),
        "cases": cases,
    }
    if flagged:
        entry["flags"] = flagged
    return entry


def extract(folder: Path, log: Path | None = None) -> dict[str, Any]:
    """The compact history of the labench results in `folder` (see the module docstring)."""
    files = sorted(folder.glob("*.json"))
    if not files:
        raise InputError(f"{folder}: no result files (*.json)")
    loads = load_averages(log)
    ticks = [entry for entry in (tick(path, loads) for path in files) if entry is not None]
    ticks.sort(key=lambda entry: str(entry["started"]))
    first = reader.load(folder / ticks[0]["file"])
    environment = first.environment
    return {
        "suite": first.suite.name,
        "machine": {
            "cpu": environment.cpu,
            "cores_logical": environment.cores_logical,
            "os": environment.os,
            "python": environment.python,
        },
        "ticks": ticks,
    }


def dumps(history: dict[str, Any]) -> str:
    """The history as JSON with one tick per line, so a longer history diffs line by line."""
    head = {key: value for key, value in history.items() if key != "ticks"}
    lines = [json.dumps(entry, separators=(",", ":")) for entry in history["ticks"]]
    body = json.dumps(head, indent=1)[:-2]
    return body + ',\n "ticks": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument(
        "--log", type=Path, help="the recorder's log, for the load average at each tick"
    )
    options = parser.parse_args()
    history = extract(options.folder, options.log)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(dumps(history))
    print(f"{options.output}: {len(history['ticks'])} runs of suite {history['suite']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
