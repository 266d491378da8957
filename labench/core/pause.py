"""A test hook: hold a run at a named phase until a signal ends it.

What a signal does depends on where it lands (before the file exists, between two cases, while
confirmation workers run, after the claims are judged ...), and a test that sleeps hoping to hit
one of those windows is flaky. With `LABENCH_TEST_PAUSE_AT=PHASE` (or `PHASE:N`, the N-th time
the phase is reached), labench's main process, on reaching the phase, writes one JSON object to
the file `LABENCH_TEST_PAUSE_FILE` names: the phase, its pid, and the pids of every process
below it then (case and confirmation workers, the fork server, a LocalCluster's nannies and
workers), so a test can check afterwards that none outlived it. Then it waits for a signal,
whose handler (KeyboardInterrupt, or signals.Terminated for SIGTERM) unwinds the run from
exactly that point. Worker processes and other threads never pause. Unset, `pause_at` costs
one environment lookup. tests/test_signal_phases.py signals every phase.

Phases: `startup` (the command line not yet read), `loading` (suites), `planning` (executors,
the fresh or resumed result), `case` (after a case is journaled), `retry` (a pass measuring noisy
cases again), `worker` (a case worker has started; in a `--baseline` run without `--isolate`,
the confirmation processes), `claims` (all cases saved, claims about to be judged), `saving`
(claims judged, the file about to be written), `printing` (the file complete, tables about to be
shown) and `hosts` (a fleet run, once a host has reported a case).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections import Counter
from pathlib import Path

from labench.core.host import descendants

PAUSE_AT = "LABENCH_TEST_PAUSE_AT"
PAUSE_FILE = "LABENCH_TEST_PAUSE_FILE"

_reached: Counter[str] = Counter()


def pause_at(phase: str) -> None:
    """Wait here for a signal when LABENCH_TEST_PAUSE_AT names this phase (see the module)."""
    wanted = os.environ.get(PAUSE_AT)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != phase or multiprocessing.parent_process() is not None:
        return
    if threading.current_thread() is not threading.main_thread():
        return
    _reached[phase] += 1
    if _reached[phase] != int(nth or 1):
        return
    marker = Path(os.environ[PAUSE_FILE])
    written = marker.with_name(marker.name + ".tmp")
    pid = os.getpid()
    written.write_text(json.dumps({"phase": phase, "pid": pid, "children": descendants(pid)}))
    os.replace(written, marker)  # whole, so the test never reads half of it
    while True:
        signal.pause()
