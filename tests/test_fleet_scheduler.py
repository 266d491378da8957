"""Fleet runs against a real scheduler: `dask scheduler` and `dask worker` started as processes on
127.0.0.1, as a user would start them, shared by the tests of this module. Two workers on one
hostname are one host, named after the hostname. Also: an address where nothing listens is
refused quickly and cleanly."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_fleet import FLEET, SHIPPED

from labench.results import model as results
from labench.results import reader

pytest.importorskip("distributed")

TINY = FLEET.split("  - id: shipped")[0]
"""One matvec case."""

WORKERS = 2
START_LIMIT = 60.0
"""Seconds the scheduler and its workers may take to come up on a busy 2-core machine."""
STOP_GRACE = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a scheduler with WORKERS one-thread workers, started non-daemonic as the
    README says; every process is stopped at the end, also when a test (or the start) fails."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask-processes")
    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    local = ["--host", "127.0.0.1", "--no-dashboard"]
    commands = [
        [dask, "scheduler", "--port", str(port), *local],
        [dask, "worker", address, "--nthreads", "1", "--nworkers", str(WORKERS), *local],
    ]
    processes: list[subprocess.Popen] = []
    try:
        launch(commands, folder, processes)
        with Client(address, timeout=f"{START_LIMIT}s") as client:
            client.wait_for_workers(WORKERS, timeout=START_LIMIT)
        yield address
    finally:
        stop(processes)


def launch(commands: list[list[str]], folder: Path, processes: list[subprocess.Popen]) -> None:
    """Start each command non-daemonic (as the README says) in its own session, logging to
    `folder`, appending each to `processes` as it starts so that `stop` finds it on failure."""
    environment = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    for index, command in enumerate(commands):
        with open(folder / f"{index}.log", "w") as log:
            processes.append(
                subprocess.Popen(
                    command,
                    cwd=folder,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # the nannies' worker processes stop with them
                )
            )


def stop(processes: list[subprocess.Popen]) -> None:
    """Each process's whole group: SIGTERM, then SIGKILL for what is still there after a grace
    (a nanny may take several seconds to close its workers cleanly; no test needs that)."""
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_run_against_a_real_scheduler_gives_one_result_per_hostname(
    cli, write_suite, tmp_path, monkeypatch, scheduler
):
    from labench.execution.fleet import _safe

    monkeypatch.chdir(tmp_path)
    outcome = cli("run", write_suite(TINY), "--cluster", scheduler, "-q")
    assert outcome.exit_code == 0, outcome.output
    host = _safe(socket.gethostname())
    assert f"on each of 1 hosts ({host})" in outcome.output  # two workers, one machine
    (path,) = tmp_path.glob("results/*.json")
    assert path.name.startswith(f"fleet-{host}-")
    run = reader.load(path)
    assert run.environment.hostname == host
    assert [case.status for case in run.cases] == ["ok"]


def test_an_address_where_nothing_listens_is_refused_quickly(
    cli, write_suite, tmp_path, monkeypatch
):
    from labench.execution import fleet

    monkeypatch.chdir(tmp_path)
    suite = write_suite(TINY)
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setattr(fleet, "CONNECT_TIMEOUT", 0.5)  # the default's behaviour, sooner
    started = time.monotonic()
    outcome = cli("run", suite, "--cluster", address)
    waited = time.monotonic() - started
    monkeypatch.setattr(fleet, "CONNECT_TIMEOUT", 2.5)
    started = time.monotonic()
    longer = cli("run", suite, "--cluster", address)
    assert outcome.exit_code == longer.exit_code == 2
    assert f"--cluster {address}: cannot reach a Dask scheduler there" in outcome.output
    assert "Traceback" not in outcome.output and not (tmp_path / "results").exists()
    assert waited < time.monotonic() - started  # it gives up after CONNECT_TIMEOUT, not later


ON_THE_CLUSTER = (
    SHIPPED
    + """
    @implementation("dask")
    def submitted(self, inputs, params):
        import os

        from distributed import Client

        client = Client(os.environ["LABENCH_DASK_SCHEDULER"], set_as_default=False)
        x = client.scatter(inputs["x"])
        return lambda: client.submit(np.multiply, 2.0, x, pure=False).result()
"""
)
"""The shipped workload of test_fleet plus a dask implementation that computes on the scheduler
named by LABENCH_DASK_SCHEDULER, so it fails unless the variable reaches it."""


def test_dask_cases_run_once_on_the_whole_cluster_after_the_hosts(
    cli, write_suite, tmp_path, monkeypatch, scheduler
):
    from labench.execution.fleet import _safe

    (tmp_path / "on_the_cluster.py").write_text(ON_THE_CLUSTER)
    suite = write_suite(
        TINY
        + "  - id: submitted\n    workload: on_the_cluster:Doubling\n"
        + "  - id: blocks\n    workload: kernels.matvec\n    params: {n: 64}\n"
        + "    implementations: [numpy, dask]\n"
    )
    monkeypatch.chdir(tmp_path)
    outcome = cli("run", suite, "--cluster", scheduler, "-q")
    sys.modules.pop("on_the_cluster", None)
    assert outcome.exit_code == 0, outcome.output
    assert "3 cases on each of 1 hosts" in outcome.output
    assert "then 2 dask cases on the cluster" in outcome.output
    on_host, whole = (
        reader.load(next(tmp_path.glob(f"results/fleet-{name}-*.json")))
        for name in (_safe(socket.gethostname()), "cluster")
    )
    assert [case.implementation for case in on_host.cases] == ["numpy"] * 3
    assert [(case.benchmark, case.status) for case in whole.cases] == [
        ("submitted", "ok"),  # it reached the scheduler named by LABENCH_DASK_SCHEDULER
        ("blocks", "ok"),
    ]
    assert whole.environment.hostname == "cluster"
    assert whole.environment.cores_logical == WORKERS  # one thread each
    assert f"{WORKERS} workers" in whole.environment.cpu
    assert whole.environment.machine_id != on_host.environment.machine_id

    cut = next(tmp_path.glob("results/fleet-cluster-*.json"))  # as if stopped after one case
    whole.cases, whole.run.interrupted = whole.cases[:1], True
    results.save(whole, cut)
    resumed = cli("run", suite, "--cluster", scheduler, "--resume", cut, "-q")
    sys.modules.pop("on_the_cluster", None)
    assert resumed.exit_code == 0, resumed.output
    again = reader.load(cut)
    assert [case.benchmark for case in again.cases] == ["submitted", "blocks"]
    assert again.cases[0] == whole.cases[0] and again.run.resumed and not again.run.interrupted
    assert len(list(tmp_path.glob("results/*.json"))) == 2
