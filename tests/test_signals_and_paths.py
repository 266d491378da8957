"""CI cancels with SIGTERM: the run stops as on Ctrl-C (file kept, marked interrupted, every
finished case in it, resumable) and exits 143. Default result names never collide."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from labench.results import model as results
from labench.results import reader
from labench.results.journal import journal_path

SLOW = """
labench: 1
name: slow
defaults: {max_time: 0.4, warmup: 0.0, min_samples: 3, target_rel_ci: 0.0001}
benchmarks:
  - {id: b, workload: kernels.matvec, params: {n: [64, 96, 128, 160, 192, 224]},
     implementations: [numpy]}
"""

QUICK = """
labench: 1
name: same
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: b, workload: kernels.matvec, params: {n: 8}, implementations: [numpy]}
"""


def labench(*arguments, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "labench", *map(str, arguments)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cases_in(path):
    """Cases finished so far: the run journals each one beside its result (journal.py)."""
    try:
        return len(journal_path(path).read_bytes().splitlines()) - 1
    except OSError:
        return 0


@pytest.mark.parametrize("mode", [[], ["--isolate"]], ids=["in-process", "isolated"])
def test_sigterm_keeps_every_finished_case_and_exits_143(tmp_path, write_suite, mode):
    suite = write_suite(SLOW)
    out = tmp_path / "r.json"
    process = labench("run", suite, "-o", out, "-q", "--retry-noisy", "0", *mode, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while cases_in(out) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, process.communicate()
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    stderr = " ".join(stderr.split())
    assert process.returncode == 143, stderr
    assert "interrupted (SIGTERM)" in stderr and f"--resume {out}" in stderr
    assert "Traceback" not in stderr
    kept = reader.load(out)
    assert kept.run.interrupted and 2 <= len(kept.cases) < 6
    finished = [case.key for case in kept.cases if case.status == "ok"]
    resumed = labench("run", suite, "--resume", out, "-q", *mode, cwd=tmp_path)
    assert resumed.wait(timeout=120) == 0, resumed.communicate()
    again = reader.load(out)
    assert [case.status for case in again.cases] == ["ok"] * 6
    assert set(finished) <= {case.key for case in again.cases}


def test_reserved_names_are_unique_even_within_one_second(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: results.reserve_path(tmp_path, "s", "stamp"), range(16)))
    assert len(set(paths)) == 16
    assert sorted(path.name for path in paths)[:2] == ["s-stamp-10.json", "s-stamp-11.json"]
    assert (tmp_path / "s-stamp.json") in paths


def test_two_runs_started_together_keep_both_results(tmp_path, write_suite):
    suite = write_suite(QUICK)
    started = [labench("run", suite, "-q", cwd=tmp_path) for _ in range(3)]
    for process in started:
        assert process.wait(timeout=120) == 0, process.communicate()
    saved = sorted((tmp_path / "results").glob("same-*.json"))
    assert len(saved) == 3
    assert len({reader.load(path).run.id for path in saved}) == 3
    assert not [name for name in os.listdir(tmp_path / "results") if name.endswith(".tmp")]
