"""SIGINT and SIGTERM at every phase of a run, each landing exactly there: the run waits at the
phase (labench.core.pause, LABENCH_TEST_PAUSE_AT) until the test signals it. Whatever the phase:
exit 130 or 143, one line and no traceback, no earlier result touched, no worker left behind;
a file already begun is marked interrupted, keeps every finished case and judges no claim, and
`--resume` finishes it, claims included."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import interruptible, rescaled

from labench.core.signals import Terminated
from labench.results import model as results
from labench.results import reader

CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
SIGNALS = pytest.mark.parametrize("sent", list(CODES), ids=["SIGINT", "SIGTERM"])

TINY = """
labench: 1
name: tiny
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: mv, workload: kernels.matvec, params: {n: [8, 16, 32]}, implementations: [numpy]}
claims:
  - {id: c, text: t, benchmark: mv, where: {n: 32}, speedup: {of: numpy, over: numpy},
     at_least: 0.5}
"""
EARLIER = b'{"an earlier result": "kept byte for byte"}'
"""A file in results/ named as a run of the suite would be: no signal may touch it."""


class Stopped:
    """A run held at a phase and signalled there: its exit code, stderr and the pause record."""

    def __init__(self, folder: Path, arguments, phase: str, sent: signal.Signals):
        marker = folder / "paused.json"
        marker.unlink(missing_ok=True)
        environment = os.environ | {
            "LABENCH_TEST_PAUSE_AT": phase,
            "LABENCH_TEST_PAUSE_FILE": str(marker),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "labench", "run", *map(str, arguments)],
            cwd=folder,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=interruptible,
        )
        deadline = time.monotonic() + 180
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for the pause, which lasts until the signal
        assert marker.exists(), f"never reached {phase}: {process.communicate(timeout=60)}"
        self.pause = json.loads(marker.read_text())
        process.send_signal(sent)
        _, stderr = process.communicate(timeout=120)
        self.code, self.stderr = process.returncode, " ".join(stderr.split())


def gone(pids, within=30.0):
    """The processes among `pids` still running after `within` seconds (zombies count as gone:
    they run nothing and hold nothing but their entry, until init reaps them)."""
    deadline = time.monotonic() + within
    while True:
        alive = [pid for pid in pids if _running(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def folder(tmp_path, write_suite):
    """A project folder with the tiny suite and an earlier result where the run saves its own."""
    write_suite(TINY, "tiny.yaml")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "tiny-20000101-000000.json").write_bytes(EARLIER)
    return tmp_path


def new_files(folder):
    """The result files the run made (the earlier one checked intact)."""
    earlier = folder / "results" / "tiny-20000101-000000.json"
    assert earlier.read_bytes() == EARLIER
    return sorted(path for path in (folder / "results").glob("*.json") if path != earlier)


def assert_clean_stop(stopped, sent):
    assert stopped.code == CODES[sent], stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert f"interrupted ({'SIGTERM' if sent == signal.SIGTERM else 'Ctrl-C'})" in stopped.stderr
    assert gone(stopped.pause["children"]) == []


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [(KeyboardInterrupt(), 130, "interrupted (Ctrl-C)"), (Terminated(), 143, "interrupted (SIGTERM)")],
    ids=["SIGINT", "SIGTERM"],
)
def test_every_command_ends_with_the_signals_own_code(cli, monkeypatch, stop, code, said):
    """Left to typer, a SIGTERM inside a command would end with Ctrl-C's 130."""
    from labench.measure import environment

    def stopped():
        raise stop

    monkeypatch.setattr(environment, "fingerprint", stopped)
    ended = cli("env")
    assert ended.exit_code == code and said in ended.output


@SIGNALS
@pytest.mark.parametrize("phase", ["startup", "loading", "planning"])
def test_a_signal_before_measuring_stops_cleanly_and_writes_nothing(folder, phase, sent):
    stopped = Stopped(folder, ["tiny.yaml", "-q"], phase, sent)
    assert_clean_stop(stopped, sent)
    assert new_files(folder) == []


@SIGNALS
@pytest.mark.parametrize(
    ("phase", "options", "kept"),
    [
        ("case:2", ["--isolate"], 2),  # its benchmark's worker process alive, one case to go
        ("retry", [], 3),
        ("claims", [], 3),
        ("saving", [], 3),
    ],
    ids=["case", "retry", "claims", "saving"],
)
def test_a_signal_mid_run_keeps_every_finished_case_and_resume_ends_it(
    folder, cli, monkeypatch, phase, options, kept, sent
):
    stopped = Stopped(folder, ["tiny.yaml", "-q", *options], phase, sent)
    assert_clean_stop(stopped, sent)
    if options:
        assert stopped.pause["children"], "an isolated run has its worker while it measures"
    [path] = new_files(folder)
    assert f"continue with --resume results/{path.name}" in stopped.stderr
    interrupted = reader.load(path)
    assert interrupted.run.interrupted and interrupted.claims == []
    assert len(interrupted.cases) == kept
    assert all(case.status == "ok" for case in interrupted.cases)
    resumed_and_checked(folder, cli, monkeypatch, path, interrupted, options)


def resumed_and_checked(folder, cli, monkeypatch, path, interrupted, options, code=(0,)):
    """Resume `path` here; every case then measured, the earlier ones kept (their samples; a
    gate's confirmation adds those of fresh processes), claims judged."""
    monkeypatch.chdir(folder)
    resumed = cli("run", "tiny.yaml", "-q", "--resume", path, *options)
    assert resumed.exit_code in code, resumed.output
    ended = reader.load(path)
    assert not ended.run.interrupted and [claim.id for claim in ended.claims] == ["c"]
    assert [case.key for case in ended.cases] == [
        f"mv/n={n},transfers=False/float64/t1/numpy" for n in (8, 16, 32)
    ]
    samples = {case.key: set(case.timing.samples) for case in ended.cases}
    assert all(set(case.timing.samples) <= samples[case.key] for case in interrupted.cases)


@SIGNALS
def test_a_signal_while_confirmation_processes_run_kills_them_and_resume_ends_the_gate(
    folder, cli, monkeypatch, sent
):
    monkeypatch.chdir(folder)
    source = folder / "source.json"
    assert cli("run", "tiny.yaml", "-q", "-o", source).exit_code == 0
    # ten times as fast: every case is a suspect, even when the source run met a busy moment
    baseline = folder / "baseline.json"
    results.save(rescaled(reader.load(source), 0.1), baseline)
    gate = ["--baseline", baseline]
    stopped = Stopped(folder, ["tiny.yaml", "-q", "-o", "gated.json", *gate], "worker", sent)
    assert_clean_stop(stopped, sent)
    assert stopped.pause["children"], "a confirmation process runs while the gate confirms"
    gated = folder / "gated.json"
    interrupted = reader.load(gated)
    assert interrupted.run.interrupted and interrupted.claims == []
    assert len(interrupted.cases) == 3
    resumed_and_checked(folder, cli, monkeypatch, gated, interrupted, gate, (0, 1, 3))


@SIGNALS
def test_a_signal_while_tables_are_printed_leaves_the_complete_file_as_it_is(folder, sent):
    stopped = Stopped(folder, ["tiny.yaml"], "printing", sent)
    assert_clean_stop(stopped, sent)
    [path] = new_files(folder)
    assert f"the run was complete, saved in results/{path.name}" in stopped.stderr
    complete = reader.load(path)
    assert not complete.run.interrupted and len(complete.cases) == 3
    assert [claim.id for claim in complete.claims] == ["c"]


FLEET = """
labench: 1
name: tiny
defaults: {warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: quick, workload: kernels.matvec, params: {n: 8}, implementations: [numpy],
     max_time: 0.01}
  - {id: long, workload: kernels.matvec, params: {n: 8}, implementations: [numpy],
     max_time: 3.0, target_rel_ci: 0.00001}
claims:
  - {id: c, text: t, benchmark: quick, speedup: {of: numpy, over: numpy}, at_least: 0.5}
"""


@pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs dask.distributed"
)
@SIGNALS
def test_a_signal_while_fleet_hosts_measure_stops_every_host_and_resume_ends_it(
    folder, write_suite, sent
):
    """The run holds once its host has reported the quick case, while it samples the long one
    for 3 s; the signal ends the LocalCluster's processes and the case workers with it."""
    write_suite(FLEET, "tiny.yaml")
    stopped = Stopped(folder, ["tiny.yaml", "-q", "--cluster", "local:1"], "hosts", sent)
    assert stopped.code == CODES[sent], stopped.stderr
    assert "Traceback" not in stopped.stderr and "interrupted" in stopped.stderr
    assert len(stopped.pause["children"]) >= 2, "a LocalCluster's nanny and worker at least"
    assert gone(stopped.pause["children"]) == []
    [path] = new_files(folder)
    interrupted = reader.load(path)
    assert interrupted.run.interrupted and interrupted.claims == []
    assert [case.benchmark for case in interrupted.cases] == ["quick"]
    resumed = subprocess.run(
        [sys.executable, "-m", "labench", "run", "tiny.yaml", "-q", "--cluster", "local:1",
         "--resume", path],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    ended = reader.load(path)
    assert not ended.run.interrupted and [claim.id for claim in ended.claims] == ["c"]
    assert [case.benchmark for case in ended.cases] == ["quick", "long"]
    assert ended.cases[0].timing.median == interrupted.cases[0].timing.median
