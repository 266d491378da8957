import json
from collections import Counter

import pytest

from labench.results import reader

MISBEHAVING = """
labench: 1
name: misbehaving
defaults: {max_time: 0.02, warmup: 0.0, min_samples: 3}
benchmarks:
  - id: m
    workload: faulty_workloads:Misbehaving
    implementations: [aborts, honest, exits, sleeps_forever, honest]
  - id: after
    workload: faulty_workloads:Misbehaving
    params: {n: 16}
    implementations: [honest]
"""


def statuses(path):
    return [(case.key, case.status, case.reason) for case in reader.load(path).cases]


def test_crashes_and_hangs_are_recorded_and_the_run_goes_on(cli, write_suite, tmp_path):
    suite = write_suite(MISBEHAVING.replace(", honest]", "]", 1))
    out = tmp_path / "r.json"
    result = cli("run", suite, "-o", out, "--isolate", "--timeout", "3", "-q")
    assert result.exit_code == 1
    found = {key.rsplit("/", 1)[1] + ":" + key.split("/")[0]: (s, r) for key, s, r in statuses(out)}
    assert found["aborts:m"][0] == "error" and "signal SIGABRT" in found["aborts:m"][1]
    assert found["honest:m"] == ("ok", None)
    assert found["exits:m"] == ("error", "worker exited with code 3 before reporting")
    assert found["sleeps_forever:m"] == ("error", "timed out after 3 s (worker killed)")
    assert found["honest:after"] == ("ok", None)


def test_a_per_benchmark_timeout_from_the_suite(cli, write_suite, tmp_path):
    text = MISBEHAVING.replace(
        "implementations: [aborts, honest, exits, sleeps_forever, honest]",
        "implementations: [sleeps_forever, honest]\n    timeout: 1.5",
    )
    suite = write_suite(text)
    result = cli("run", suite, "-o", tmp_path / "r.json", "--isolate", "-q")
    assert result.exit_code == 1
    assert [(s, r) for _, s, r in statuses(tmp_path / "r.json")] == [
        ("error", "timed out after 1.5 s (worker killed)"),
        ("ok", None),
        ("ok", None),
    ]


def test_timeouts_without_isolation_are_refused(cli, write_suite, tmp_path):
    suite = write_suite(MISBEHAVING)
    result = cli("run", suite, "-o", tmp_path / "r.json", "--timeout", "1")
    assert result.exit_code == 2 and "--timeout needs --isolate" in result.output
    with_timeout = write_suite(
        MISBEHAVING.replace("min_samples: 3}", "min_samples: 3, timeout: 5}")
    )
    result = cli("run", with_timeout, "-o", tmp_path / "r.json")
    assert result.exit_code == 2
    assert f"{with_timeout}:3:" in result.output and "needs process isolation" in result.output
    assert not (tmp_path / "r.json").exists()


EXECUTORS = {
    "isolated": ["--isolate"],
    "processes": ["--processes", "2"],
    "fleet": ["--cluster", "local:1"],
}


@pytest.mark.parametrize("flags", EXECUTORS.values(), ids=EXECUTORS.keys())
def test_every_executor_gives_the_in_process_results(
    cli, write_suite, tmp_path, monkeypatch, flags
):
    suite = write_suite(
        MISBEHAVING.replace("aborts, honest, exits, sleeps_forever, honest", "honest")
    )
    if "--cluster" in flags:
        pytest.importorskip("distributed")
        monkeypatch.chdir(tmp_path)  # a fleet writes results/<suite>-<host>-<timestamp>.json
        assert cli("run", suite, "-q", *flags).exit_code == 0
        (saved,) = (tmp_path / "results").glob("*.json")  # beside it, the results store
        saved.rename("a.json")
    else:
        cli("run", suite, "-o", tmp_path / "a.json", "-q", *flags)
    cli("run", suite, "-o", tmp_path / "b.json", "-q")
    other, inline = reader.load(tmp_path / "a.json"), reader.load(tmp_path / "b.json")
    assert [c.key for c in other.cases] == [c.key for c in inline.cases]
    for a, b in zip(other.cases, inline.cases, strict=True):
        assert a.status == b.status == "ok"
        assert a.metrics["error_rel"] == b.metrics["error_rel"]
        assert a.thread_pools == b.thread_pools
    assert inline.run.execution == "in-process"
    assert other.run.execution is not None and other.run.execution != "in-process"


COUNTED = """
labench: 1
name: counted
defaults: {max_time: 0.02, warmup: 0.0, min_samples: 3}
benchmarks:
  - id: c
    workload: faulty_workloads:Counted
    params: {n: [2, 3, 4]}
"""


@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolated"])
def test_an_interrupted_run_resumes_measuring_every_case_exactly_once(
    cli, write_suite, tmp_path, monkeypatch, isolate
):
    suite = write_suite(COUNTED)
    log, out = tmp_path / "measured.log", tmp_path / "r.json"
    monkeypatch.setenv("LABENCH_MEASURE_LOG", str(log))
    monkeypatch.setenv("LABENCH_INTERRUPT_AT", "3/second")
    flags = ["--isolate"] if isolate else []
    flags += ["--retry-noisy", "0"]  # counts measurements: no second look at noisy cases
    first = cli("run", suite, "-o", out, "-q", *flags)
    if isolate:  # the worker's KeyboardInterrupt kills only the worker: recorded, not resumable
        assert first.exit_code == 1
        broken = [key for key, status, _ in statuses(out) if status != "ok"]
        assert broken == ["c/n=3/float64/t1/second"]
    else:
        assert first.exit_code == 130
        assert reader.load(out).run.interrupted
        assert len(reader.load(out).cases) == 3
    monkeypatch.delenv("LABENCH_INTERRUPT_AT")
    again = cli("run", suite, "--resume", out, "-q", *flags)
    assert again.exit_code == 0, again.output
    resumed = reader.load(out)
    assert [case.status for case in resumed.cases] == ["ok"] * 6
    assert [case.key for case in resumed.cases] == [
        f"c/n={n}/float64/t1/{name}" for n in (2, 3, 4) for name in ("first", "second")
    ]
    assert len(resumed.run.resumed) == 1 and not resumed.run.interrupted
    measured = Counter(log.read_text().split())
    assert set(measured) == {f"{n}/{name}" for n in (2, 3, 4) for name in ("first", "second")}
    assert set(measured.values()) == {1}

    if isolate:  # an isolated run is not continued in-process, where a hang could not be stopped
        other_way = cli("run", suite, "--resume", out, "-q")
        assert other_way.exit_code == 2
        assert "isolated (forkserver), now in-process; resume with the same" in other_way.output
    nothing_left = cli("run", suite, "--resume", out, "-q", *flags)
    assert nothing_left.exit_code == 0
    assert Counter(log.read_text().split()) == measured


def test_resume_refuses_another_suite_or_settings(cli, write_suite, tmp_path, monkeypatch):
    monkeypatch.setenv("LABENCH_MEASURE_LOG", str(tmp_path / "measured.log"))
    suite = write_suite(COUNTED)
    out = tmp_path / "r.json"
    cli("run", suite, "-o", out, "-q")
    before = out.read_text()
    changed = write_suite(COUNTED.replace("[2, 3, 4]", "[2, 3]"), "changed.yaml")
    result = cli("run", changed, "--resume", out, "-q")
    assert result.exit_code == 2
    assert "different version" in result.output and "--force" in result.output
    result = cli("run", suite, "--resume", out, "--quick", "-q")
    assert result.exit_code == 2 and "same options" in result.output
    assert out.read_text() == before
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps({"schema": "labench.result/1", "cases": 3}))
    result = cli("run", suite, "--resume", damaged, "-q")
    assert result.exit_code == 2 and "damaged result file" in result.output


def test_resume_refuses_another_machine_unless_forced(cli, write_suite, tmp_path, monkeypatch):
    from labench.execution import resume

    monkeypatch.setenv("LABENCH_MEASURE_LOG", str(tmp_path / "measured.log"))
    suite = write_suite(COUNTED)
    out = tmp_path / "r.json"
    cli("run", suite, "-o", out, "-q")
    before = out.read_text()
    monkeypatch.setattr(resume, "fingerprint", lambda: {"machine_id": "elsewhere"})
    result = cli("run", suite, "--resume", out, "-q")
    assert result.exit_code == 2
    assert "this is elsewhere" in result.output and "--force" in result.output
    assert out.read_text() == before
    assert cli("run", suite, "--resume", out, "-q", "--force").exit_code == 0


def test_one_resume_file_for_several_suites_is_refused(cli, write_suite, tmp_path):
    a, b = write_suite(COUNTED, "a.yaml"), write_suite(COUNTED, "b.yaml")
    result = cli("run", a, b, "--resume", tmp_path / "r.json")
    assert result.exit_code == 2 and "each concern one suite" in result.output
