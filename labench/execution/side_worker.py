"""The process that measures one side of an A/B run (`labench ab`, execution/ab.py).

It is started with the side's own interpreter, in the side's own folder (a temporary worktree of
a revision, a folder, or the working tree), so the suite, its workload modules and the packages
they import are that side's, never the parent's: the parent cannot import two versions of one
module. It reads one request (JSON) on standard input and answers in JSON lines on the
descriptor that was standard output; a workload's own prints go to standard error instead, so
they can never corrupt the answer.

- `plan`: load the suite and answer the side's labench version, the header of its result file
  (suite, run and environment, as this side sees them: its git commit, its packages), and per
  case its resolved settings and an error record to stand in for it if the process dies.
- `measure`: measure the cases named, with the settings the parent sends (the same on both
  sides), each given `share` of its time budget (execution/rounds.py): answer `ready` once the
  suite is loaded, then each result as it finishes (the parent kills a process whose case
  passes its `timeout`).

A suite that cannot be loaded here (missing, or a workload module that does not import) is
answered as `refused` with the problems, and exit code 2.

Run as `python -m labench.execution.side_worker`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, replace
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from labench.core.errors import InputError
from labench.core.progress import Observer
from labench.execution.rounds import share
from labench.execution.session import new_result
from labench.measure.case import record, run_cases
from labench.suite import shipped
from labench.suite.case import Settings
from labench.suite.load import load_suite
from labench.suite.model import Measurement


def answer(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def serve(request: dict[str, Any], channel: IO[str]) -> int:
    """Answer one request; the exit code the process ends with."""
    overrides = request["overrides"]
    try:
        suite = load_suite(shipped.resolve(Path(request["suite"])))
        planned = suite.cases(Measurement(**overrides))
    except InputError as error:
        answer(channel, {"refused": error.problems})
        return 2
    if request["mode"] == "plan":
        header = new_result(suite, overrides, execution=request["execution"])
        cases = {
            case.key: {
                "settings": asdict(case.settings),
                "stand_in": record(case, "error", "").model_dump(mode="json"),
            }
            for case in planned
        }
        plan = {
            "labench": metadata.version("labench"),
            "result": header.model_dump(mode="json"),
            "cases": cases,
        }
        answer(channel, {"plan": plan})
        return 0
    by_key = {case.key: case for case in planned}
    chosen = [
        share(replace(by_key[key], settings=Settings(**settings)), request["share"])
        for key, settings in request["cases"]
    ]
    answer(channel, {"ready": True})  # a case's timeout counts from here
    for result in run_cases(chosen, Observer()):
        answer(channel, {"case": result.model_dump(mode="json")})
    return 0


def main() -> int:
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a workload's prints go to stderr
    return serve(json.loads(sys.stdin.read()), channel)


if __name__ == "__main__":
    sys.exit(main())
