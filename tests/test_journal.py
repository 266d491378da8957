"""The run journal: finished cases survive a kill, torn or damaged records are never read as
cases, and a killed run reads back and resumes from its journal."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import measured_case

from labench.core.errors import InputError
from labench.core.progress import Observer
from labench.execution.session import new_result, run_suite
from labench.results import model as results
from labench.results import reader
from labench.results.journal import Journal, TornRecordWarning, journal_path, recover
from labench.suite.load import load_suite

TESTS = Path(__file__).resolve().parent

COUNTED = """
labench: 1
name: counted
defaults: {{max_time: 0.002, warmup: 0.0, min_samples: 3}}
benchmarks:
  - id: c
    workload: faulty_workloads:Counted
    params: {{n: [{sizes}]}}
"""


def counted(write_suite, sizes):
    return write_suite(COUNTED.format(sizes=", ".join(map(str, sizes))))


def start_run(suite, out, log, **environment):
    """`labench run` in a real process, as a user would start it."""
    env = os.environ | {"PYTHONPATH": str(TESTS), "LABENCH_MEASURE_LOG": str(log)} | environment
    return subprocess.Popen(
        [sys.executable, "-m", "labench", "run", str(suite), "-o", str(out), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def complete_records(out):
    """The cases whose journal line was completely written (ends with a newline)."""
    lines = journal_path(out).read_bytes().split(b"\n")[1:-1]
    return [json.loads(line)["key"] for line in lines]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_journaled_case_survives_sigkill_at_a_random_point(write_suite, tmp_path, seed):
    chance = random.Random(seed)
    sizes = range(2, 42)  # 80 cases, a few ms each
    out, log = tmp_path / "r.json", tmp_path / "measured.log"
    process = start_run(counted(write_suite, sizes), out, log)
    wanted = chance.randint(1, 50)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal_path(out).exists() and len(complete_records(out)) >= wanted:
            break
        time.sleep(0.001)
    time.sleep(chance.uniform(0, 0.02))  # land anywhere: inside a case, a write, an fsync
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, process.stderr.read().decode()

    journaled = complete_records(out)
    assert len(journaled) >= wanted
    recovered = reader.load(out)
    assert [case.key for case in recovered.cases] == journaled
    assert recovered.run.interrupted and recovered.run.finished is None
    assert all(case.status == "ok" and len(case.timing.samples) >= 3 for case in recovered.cases)
    planned = [f"c/n={n}/float64/t1/{name}" for n in sizes for name in ("first", "second")]
    assert journaled == planned[: len(journaled)]


def test_a_killed_run_shows_its_cases_and_resumes_from_its_journal(write_suite, tmp_path, cli):
    suite = counted(write_suite, [2, 3, 4])
    out, log = tmp_path / "r.json", tmp_path / "measured.log"
    killed = start_run(suite, out, log, LABENCH_KILL_AT="3/second")
    assert killed.wait() == -signal.SIGKILL
    assert len(reader.load(out).cases) == 3
    assert json.loads(out.read_text())["cases"] == []  # the file itself was written at the start
    shown = cli("show", out)
    assert shown.exit_code == 0 and "(interrupted)" in shown.output and "3 ok" in shown.output
    twin = out.with_name("twin.json")  # the killed run again, journal and all, in another file
    twin.write_bytes(out.read_bytes())
    journal_path(twin).write_bytes(journal_path(out).read_bytes())
    assert "3 same" in cli("compare", out, twin).output

    os.environ["LABENCH_MEASURE_LOG"] = str(log)
    try:
        resumed = cli("run", suite, "--resume", out, "-q", "--retry-noisy", "0")
    finally:
        del os.environ["LABENCH_MEASURE_LOG"]
    assert resumed.exit_code == 0, resumed.output
    finished = reader.load(out)
    assert [case.key for case in finished.cases] == [
        f"c/n={n}/float64/t1/{name}" for n in (2, 3, 4) for name in ("first", "second")
    ]
    assert all(case.status == "ok" for case in finished.cases)
    assert not finished.run.interrupted and len(finished.run.resumed) == 1
    assert set(Counter(log.read_text().split()).values()) == {1}  # each measured exactly once
    assert not journal_path(out).exists()


@pytest.fixture
def journaled(write_suite, tmp_path):
    """A journal of four cases, as a killed run leaves it, and the result file beside it."""
    suite = load_suite(counted(write_suite, [2]))
    result = new_result(suite, {})
    out = tmp_path / "r.json"
    results.save(result, out)
    journal = Journal.start(result, out)
    for n in range(4):
        journal.append(measured_case(n=n))
    journal.close()
    return out


def test_a_torn_last_record_is_dropped_with_a_warning(journaled):
    path = journal_path(journaled)
    path.write_bytes(path.read_bytes()[:-25])
    with pytest.warns(TornRecordWarning, match=r"r\.json\.journal:5: .*cut short.* 3 case"):
        recovered = recover(journaled)
    assert [case.params["n"] for case in recovered.cases] == [0, 1, 2]
    assert [case.timing for case in recovered.cases] == [
        measured_case(n=n).timing for n in range(3)
    ]


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            lambda lines: lines.__setitem__(2, b'{"key": '),
            r"journal:3: damaged run journal: line 3 of 5 is not valid JSON",
        ),
        (
            lambda lines: lines.__setitem__(3, lines[3].replace(b'"ok"', b'"great"')),
            r"journal:4: damaged run journal record, refused: status: input should be 'ok'",
        ),
        (
            lambda lines: lines.__setitem__(4, lines[1]),
            r"journal:5: damaged run journal: case b/n=0/float64/t1/numpy twice",
        ),
        (
            lambda lines: lines.__setitem__(0, b'{"cases": []}'),
            r"journal:1: not a labench run journal",
        ),
    ],
    ids=["not-json", "invalid-field", "duplicate", "no-header"],
)
def test_a_damaged_journal_is_refused_naming_the_line(journaled, cli, damage, expected):
    path = journal_path(journaled)
    lines = path.read_bytes().split(b"\n")
    damage(lines)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match=expected):
        reader.load(journaled)
    shown = cli("show", journaled)
    assert shown.exit_code == 2 and "r.json.journal:" in shown.output


def test_a_journal_larger_than_labench_reads_is_refused_before_reading(
    journaled, cli, monkeypatch
):
    size = journal_path(journaled).stat().st_size
    assert journaled.stat().st_size < size - 1  # the result file itself stays under the cap
    monkeypatch.setenv("LABENCH_MAX_JSON_BYTES", str(size - 1))
    with pytest.raises(InputError, match=rf"journal: run journal of more than the {size - 1:,} "):
        reader.load(journaled)
    shown = cli("show", journaled)
    assert shown.exit_code == 2 and "LABENCH_MAX_JSON_BYTES" in shown.output
    assert "Traceback" not in shown.output
    monkeypatch.setenv("LABENCH_MAX_JSON_BYTES", str(size))
    assert len(reader.load(journaled).cases) == 4


def test_a_journal_left_by_another_run_is_not_read(journaled, write_suite):
    newer = new_result(load_suite(counted(write_suite, [2])), {})
    results.save(newer, journaled)  # the window where a new run has its file but not its journal
    assert reader.load(journaled).cases == []


def test_the_result_file_is_written_twice_per_run_whatever_its_length(
    write_suite, tmp_path, monkeypatch
):
    writes = []
    save = results.save
    monkeypatch.setattr(
        results, "save", lambda result, path: (writes.append(1), save(result, path))
    )
    monkeypatch.setenv("LABENCH_MEASURE_LOG", str(tmp_path / "measured.log"))
    for sizes in ([2], range(2, 12)):
        writes.clear()
        suite = load_suite(counted(write_suite, sizes))
        out = tmp_path / "r.json"
        run_suite(suite.cases(), new_result(suite, {}), out, Observer())
        assert len(writes) == 2  # at the start and at the end, never per case
        assert len(reader.load(out).cases) == 2 * len(sizes)
        assert not journal_path(out).exists()
