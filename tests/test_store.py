"""The results store: an SQLite index of a folder of result files, kept up to date with them,
rebuilt from them, shared safely by concurrent runs, and never a reason to lose a JSON file."""

import multiprocessing
import sqlite3

import pytest
from conftest import measured_case, rescaled, synthetic_result
from test_history import jittered, write_history

from labench.judge.history import build, from_store, load_all
from labench.results import model as results
from labench.results.store import (
    STORE_NAME,
    index_saved,
    open_store,
    opened,
    rebuild,
)


def steps_of(history):
    return {
        case.key: [(step.index, round(step.ratio, 6)) for step in case.fit.steps]
        for case in history.cases
    }


def test_a_history_read_through_the_store_is_the_history_of_the_files(tmp_path):
    factors = jittered(20)
    factors[12:] = [1.25 * factor for factor in factors[12:]]
    folder = write_history(tmp_path / "results", factors)
    with opened(folder) as store:
        stored = build(from_store(store))
    from_files = build(load_all([folder]))
    assert steps_of(stored) == steps_of(from_files)
    assert [run.id for run in stored.runs] == [run.id for run in from_files.runs]
    assert all(
        steps == [(12, pytest.approx(1.25, rel=0.03))] for steps in steps_of(stored).values()
    )


def test_the_store_follows_the_files_added_changed_and_removed(tmp_path):
    folder = write_history(tmp_path / "results", [1.0] * 6)
    with opened(folder) as store:
        assert len(store.runs()) == 6
    store = open_store(folder)
    try:
        assert store.sync() == 0, "nothing changed: nothing is read again"
        base = synthetic_result([measured_case("numpy", 1e-3)])
        results.save(
            rescaled(base, 2.0, id="new", started="2026-02-01T00:00:00+00:00"), folder / "new.json"
        )
        (folder / "m1-00.json").unlink()
        assert store.sync() == 1, "only the new file is read"
        runs = store.runs()
        assert len(runs) == 6 and runs[-1].run_id == "new"
        assert "m1-00.json" not in {run.file for run in runs}
        (new,) = [case for case in store.cases([runs[-1].id])]
        assert new.median == pytest.approx(2e-3, rel=0.01)
    finally:
        store.close()


def test_a_run_saved_into_a_folder_with_a_store_is_indexed_at_once(tmp_path):
    folder = write_history(tmp_path / "results", [1.0] * 3)
    rebuild(folder)
    path = folder / "later.json"
    result = rescaled(synthetic_result([measured_case("numpy", 1e-3)]), 1.0, id="later")
    results.save(result, path)
    assert index_saved(result, path) is None
    with sqlite3.connect(folder / STORE_NAME) as connection:
        rows = connection.execute("SELECT run_id FROM runs WHERE file = 'later.json'").fetchall()
    assert rows == [("later",)]


def test_a_folder_without_a_store_gets_none_when_a_run_is_saved(tmp_path):
    path = tmp_path / "one.json"
    result = synthetic_result([measured_case("numpy", 1e-3)])
    results.save(result, path)
    assert index_saved(result, path) is None
    assert not (tmp_path / STORE_NAME).exists()


def test_a_store_that_cannot_be_written_keeps_the_json_and_says_so(tmp_path):
    (tmp_path / STORE_NAME).mkdir()  # a folder where the database should be: unopenable
    path = tmp_path / "one.json"
    result = synthetic_result([measured_case("numpy", 1e-3)])
    results.save(result, path)
    problem = index_saved(result, path)
    assert problem is not None and str(path) in problem and "not updated" in problem
    assert results.from_document(path, __import__("json").loads(path.read_text())) == result


def store_changed_by(tmp_path, statement):
    """A folder of three runs whose store was then changed by an SQL statement."""
    folder = write_history(tmp_path / "results", [1.0] * 3)
    rebuild(folder)
    with sqlite3.connect(folder / STORE_NAME) as connection:  # foreign keys off, as by default
        connection.execute(statement)
    return folder


def test_a_store_from_a_newer_labench_is_refused_naming_its_version(cli, tmp_path):
    folder = store_changed_by(
        tmp_path, "UPDATE meta SET value = '99' WHERE name = 'schema_version'"
    )
    shown = cli("history", folder)
    assert shown.exit_code == 2
    assert "schema version 99" in shown.output and "newer labench" in shown.output
    assert "Traceback" not in shown.output


@pytest.mark.parametrize("damage", ["junk", "truncated"])
def test_a_damaged_store_names_the_rebuild_command_and_the_files_stay(cli, tmp_path, damage):
    folder = write_history(tmp_path / "results", [1.0] * 4)
    rebuild(folder)
    before = {path.name: path.read_bytes() for path in folder.glob("*.json")}
    database = folder / STORE_NAME
    if damage == "junk":
        database.write_bytes(b"not a database at all" * 100)
    else:
        database.write_bytes(database.read_bytes()[:3000])
    shown = cli("history", folder)
    assert shown.exit_code == 2, shown.output
    assert f"labench store rebuild {folder}" in " ".join(shown.output.split())
    assert {path.name: path.read_bytes() for path in folder.glob("*.json")} == before
    rebuilt = cli("store", "rebuild", folder)
    assert rebuilt.exit_code == 0 and "indexed 4 runs" in rebuilt.output
    assert cli("history", folder).exit_code == 0


def test_a_damaged_result_file_in_the_folder_is_refused_by_name(cli, tmp_path):
    folder = write_history(tmp_path / "results", [1.0] * 4)
    (folder / "m1-02.json").write_text('{"schema": "labench.result/2", "suite": 3}')
    shown = cli("history", folder)
    assert shown.exit_code == 2 and "m1-02.json" in shown.output


def _save_runs(folder, first, count):
    base = synthetic_result([measured_case("numpy", 1e-3), measured_case("numba", 2e-3)])
    for index in range(first, first + count):
        path = folder / f"p{index:03d}.json"
        result = rescaled(
            base, 1.0, id=f"p{index:03d}", started=f"2026-03-01T00:00:{index % 60:02d}+00:00"
        )
        results.save(result, path)
        message = index_saved(result, path)
        assert message is None, message


def test_five_runs_saving_into_one_store_at_once_all_land(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    rebuild(folder)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_save_runs, args=(folder, 10 * k, 10)) for k in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0] * 5
    store = open_store(folder)
    try:
        assert store.sync() == 0, "every run was indexed when it was saved"
        runs = store.runs()
        assert len(runs) == 50
        assert sum(1 for _ in store.cases([run.id for run in runs])) == 100
    finally:
        store.close()


def test_import_copies_validated_runs_once_and_refuses_a_damaged_one(cli, tmp_path):
    home = write_history(tmp_path / "home", [1.0] * 3)
    elsewhere = write_history(tmp_path / "elsewhere", [1.0] * 3, machine="m2")
    shown = cli("store", "import", home, elsewhere)
    assert shown.exit_code == 0 and "imported 3 runs" in shown.output
    assert cli("store", "import", home, elsewhere).output.count("3 were there already") == 1
    with opened(home) as store:
        assert {run.machine for run in store.runs()} == {"m1", "m2"}
    (elsewhere / "bad.json").write_text("{")
    before = sorted(path.name for path in home.iterdir())
    refused = cli("store", "import", home, elsewhere)
    assert refused.exit_code == 2 and "bad.json" in refused.output
    assert sorted(path.name for path in home.iterdir()) == before


def test_store_check_reports_a_sound_store(cli, tmp_path):
    folder = write_history(tmp_path / "results", [1.0] * 3)
    shown = cli("store", "check", folder)
    assert shown.exit_code == 0 and "store sound, 3 runs indexed" in shown.output
    assert cli("store", "rebuild", tmp_path / "missing").exit_code == 2


def test_runs_on_another_blas_are_left_out_and_the_header_says_so(cli, tmp_path):
    folder = write_history(tmp_path / "results", [1.0] * 4)
    base = synthetic_result([measured_case("numpy", 1e-3), measured_case("numba", 1e-3)])
    for index in range(2):
        result = rescaled(base, 1.0, id=f"mkl{index}", started=f"2026-01-02T0{index}:00:00+00:00")
        result.environment.thread_pools = [
            {"user_api": "blas", "internal_api": "mkl", "architecture": "Haswell"}
        ]
        results.save(result, folder / f"mkl{index}.json")
    shown = cli("history", folder)
    assert shown.exit_code == 0, shown.output
    assert "2 runs of machine m1 in time order" in shown.output
    assert "4 runs of machine m1 on another BLAS (-)" in " ".join(shown.output.split())


def test_values_out_of_place_in_a_store_are_reported_as_damage(cli, tmp_path):
    folder = store_changed_by(tmp_path, "UPDATE runs SET file = x'00ff' WHERE file = 'm1-01.json'")
    shown = cli("history", folder)
    assert shown.exit_code == 2 and "out of place" in shown.output
    assert "labench store rebuild" in " ".join(shown.output.split())


def test_case_rows_of_no_run_are_left_out(tmp_path):
    folder = store_changed_by(
        tmp_path,
        "INSERT INTO cases SELECT 999, series, status, median, ci_low, ci_high, spread,"
        " process_medians, flags FROM cases LIMIT 1",
    )
    with opened(folder) as store:
        history = build(from_store(store))
    assert len(history.runs) == 3
    assert all(len(case.runs) == 3 for case in history.cases)
