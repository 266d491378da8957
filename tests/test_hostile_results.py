"""Result files that lie, are damaged, or are built to hurt: every command that reads one refuses
it with exit 2, the file and the field named, no traceback, quickly, and changes no file."""

import hashlib
import json
import time

import pytest
from conftest import measured_case

TINY = """
labench: 1
name: tiny
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: b, workload: kernels.matvec, params: {n: [8, 16]}, implementations: [numpy]}
"""


def good_document():
    cases = [measured_case(n=n, seed=n) for n in (1, 2)]
    return json.loads(write_result_text(cases))


def write_result_text(cases):
    from labench.results.model import Environment, Result, RunInfo, SuiteInfo

    return Result(
        suite=SuiteInfo(name="tiny", path="tiny.yaml", sha256="0" * 64, baselines={}),
        run=RunInfo(id="r", started="2026-01-01T00:00:00+00:00", labench_version="0", command=[]),
        environment=Environment(machine_id="m"),
        cases=cases,
    ).to_json()


def lie(mutate):
    """A good document changed by `mutate(document)`, as JSON text."""
    document = good_document()
    mutate(document)
    return json.dumps(document)  # writes NaN and Infinity as Python's json does


def set_timing(field, value, case=0):
    def mutate(document):
        document["cases"][case]["timing"][field] = value

    return mutate


def set_sample(index, value):
    def mutate(document):
        document["cases"][0]["timing"]["samples"][index] = value

    return mutate


def duplicate_key(document):
    document["cases"][1]["key"] = document["cases"][0]["key"]


def empty_samples(document):
    document["cases"][0]["timing"]["samples"] = []


def nan_everywhere(document):
    timing = document["cases"][0]["timing"]
    timing["median"] = float("nan")
    timing["samples"] = [float("nan")] * len(timing["samples"])


def ok_without_timing(document):
    document["cases"][0]["timing"] = None


def memory_as_text(document):
    document["environment"]["memory_bytes"] = "lots"


LIES = {
    "nan-median-and-samples": (lie(nan_everywhere), "cases[0]"),
    "negative-median": (lie(set_timing("median", -1e-3)), "median"),
    "negative-sample": (lie(set_sample(3, -2e-3)), "samples"),
    "infinite-sample": (lie(set_sample(0, float("inf"))), "samples[0]"),
    "empty-samples": (lie(empty_samples), "samples"),
    "ok-without-timing": (lie(ok_without_timing), "cases[0]"),
    "duplicate-keys": (lie(duplicate_key), "appears twice"),
    "median-not-of-its-samples": (lie(set_timing("median", 5.0)), "disagrees with its samples"),
    "environment-of-wrong-type": (lie(memory_as_text), "environment.memory_bytes"),
    "deeply-nested": ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    "truncated": (lie(lambda d: None)[:-40], "not valid JSON"),
    "not-a-result": ('{"schema": "something/else"}', "unsupported result schema"),
    "newer-schema": ('{"schema": "labench.result/9"}', "newer labench"),
}


def digest(folder):
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("*.json")
    }


@pytest.fixture
def folder(tmp_path, write_suite):
    (tmp_path / "good.json").write_text(json.dumps(good_document()))
    write_suite(TINY, "tiny.yaml")
    return tmp_path


def commands(bad, folder):
    good = folder / "good.json"
    return {
        "show": ["show", bad],
        "compare": ["compare", good, bad, "--fail-on-regression"],
        "compare-as-base": ["compare", bad, good, "--fail-on-regression"],
        "export": ["export", bad, "-o", folder / "exported.json"],
        "plot": ["plot", bad, "-o", folder / "figures"],
        "resume": ["run", folder / "tiny.yaml", "--resume", bad, "-q"],
        "baseline": ["run", folder / "tiny.yaml", "-q", "--baseline", bad, "-o", folder / "n.json"],
    }


@pytest.mark.parametrize("name", sorted(LIES))
def test_every_reader_refuses_a_lying_result(cli, folder, name):
    text, field = LIES[name]
    bad = folder / f"{name}.json"
    bad.write_text(text)
    before = digest(folder)
    for command, arguments in commands(bad, folder).items():
        started = time.perf_counter()
        result = cli(*arguments)
        elapsed = time.perf_counter() - started
        message = " ".join(result.output.split())
        assert result.exit_code == 2, (command, result.output)
        assert bad.name in message and field in message, (command, message)
        assert "Traceback" not in result.output
        assert elapsed < 10, (command, elapsed)
        assert digest(folder) == before, f"{command} changed a result file"
        assert not (folder / "figures").exists() and not (folder / "n.json").exists()


def test_an_oversized_file_is_refused_before_it_is_read(cli, folder, monkeypatch):
    monkeypatch.setenv("LABENCH_MAX_JSON_BYTES", "1000")
    result = cli("show", folder / "good.json")
    assert result.exit_code == 2
    assert "more than the 1,000 labench reads" in " ".join(result.output.split())
    assert "LABENCH_MAX_JSON_BYTES" in result.output


def test_a_labench_result_1_file_is_still_read(cli, folder):
    """Files from before the schema went to /2 are migrated, not refused."""
    document = good_document()
    document["schema"] = "labench.result/1"
    for case in document["cases"]:
        del case["flags"]
    for name in ("load", "confirmed"):
        del document["run"][name]
    old = folder / "old.json"
    old.write_text(json.dumps(document))
    assert cli("show", old).exit_code == 0
    assert cli("compare", old, folder / "good.json").exit_code == 0


@pytest.mark.parametrize(
    "stats, field",
    [
        ({"median": float("nan"), "mean": 1.0, "stddev": 0.1, "rounds": 5}, "median"),
        ({"median": -1.0, "mean": 1.0, "stddev": 0.1, "rounds": 5}, "median"),
        ({"median": 1.0, "mean": 1.0, "stddev": 0.1, "rounds": 5, "data": [1.0, -1.0]}, "data"),
        ({"mean": 1.0, "stddev": 0.1, "rounds": 5}, "median"),
    ],
)
def test_a_lying_pytest_benchmark_file_is_refused(cli, folder, stats, field):
    document = {"machine_info": {}, "benchmarks": [{"name": "test_x", "stats": stats}]}
    bad = folder / "pb.json"
    bad.write_text(json.dumps(document))
    result = cli("compare", bad, bad, "--fail-on-regression")
    assert result.exit_code == 2 and "pb.json" in result.output and field in result.output


def test_no_reader_accepts_a_time_of_zero(cli, folder):
    """Zero is finite but no honest per-call time: a divide-by-zero waiting in every ratio."""
    bad = folder / "zero.json"
    bad.write_text(lie(set_timing("min", 0.0)))
    result = cli("compare", folder / "good.json", bad)
    assert result.exit_code == 2 and "min 0.0 is not a positive time" in result.output
