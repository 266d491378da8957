"""The results store: an SQLite index of a folder of result files, so a year of runs answers in a
second.

The JSON files stay the exchange format and the source of truth; the store holds only what
history and the history gate read (per case: status, median and its CI, the run's own spread,
the process medians and the flags; per run: machine, BLAS, suite, commit, time), indexed by
machine, suite, case key, commit and time. It lives beside the files (`labench.sqlite` in their
folder), is brought up to date with them whenever it is read (files added, changed or removed
since: by name, size and modification time, so only those are read), and can always be thrown
away and rebuilt from them (`labench store rebuild`).

Concurrency: WAL journaling and a busy timeout, each run added in one IMMEDIATE transaction, so
runs saving into one store at once all land. A store this labench cannot trust (a newer schema,
a damaged file) is refused with the command that rebuilds it; store trouble never touches a
JSON result.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labench.core.errors import InputError
from labench.core.stats import run_spread
from labench.results import reader
from labench.results.model import CaseResult, Environment, Result
from labench.results.views import PYTEST_SUITE, PytestRun, load_any

STORE_NAME = "labench.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000
MEASURED_ROW = np.dtype(
    [
        ("series", np.int64),
        ("run", np.int64),
        ("median", np.float64),
        ("ci_low", np.float64),
        ("ci_high", np.float64),
        ("spread", np.float64),
    ]
)
DEFAULT_FOLDER = Path("results")
"""Where `labench run` saves by default; runs saved there are always indexed."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    machine TEXT NOT NULL,
    blas TEXT NOT NULL,
    suite TEXT NOT NULL,
    started TEXT NOT NULL,
    git_commit TEXT,
    git_branch TEXT,
    git_dirty INTEGER,
    label TEXT,
    processes INTEGER NOT NULL,
    interrupted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_series ON runs (machine, suite, started);
CREATE INDEX IF NOT EXISTS runs_by_commit ON runs (git_commit);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    suite TEXT NOT NULL,
    key TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    UNIQUE (suite, key)
);
CREATE TABLE IF NOT EXISTS cases (
    run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    series INTEGER NOT NULL REFERENCES series (id),
    status TEXT NOT NULL,
    median REAL,
    ci_low REAL,
    ci_high REAL,
    spread REAL NOT NULL,
    process_medians TEXT NOT NULL,
    flags TEXT NOT NULL,
    PRIMARY KEY (run, series)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cases_by_series ON cases (series);
"""


@dataclass(frozen=True)
class StoredRun:
    """One run as the store knows it: what orders, names and splits a history."""

    id: int
    file: str
    run_id: str
    machine: str
    blas: str
    suite: str
    started: str
    git_commit: str | None
    git_branch: str | None
    git_dirty: bool | None
    label: str | None
    processes: int
    interrupted: bool


@dataclass(frozen=True)
class StoredCase:
    """One case of one run: what history and the history gate need of it."""

    run: int
    key: str
    benchmark: str
    status: str
    median: float | None
    ci95: tuple[float, float] | None
    process_medians: tuple[float, ...]
    flags: tuple[str, ...]


def blas_of(environment: Environment) -> str:
    """The BLAS a run used (library and architecture, not version): runs on another BLAS are
    another machine to a history, as a new CPU would be."""
    found = sorted(
        {
            "-".join(str(pool.get(part)) for part in ("internal_api", "architecture"))
            for pool in environment.thread_pools
            if pool.get("user_api") == "blas"
        }
    )
    return "+".join(found) or "-"


class Store:
    """An open store; use `open_store`."""

    def __init__(self, connection: sqlite3.Connection, folder: Path) -> None:
        self.connection = connection
        self.folder = folder

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: a writer waits for another (up to the busy timeout)
        instead of failing half-way."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.rollback()
            raise
        self.connection.commit()

    def add(self, result: Result | PytestRun, path: Path) -> None:
        """Index one saved run (replacing what the store held for the same file)."""
        with self._writing() as connection:
            self._insert(connection, result, path)

    def _insert(
        self, connection: sqlite3.Connection, result: Result | PytestRun, path: Path
    ) -> None:
        stat = path.stat()
        connection.execute("DELETE FROM runs WHERE file = ?", (path.name,))
        if isinstance(result, PytestRun):
            suite, cases = PYTEST_SUITE, _pytest_rows(result)
            fields: tuple[object, ...] = (
                path.stem,
                result.environment.machine_id,
                blas_of(result.environment),
                suite,
                result.started,
                result.git_commit,
                result.git_branch,
                result.git_dirty,
                None,
                1,
                False,
            )
        else:
            run, suite = result.run, result.suite.name
            cases = [(case.key, case.benchmark, _case_row(case)) for case in result.cases]
            fields = (
                run.id,
                result.environment.machine_id,
                blas_of(result.environment),
                suite,
                run.started,
                run.git_commit,
                run.git_branch,
                run.git_dirty,
                run.label,
                run.processes,
                run.interrupted,
            )
        cursor = connection.execute(
            "INSERT INTO runs (file, size, mtime_ns, run_id, machine, blas, suite, started,"
            " git_commit, git_branch, git_dirty, label, processes, interrupted)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (path.name, stat.st_size, stat.st_mtime_ns, *fields),
        )
        connection.executemany(
            "INSERT OR IGNORE INTO series (suite, key, benchmark) VALUES (?, ?, ?)",
            [(suite, key, benchmark) for key, benchmark, _ in cases],
        )
        ids = dict(
            connection.execute("SELECT key, id FROM series WHERE suite = ?", (suite,)).fetchall()
        )
        connection.executemany(
            "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(cursor.lastrowid, ids[key], *row) for key, _, row in cases],
        )

    def sync(self) -> int:
        """Bring the store up to date with the result files of its folder: index the files that
        are new or changed since (by size and modification time), forget the ones removed. A
        file that cannot be read is refused by name (an InputError): a history never skips a
        run silently. Returns how many files were (re)indexed."""
        rows = self.connection.execute("SELECT file, size, mtime_ns FROM runs").fetchall()
        if not all(isinstance(file, str) for file, _, _ in rows):
            raise sqlite3.DatabaseError("a run row holds a file name out of place")
        known = {file: (size, mtime) for file, size, mtime in rows}
        present = {path.name: path for path in sorted(self.folder.glob("*.json"))}
        changed = []
        for name, path in present.items():
            stat = path.stat()
            if known.get(name) != (stat.st_size, stat.st_mtime_ns):
                changed.append(path)
        gone = sorted(set(known) - set(present))
        if not changed and not gone:
            return 0
        loaded = [(load_any(path), path) for path in changed]
        with self._writing() as connection:
            connection.executemany("DELETE FROM runs WHERE file = ?", [(name,) for name in gone])
            for result, path in loaded:
                self._insert(connection, result, path)
        return len(loaded)

    def runs(self, machine: str | None = None, suite: str | None = None) -> list[StoredRun]:
        """The runs indexed, oldest first, of one machine and suite when given."""
        clauses, values = [], []
        for column, value in (("machine", machine), ("suite", suite)):
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.connection.execute(
            "SELECT id, file, run_id, machine, blas, suite, started, git_commit, git_branch,"
            f" git_dirty, label, processes, interrupted FROM runs{where} ORDER BY started, id",
            values,
        )
        return [_checked_run(row) for row in rows]

    def cases(self, runs: Sequence[int], *, measured_only: bool = True) -> Iterator[StoredCase]:
        """The cases of the given runs (ids from `runs`), in run then key order."""
        status = " AND c.status = 'ok' AND c.median > 0" if measured_only else ""
        for chunk in _chunks(list(runs), 500):
            marks = ", ".join("?" * len(chunk))
            for (
                run,
                key,
                benchmark,
                state,
                median,
                low,
                high,
                processes,
                flags,
            ) in self.connection.execute(
                "SELECT c.run, s.key, s.benchmark, c.status, c.median, c.ci_low, c.ci_high,"
                " c.process_medians, c.flags FROM cases c JOIN series s ON s.id = c.series"
                f" WHERE c.run IN ({marks}){status} ORDER BY c.run, s.key",
                chunk,
            ):
                try:
                    yield StoredCase(
                        run,
                        key,
                        benchmark,
                        state,
                        median,
                        None if low is None else (float(low), float(high)),
                        tuple(float(value) for value in json.loads(processes)),
                        tuple(str(flag) for flag in json.loads(flags)),
                    )
                except (ValueError, TypeError, RecursionError) as error:
                    raise sqlite3.DatabaseError(
                        f"the case {key!r} of a run holds values out of place: {error}"
                    ) from None

    def series_names(self) -> dict[int, tuple[str, str, str]]:
        """Every series the store knows: id -> (suite, case key, benchmark)."""
        return {
            row[0]: (row[1], row[2], row[3])
            for row in self.connection.execute("SELECT id, suite, key, benchmark FROM series")
        }

    def measured(self, machine: str | None = None, with_ci: bool = True) -> np.ndarray:
        """Every measured case of the runs (of one machine when given) as one array of rows
        (`MEASURED_ROW`: series, run, median, ci_low, ci_high, spread), a missing CI as NaN: a
        year of runs is read in one query, without an object per case. Without `with_ci` the
        CIs are not read (NaN): a third less to read, for the views that do not show them."""
        columns = "c.series, c.run, c.median, " + (
            "COALESCE(c.ci_low, -1.0), COALESCE(c.ci_high, -1.0), " if with_ci else ""
        )
        where = " AND r.machine = ?" if machine is not None else ""
        join = " JOIN runs r ON r.id = c.run" if machine is not None else ""
        cursor = self.connection.execute(
            f"SELECT {columns}c.spread FROM cases c{join}"
            f" WHERE c.median IS NOT NULL AND c.median > 0 AND c.status = 'ok'{where}",
            () if machine is None else (machine,),
        )
        try:
            return self._measured_rows(cursor, with_ci)
        except (ValueError, TypeError, OverflowError) as error:
            raise sqlite3.DatabaseError(f"a case row holds values out of place: {error}") from None

    @staticmethod
    def _measured_rows(cursor: sqlite3.Cursor, with_ci: bool) -> np.ndarray:
        if with_ci:
            rows = np.fromiter(cursor, dtype=MEASURED_ROW)
            for bound in ("ci_low", "ci_high"):
                rows[bound][rows[bound] < 0] = np.nan
            return rows
        fetched = np.fromiter(cursor, dtype=_WITHOUT_CI)
        rows = np.empty(len(fetched), dtype=MEASURED_ROW)
        for name in _WITHOUT_CI.names or ():
            rows[name] = fetched[name]
        rows["ci_low"] = rows["ci_high"] = np.nan
        return rows


def _checked_run(row: tuple[object, ...]) -> StoredRun:
    """A run row as a StoredRun, its values of the types the store writes (a damaged file may
    hold anything)."""
    texts, optional = (1, 2, 3, 4, 5, 6), (7, 8, 10)
    if (
        not all(isinstance(row[index], str) for index in texts)
        or not all(row[index] is None or isinstance(row[index], str) for index in optional)
        or not all(isinstance(row[index], int) for index in (0, 11, 12))
        or not (row[9] is None or isinstance(row[9], int))
    ):
        raise sqlite3.DatabaseError(f"a run row holds values out of place: {row!r:.200}")
    values: tuple[Any, ...] = row  # each of the type just checked
    return StoredRun(
        id=values[0],
        file=values[1],
        run_id=values[2],
        machine=values[3],
        blas=values[4],
        suite=values[5],
        started=values[6],
        git_commit=values[7],
        git_branch=values[8],
        git_dirty=None if values[9] is None else bool(values[9]),
        label=values[10],
        processes=values[11],
        interrupted=bool(values[12]),
    )


_WITHOUT_CI = np.dtype(
    [("series", np.int64), ("run", np.int64), ("median", np.float64), ("spread", np.float64)]
)


def _case_row(case: CaseResult) -> tuple[object, ...]:
    """A case's columns after its run and series: status, median, CI, spread, process medians,
    flags."""
    timing = case.timing
    if timing is None:
        return (case.status, None, None, None, 0.0, "[]", json.dumps(case.flags))
    low, high = timing.ci95 if timing.ci95 is not None else (None, None)
    spread = run_spread(timing.process_medians, timing.ci95, timing.median)
    return (
        case.status,
        timing.median,
        low,
        high,
        spread,
        json.dumps(timing.process_medians),
        json.dumps(case.flags),
    )


def _pytest_rows(run: PytestRun) -> list[tuple[str, str, tuple[object, ...]]]:
    """A pytest-benchmark file's tests as cases: one process each (no process medians, no CI:
    the history's spread between files is their noise), the benchmark being the test function
    (`test_mm.py::test_matmul[64]` -> `test_mm.py::test_matmul`)."""
    return [
        (key, key.split("[", 1)[0], ("ok", series.median, None, None, 0.0, "[]", "[]"))
        for key, series in run.view.cases.items()
    ]


def _digest(path: Path) -> str:
    """A short name for a file's content (a pytest-benchmark file has no run id)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _chunks(values: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def store_path(folder: Path) -> Path:
    return folder / STORE_NAME


def _damaged(folder: Path, why: str) -> InputError:
    why = " ".join(why.split())  # SQLite quotes the damaged schema, line breaks and all
    why = why if len(why) <= 300 else why[:300] + "..."
    return InputError(
        f"{store_path(folder)}: the results store is unusable ({why}); the result files are "
        f"untouched: recreate the store from them with `labench store rebuild {folder}`"
    )


def open_store(folder: Path) -> Store:
    """Open (creating if needed) the store of a folder of result files; a store from a newer
    labench, or a damaged one, is refused with the command that rebuilds it."""
    path = store_path(folder)
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as error:
        raise InputError(f"{path}: cannot open the results store: {error}") from None
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = NORMAL")
        version = _schema_version(connection)
        if version is None:
            connection.executescript(_TABLES)
            connection.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif version > SCHEMA_VERSION:
            connection.close()
            raise InputError(
                f"{path}: results store of schema version {version}, made by a newer labench; "
                f"this one reads version {SCHEMA_VERSION}: upgrade labench, or rebuild the "
                f"store for this one with `labench store rebuild {folder}`"
            )
    except (sqlite3.DatabaseError, UnicodeDecodeError) as error:
        connection.close()
        raise _damaged(folder, str(error)) from None
    return Store(connection, folder)


def _schema_version(connection: sqlite3.Connection) -> int | None:
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if exists is None:
        return None
    row = connection.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    if row is None or not str(row[0]).isdigit():
        raise sqlite3.DatabaseError("no schema version")
    return int(row[0])


@contextmanager
def opened(folder: Path) -> Iterator[Store]:
    """The folder's store, synchronised with its files, closed after use."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of result files")
    if next(folder.glob("*.json"), None) is None:
        raise InputError(f"{folder}: no result files (*.json) in this folder")
    store = open_store(folder)
    try:
        store.sync()
        yield store
    except (sqlite3.Error, UnicodeDecodeError) as error:  # found damaged while read
        raise _damaged(folder, str(error)) from None
    finally:
        store.close()


def check(folder: Path) -> None:
    """SQLite's own integrity check, as an InputError naming the rebuild command."""
    store = open_store(folder)
    try:
        verdict = store.connection.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as error:
        raise _damaged(folder, str(error)) from None
    finally:
        store.close()
    if verdict is None or verdict[0] != "ok":
        raise _damaged(folder, f"integrity check: {verdict[0] if verdict else 'no answer'}")


def rebuild(folder: Path) -> int:
    """Recreate the store of a folder from its result files (the old store, damaged or from
    another labench, is replaced only once the new one is complete). Returns the runs indexed."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of result files")
    fresh = folder / f".{STORE_NAME}.rebuilding"
    for leftover in (
        fresh,
        fresh.with_name(fresh.name + "-wal"),
        fresh.with_name(fresh.name + "-shm"),
    ):
        leftover.unlink(missing_ok=True)
    connection = sqlite3.connect(fresh, isolation_level=None)
    connection.executescript(_TABLES)
    connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    store = Store(connection, folder)
    try:
        count = store.sync()
    finally:
        store.close()
    for stale in ("-wal", "-shm"):
        (folder / f"{STORE_NAME}{stale}").unlink(missing_ok=True)
    fresh.replace(store_path(folder))
    return count


def import_into(folder: Path, sources: list[Path]) -> tuple[list[Path], int]:
    """Copy result files into `folder` and index them. Every file is read and validated before
    anything is copied (a damaged one is refused by name); a run already in the folder (same
    run id, same content) is not copied twice; a name taken by another run gets the run's id.
    Returns the files copied and how many were there already."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; create it, or import into an existing one")
    incoming = [(path, load_any(path)) for path in reader.result_files(sources)]
    copied, already = [], 0
    for path, result in incoming:
        target = folder / path.name
        if target.exists() and target.read_bytes() == path.read_bytes():
            already += 1
            continue
        if target.exists():
            run_id = result.run.id if isinstance(result, Result) else _digest(path)
            target = folder / f"{path.stem}-{run_id}{path.suffix}"
            if target.exists():
                already += 1
                continue
        shutil.copyfile(path, target)
        copied.append(target)
    with opened(folder):
        pass
    return copied, already


def index_saved(result: Result, path: Path) -> str | None:
    """Add a just-saved run to its folder's store, when the folder keeps one (or is the default
    results folder). Returns why it could not, for the caller to say: the JSON file is saved
    either way, and the next read of the store indexes it."""
    folder = path.parent
    if not store_path(folder).exists() and folder.resolve() != DEFAULT_FOLDER.resolve():
        return None
    try:
        store = open_store(folder)
        try:
            store.add(result, path)
        finally:
            store.close()
    except (InputError, sqlite3.Error, OSError) as error:
        return (
            f"the run is saved in {path}, but its folder's results store was not updated: {error}"
        )
    return None
