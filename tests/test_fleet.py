"""Fleet runs on a LocalCluster whose workers stand in for hosts local-0, local-1: one result per
host, user workload modules shipped, a killed host losing only its own result, and workers of
another labench version refused before anything runs. Tiny suites keep each run to seconds."""

import signal
import sys
import textwrap

import pytest

from labench.results import model as results
from labench.results import reader

pytest.importorskip("distributed")

FLEET = """
labench: 1
name: fleet
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3, threads: 1}
benchmarks:
  - id: builtin
    workload: kernels.matvec
    params: {n: 64}
    implementations: [numpy]
  - id: shipped
    workload: shipped_workload:Doubling
"""

TWO_MORE = """\
  - id: more
    workload: kernels.matvec
    params: {n: [32, 48]}
    implementations: [numpy]
"""

SHIPPED = """
import numpy as np

from labench.workloads import Param, Workload, implementation


class Doubling(Workload):
    name = "test.doubling"
    params = {"n": Param(16, int, positive=True)}

    def make_inputs(self, params, dtype, rng):
        return {"x": rng.standard_normal(params["n"]).astype(dtype)}

    def reference(self, inputs, params):
        return 2.0 * inputs["x"].astype(np.float64)

    @implementation("numpy")
    def numpy(self, inputs, params):
        x = inputs["x"]
        return lambda: 2.0 * x
"""


def test_each_host_gets_a_result_and_user_modules_travel(cli, write_suite, tmp_path, monkeypatch):
    (tmp_path / "shipped_workload.py").write_text(textwrap.dedent(SHIPPED))
    suite = write_suite(FLEET)
    monkeypatch.chdir(tmp_path)
    outcome = cli("run", suite, "--cluster", "local", "-q")
    sys.modules.pop("shipped_workload", None)
    assert outcome.exit_code == 0, outcome.output
    files = sorted((tmp_path / "results").glob("fleet-local-*.json"))
    assert [path.name.split("-")[:3] for path in files] == [
        ["fleet", "local", "0"],
        ["fleet", "local", "1"],
    ]
    for index, path in enumerate(files):
        run = reader.load(path)
        assert run.environment.hostname == f"local-{index}"
        assert run.run.execution == "isolated (forkserver)"
        assert [(case.benchmark, case.status) for case in run.cases] == [
            ("builtin", "ok"),
            ("shipped", "ok"),
        ]
    assert "local-0" in outcome.output and "local-1" in outcome.output  # the comparison
    resumed = cli("run", suite, "--resume", files[0], "--isolate", "-q")  # on its host
    assert resumed.exit_code == 0, resumed.output
    assert "0 cases to run" in resumed.output
    sys.modules.pop("shipped_workload", None)


def test_ctrl_c_keeps_every_finished_host_and_resume_completes_them(
    cli, write_suite, tmp_path, monkeypatch
):
    import _thread

    from labench.execution import session

    judged = session.evaluate_all

    def interrupt_after_first_host(*args):
        _thread.interrupt_main()  # as Ctrl-C would, while the first host is being saved
        return judged(*args)

    monkeypatch.setattr(session, "evaluate_all", interrupt_after_first_host)
    monkeypatch.chdir(tmp_path)
    suite = write_suite(FLEET.split("  - id: shipped")[0] + TWO_MORE)
    # interrupt_main acts as SIGINT's handler would: none, where the test process inherited
    # SIGINT ignored (a CI job started in a shell's background)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        outcome = cli("run", suite, "--cluster", "local")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert outcome.exit_code == 130
    first, *running = sorted(tmp_path.glob("results/*.json"))
    assert first.name.startswith("fleet-local-0-")
    run = reader.load(first)
    assert [case.status for case in run.cases] == ["ok"] * 3 and not run.run.interrupted
    for path in running:  # the next host may have started before the interrupt landed
        assert path.name.startswith("fleet-local-1-") and reader.load(path).run.interrupted
    assert "finished cases are kept" in outcome.output and "--resume" in outcome.output

    monkeypatch.setattr(session, "evaluate_all", judged)
    before = first.read_bytes()
    resumed = cli("run", suite, "--cluster", "local", "--resume", first, "-q")
    assert resumed.exit_code == 0, resumed.output
    stamp = first.name.removeprefix("fleet-local-0-")
    files = sorted(tmp_path.glob("results/*.json"))
    assert [path.name for path in files] == [f"fleet-local-{i}-{stamp}" for i in (0, 1)]
    kept, finished = (reader.load(path) for path in files)
    assert kept.cases == run.cases  # the same measurements, samples and all
    assert kept.run.resumed and first.read_bytes() != before  # continued, nothing lost
    assert [case.status for case in finished.cases] == ["ok"] * 3
    assert not finished.run.interrupted and finished.environment.hostname == "local-1"


def test_a_killed_host_loses_only_its_own_result(cli, write_suite, tmp_path, monkeypatch):
    if sys.platform != "linux":
        pytest.skip("finds the host process through /proc")
    suite = write_suite(
        FLEET.split("  - id: shipped")[0]
        + "  - id: killer\n    workload: faulty_workloads:KillsItsHost\n"
        + "  - id: after\n    workload: kernels.matvec\n    params: {n: 32}\n"
        + "    implementations: [numpy]\n"
    )
    monkeypatch.setenv("LABENCH_KILL_MARK", str(tmp_path / "killed-once"))
    monkeypatch.chdir(tmp_path)
    outcome = cli("run", suite, "--cluster", "local", "-q")
    assert outcome.exit_code == 1
    assert "local-0: lost" in outcome.output
    paths = sorted(tmp_path.glob("results/*.json"))
    first, second = (reader.load(path) for path in paths)
    assert [case.status for case in first.cases] == ["ok", "error", "error"]
    assert all("host local-0 lost" in case.reason for case in first.cases[1:])
    assert [case.status for case in second.cases] == ["ok", "ok", "ok"]

    untouched = paths[1].read_bytes()
    resumed = cli("run", suite, "--cluster", "local", "--resume", paths[1], "-q")
    assert resumed.exit_code == 0, resumed.output  # the host is back: it measures what it lost
    assert "cases to run: local-0 2, local-1 0" in resumed.output
    again = reader.load(paths[0])
    assert [case.status for case in again.cases] == ["ok", "ok", "ok"]
    assert again.cases[0] == first.cases[0] and again.run.resumed
    assert paths[1].read_bytes() != untouched and reader.load(paths[1]).cases == second.cases
    assert sorted(tmp_path.glob("results/*.json")) == paths


def test_a_worker_of_another_version_is_refused_before_anything_runs(
    cli, write_suite, tmp_path, monkeypatch
):
    from labench.execution import fleet

    monkeypatch.setattr(fleet, "labench_version", lambda: "0.0.0-other")
    monkeypatch.chdir(tmp_path)
    outcome = cli("run", write_suite(FLEET.split("  - id: shipped")[0]), "--cluster", "local:1")
    assert outcome.exit_code == 2
    assert "on local-0 has labench" in outcome.output
    assert "this is 0.0.0-other; install the same version" in outcome.output
    assert not (tmp_path / "results").exists()


def test_options_about_one_result_file_are_refused_with_a_fleet(cli, write_suite, tmp_path):
    suite = write_suite(FLEET.split("  - id: shipped")[0])
    outcome = cli("run", suite, "--cluster", "local", "-o", tmp_path / "r.json", "--processes", "2")
    assert outcome.exit_code == 2
    assert "-o with --cluster" in outcome.output and "--processes with --cluster" in outcome.output
    outcome = cli("run", suite, "--cluster", "local:0")
    assert outcome.exit_code == 2 and "expected at least one local worker" in outcome.output
    outcome = cli("run", suite, "--cluster", "nonsense")
    assert outcome.exit_code == 2 and "such as tcp://host:8786" in outcome.output


def test_resume_refuses_a_file_of_another_machine_starts_new_hosts_and_leaves_gone_ones(
    cli, write_suite, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    suite = write_suite(FLEET.split("  - id: shipped")[0] + TWO_MORE)
    stamp = "20260101-000000"
    mine, new, gone = (tmp_path / "results" / f"fleet-local-{i}-{stamp}.json" for i in (0, 1, 2))
    made = cli("run", suite, "--isolate", "--filter", "more", "-o", mine, "-q")
    assert made.exit_code == 0, made.output
    earlier = reader.load(mine)
    machine = earlier.environment.machine_id
    earlier.environment.hostname = "local-2"
    results.save(earlier, gone)
    earlier.environment.hostname, earlier.environment.machine_id = "local-0", "elsewhere"
    results.save(earlier, mine)
    before = {path: path.read_bytes() for path in (mine, gone)}

    outcome = cli("run", suite, "--cluster", "local:1", "--resume", mine)
    assert outcome.exit_code == 2
    assert f"{mine}: was measured on machine elsewhere, host local-0 is now {machine}" in (
        " ".join(outcome.output.split())
    )
    assert "pass --force" in outcome.output and "Traceback" not in outcome.output
    assert {path: path.read_bytes() for path in before} == before

    outcome = cli("run", suite, "--cluster", "local:1", "--resume", gone)
    assert outcome.exit_code == 2 and "host local-0 is now" in outcome.output  # any file: the run

    earlier.environment.machine_id = machine
    results.save(earlier, mine)
    outcome = cli("run", suite, "--cluster", "local", "--resume", gone, "-q")
    assert outcome.exit_code == 0, outcome.output
    assert f"local-2: not in the cluster now; {gone} is left as it is" in (
        " ".join(outcome.output.split())
    )
    assert "cases to run: local-0 1, local-1 3" in outcome.output
    assert gone.read_bytes() == before[gone]
    for path in (mine, new):  # continued, and started afresh with the same stamp
        assert [case.benchmark for case in reader.load(path).cases] == ["builtin", "more", "more"]
    assert reader.load(new).environment.hostname == "local-1"

    renamed = tmp_path / "renamed.json"
    renamed.write_bytes(mine.read_bytes())
    outcome = cli("run", suite, "--cluster", "local:1", "--resume", renamed)
    assert outcome.exit_code == 2 and "not a host's file of a fleet run" in outcome.output


def test_a_fleet_runs_files_are_found_by_suite_host_and_stamp_whatever_their_dashes(tmp_path):
    from conftest import synthetic_result

    from labench.core.errors import InputError
    from labench.execution.fleet_resume import fleet_files

    def save(suite, host, name):
        result = synthetic_result([])
        result.suite.name, result.environment.hostname = suite, host
        results.save(result, tmp_path / name)
        return tmp_path / name

    stamp = "20260101-000000-2"  # reserve_path's second file of that second
    mine = save("s", "node-1", f"s-node-1-{stamp}.json")
    cluster = save("s", "cluster", f"s-cluster-{stamp}.json")
    save("s", "node-2", "s-node-2-20260101-000001.json")  # another run
    save("s-x", "node-1", f"s-x-node-1-{stamp}.json")  # another suite, same stamp
    save("s", "node-3", f"s-node-9-{stamp}.json")  # renamed: names no host it measured
    found = fleet_files(cluster)
    assert found.stamp == stamp
    assert {name: path for name, (path, _) in found.files.items()} == {
        "node-1": mine,
        "cluster": cluster,
    }
    with pytest.raises(InputError, match="not a host's file of a fleet run"):
        fleet_files(tmp_path / f"s-node-9-{stamp}.json")


@pytest.mark.parametrize(
    "address, warned",
    [
        ("tcp://10.0.0.5:8786", True),
        ("gpu-host:8786", True),
        ("tcp://127.0.0.1:8786", False),
        ("tcp://localhost:8786", False),
        ("tcp://[::1]:8786", False),
        ("tls://10.0.0.5:8786", False),
        ("local:2", False),
    ],
)
def test_a_plain_tcp_scheduler_on_another_machine_is_warned_about(address, warned):
    from labench.execution.fleet import exposure

    said = exposure(address)
    assert (said is not None) == warned
    if warned:
        assert "can run code on every worker" in said and "tls://" in said
