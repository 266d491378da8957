"""pytest-benchmark files in a history: each one process, the history supplying the spread
(`labench compare DIR NEW`, the results store, `labench store import`)."""

import json

import numpy as np
from conftest import measured_case, synthetic_result
from test_history import jittered

from labench.results import model as results
from labench.results.store import opened
from labench.results.views import PYTEST_SUITE

TESTS = ("test_mm.py::test_matmul[64]", "test_mm.py::test_matvec")


def pytest_file(path, factor=1.0, *, hour=0, node="runner-1", medians=None):
    """A `pytest --benchmark-json` file of two tests, their times scaled by `factor`."""
    medians = medians or {TESTS[0]: 1e-4 * factor, TESTS[1]: 3e-5 * factor}
    benchmarks = []
    for fullname, median in medians.items():
        data = list(median * (1 + 0.01 * np.sin(np.arange(9.0))))
        benchmarks.append(
            {
                "name": fullname.split("::")[1],
                "fullname": fullname,
                "group": None,
                "stats": {
                    "median": median,
                    "mean": median,
                    "stddev": 0.01 * median,
                    "rounds": len(data),
                    "data": data,
                },
            }
        )
    document = {
        "machine_info": {"node": node, "machine": "x86_64", "cpu": {"brand_raw": "EPYC"}},
        "commit_info": {"id": f"c{hour:03d}", "branch": "main", "dirty": False},
        "benchmarks": benchmarks,
        "datetime": f"2026-11-0{1 + hour // 24}T{hour % 24:02d}:00:00.000000+00:00",
        "version": "5.1.0",
    }
    path.write_text(json.dumps(document))
    return path


def pytest_history(folder, count=8, prefix="pb", **fields):
    folder.mkdir(exist_ok=True)
    for hour, factor in enumerate(jittered(count)):
        pytest_file(folder / f"{prefix}-{hour:02d}.json", factor, hour=hour, **fields)
    return folder


def one_line(text):
    return " ".join(text.split())


def test_a_pytest_benchmark_run_twice_as_slow_as_its_history_fails_the_gate(cli, tmp_path):
    history = pytest_history(tmp_path / "history")
    slow = pytest_file(
        tmp_path / "new.json", medians={TESTS[0]: 2e-4, TESTS[1]: 3e-5}, hour=30
    )
    judged = cli("compare", history, slow, "--fail-on-regression", "--format", "json")
    assert judged.exit_code == 1, judged.output
    assert "the history in" in judged.output and "8 runs of this machine and suite" in judged.output
    document = json.loads(judged.output[judged.output.index("{") :])
    verdicts = {case["key"]: case for case in document["runs"][0]["cases"]}
    assert verdicts[TESTS[0]]["verdict"] == "slower"
    assert verdicts[TESTS[0]]["basis"] == "noise model", "one process against the history"
    assert verdicts[TESTS[1]]["verdict"] == "same"
    honest = cli("compare", history, pytest_file(tmp_path / "same.json", hour=31))
    assert honest.exit_code == 0, honest.output
    assert "2 same" in one_line(honest.output)


def test_the_store_indexes_pytest_benchmark_runs_by_machine_time_and_commit(tmp_path):
    history = pytest_history(tmp_path / "history", count=3)
    results.save(synthetic_result([measured_case("numpy", 1e-3)]), history / "labench.json")
    with opened(history) as store:
        pytest_runs = store.runs(suite=PYTEST_SUITE)
        assert [run.git_commit for run in pytest_runs] == ["c000", "c001", "c002"]
        assert {run.machine for run in pytest_runs} == {"runner-1"}
        assert pytest_runs[0].started == "2026-11-01T00:00:00+00:00"
        cases = list(store.cases([run.id for run in pytest_runs]))
    assert {case.key for case in cases} == set(TESTS)
    assert {case.benchmark for case in cases} == {"test_mm.py::test_matmul", TESTS[1]}
    assert all(case.process_medians == () for case in cases), "one process each"


def test_other_machines_and_suites_are_left_out_and_named(cli, tmp_path):
    history = pytest_history(tmp_path / "history", count=6)
    pytest_history(tmp_path / "history", count=2, prefix="laptop", node="laptop")
    labench_run = synthetic_result([measured_case("numpy", 1e-3)])
    labench_run.environment.machine_id = "runner-1"
    labench_run.environment.thread_pools = []
    results.save(labench_run, history / "labench.json")
    judged = cli("compare", history, pytest_file(tmp_path / "new.json", hour=40))
    said = one_line(judged.output)
    assert judged.exit_code == 0, judged.output
    assert "6 runs of this machine and suite" in said
    assert "left out: 2 runs of other machines" in said
    assert "left out: 1 runs of another suite (s)" in said


def test_history_refusals_are_one_paragraph_exit_2(cli, tmp_path):
    history = pytest_history(tmp_path / "history", count=4)
    new = pytest_file(tmp_path / "new.json", hour=40)
    several = cli("compare", history, new, new)
    assert several.exit_code == 2 and "judged against one NEW file" in one_line(several.output)
    elsewhere = cli("compare", history, pytest_file(tmp_path / "x.json", node="laptop"))
    assert elsewhere.exit_code == 2
    assert "no earlier run of suite 'pytest-benchmark' on this machine" in one_line(
        elsewhere.output
    )
    (history / "pb-02.json").write_text('{"machine_info": {}, "benchmarks": [{"name": 1}]}')
    damaged = cli("compare", history, new)
    assert damaged.exit_code == 2
    assert "pb-02.json: damaged pytest-benchmark file" in one_line(damaged.output)
    pytest_history(tmp_path / "dated", count=4)
    undated = json.loads((tmp_path / "dated" / "pb-01.json").read_text())
    (tmp_path / "dated" / "pb-01.json").write_text(json.dumps(undated | {"datetime": "yesterday"}))
    misdated = cli("compare", tmp_path / "dated", new)
    assert misdated.exit_code == 2
    said = one_line(misdated.output)
    assert "pb-01.json: damaged pytest-benchmark file: datetime 'yesterday' is not an ISO" in said
    for refused in (several, elsewhere, damaged, misdated):
        assert "Traceback" not in refused.output


def test_store_import_takes_pytest_benchmark_files_and_history_reads_them(cli, tmp_path):
    source = pytest_history(tmp_path / "source", count=6)
    target = tmp_path / "target"
    target.mkdir()
    imported = cli("store", "import", target, source)
    assert imported.exit_code == 0, imported.output
    assert len(list(target.glob("*.json"))) == 6
    shown = cli("history", target, "--all")
    assert shown.exit_code == 0, shown.output
    assert "test_mm.py::test_matvec" in shown.output
