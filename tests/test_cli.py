import json
import subprocess
import sys

from conftest import ROOT

from labench.core.host import usable_cores
from labench.results import model as results
from labench.results import reader

TINY = """
labench: 1
name: tiny
defaults: {max_time: 0.02, warmup: 0.0, threads: [1, max]}
benchmarks:
  - id: matmul
    workload: kernels.matmul
    params: {n: [16, 32]}
    implementations: [numpy]
  - id: matvec
    workload: kernels.matvec
    params: {n: 64}
    implementations: [numpy]
    dtype: [float64, float32]
"""


def test_run_prints_a_table_and_writes_a_result_that_round_trips(cli, write_suite, tmp_path):
    out = tmp_path / "r.json"
    result = cli("run", write_suite(TINY), "-o", out)
    assert result.exit_code == 0, result.output
    assert "matmul (kernels.matmul, baseline numpy)" in result.output
    assert f"saved {out}" in result.output
    saved = reader.load(out)
    threads = len({1, usable_cores()})
    assert len(saved.cases) == 2 * threads + 2 * threads
    assert all(case.status == "ok" and case.timing.samples for case in saved.cases)
    assert saved.cases[0].key == "matmul/n=16,transfers=False/float64/t1/numpy"
    assert saved.run.finished and not saved.run.interrupted
    assert json.loads(saved.to_json()) == json.loads(out.read_text())
    assert results.Result.model_validate_json(out.read_text()) == saved


def test_show_re_renders_a_saved_run(cli, write_suite, tmp_path):
    out = tmp_path / "r.json"
    cli("run", write_suite(TINY), "-o", out, "-q")
    shown = cli("show", out)
    assert shown.exit_code == 0
    assert "matvec (kernels.matvec, baseline numpy)" in shown.output
    assert "n=64" in shown.output


def test_filter_selects_by_benchmark_or_key(cli, write_suite, tmp_path):
    out = tmp_path / "r.json"
    assert cli("run", write_suite(TINY), "-o", out, "-q", "--filter", "*/float32/*").exit_code == 0
    assert {case.dtype for case in reader.load(out).cases} == {"float32"}
    nothing = cli("run", write_suite(TINY), "-q", "--filter", "nope*")
    assert nothing.exit_code == 2 and "no case matches --filter 'nope*'" in nothing.output


def test_existing_output_is_never_overwritten_without_force(cli, write_suite, tmp_path):
    out = tmp_path / "r.json"
    out.write_text("keep me")
    refused = cli("run", write_suite(TINY), "-o", out)
    assert refused.exit_code == 2
    assert "already exists; labench never overwrites a result" in refused.output
    assert out.read_text() == "keep me"
    assert cli("run", write_suite(TINY), "-o", out, "--force", "-q").exit_code == 0
    reader.load(out)


def test_a_wrong_case_makes_the_run_exit_1(cli, write_suite, tmp_path):
    suite = write_suite(
        "labench: 1\nname: f\ndefaults: {max_time: 0.01}\nbenchmarks:\n"
        "  - {id: d, workload: 'faulty_workloads:Doubling', implementations: [honest, fast_wrong]}\n"
    )
    result = cli("run", suite, "-o", tmp_path / "r.json")
    assert result.exit_code == 1
    assert (
        "d/n=1000/float64/t1/fast_wrong: relative error 0.5 exceeds the tolerance" in result.output
    )


def test_corrupt_and_foreign_result_files_are_exit_2(cli, tmp_path):
    truncated = tmp_path / "t.json"
    truncated.write_text('{"schema": "labench.result/1", "cases": [')
    result = cli("show", truncated)
    assert (
        result.exit_code == 2
        and f"{truncated}:1:" in result.output
        and "not valid JSON" in result.output
    )

    foreign = tmp_path / "f.json"
    foreign.write_text('{"schema": "labench.result/9"}')
    result = cli("show", foreign)
    assert result.exit_code == 2 and "unsupported result schema 'labench.result/9'" in result.output

    other = tmp_path / "o.json"
    other.write_text("[1, 2]")
    assert "not a labench result file" in cli("show", other).output

    damaged = tmp_path / "d.json"
    damaged.write_text('{"schema": "labench.result/1", "suite": {}}')
    result = cli("show", damaged)
    assert result.exit_code == 2 and "damaged result file" in result.output
    assert "Traceback" not in result.output


def test_several_suites_with_one_output_is_refused(cli, write_suite, tmp_path):
    a, b = write_suite(TINY, "a.yaml"), write_suite(TINY, "b.yaml")
    result = cli("run", a, b, "-o", tmp_path / "x.json")
    assert result.exit_code == 2 and "each concern one suite" in result.output


def test_list_shows_workloads_and_backend_availability(cli):
    result = cli("list")
    assert result.exit_code == 0
    assert "kernels.matmul" in result.output and "kernels.matvec" in result.output
    assert "yes" in result.output


def test_env_json_has_the_fingerprint(cli):
    environment = json.loads(cli("env", "--json").output)
    assert {
        "machine_id",
        "cpu",
        "cores_usable",
        "memory_bytes",
        "packages",
        "thread_pools",
        "gpus",
    } <= set(environment)
    assert any(pool["user_api"] == "blas" for pool in environment["thread_pools"])


def test_schema_is_json_schema_of_the_suite_format(cli):
    document = json.loads(cli("schema").output)
    assert document["title"] == "labench suite"
    assert {"labench", "name", "benchmarks"} <= set(document["required"])
    assert "claims" in document["properties"]


def test_python_dash_m_works_and_quick_suite_passes(tmp_path):
    out = tmp_path / "quick.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "labench",
            "run",
            str(ROOT / "suites" / "quick.yaml"),
            "--quick",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "quick on" in completed.stdout
    assert all(case.status in ("ok", "skipped") for case in reader.load(out).cases)
