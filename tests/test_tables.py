"""Result tables: only what varies goes in the rows, constants once above; quick fits 120."""

from io import StringIO

from conftest import measured_case, synthetic_result
from rich.console import Console

from labench.present.grid import result_grids
from labench.present.report import results_tables
from labench.results import reader
from labench.results.model import Result


def test_varying_parameters_go_in_the_rows_and_constants_in_the_title():
    cases = []
    for n in (64, 256):
        for threads in (1, 2):
            for implementation in ("numpy", "numba"):
                case = measured_case(implementation, n=n, threads=threads)
                case.params = {"n": n, "transfers": False, "m": None, "chunks": 0}
                # `chunks` stays out of the key, as a parameter kept out at its default does
                case.key = f"b/n={n},transfers=False,m=None/float64/t{threads}/{implementation}"
                cases.append(case)
    (grid,) = result_grids(synthetic_result(cases))
    assert grid.constants == "transfers=False m=default dtype=float64"
    assert all(heading != "chunks" for heading, _ in grid.columns)
    headings = [heading for heading, _ in grid.columns]
    assert headings[:3] == ["n", "threads", "implementation"]
    assert "dtype" not in headings and "transfers" not in headings
    assert [[row[0] for row in section] for section in grid.sections] == [["64"] * 4, ["256"] * 4]
    assert [row[1] for row in grid.sections[0]] == ["1", "1", "2", "2"]


def render(result: Result, width: int) -> list[str]:
    stream = StringIO()
    console = Console(file=stream, width=width, color_system=None)
    for table in results_tables(result):
        console.print(table)
    return stream.getvalue().splitlines()


def test_quick_suite_tables_fit_120_columns_without_wrapping(quick_run):
    result = reader.load(quick_run)
    narrow, wide = render(result, 120), render(result, 400)
    assert len(narrow) == len(wide), "a row or title wrapped at 120 columns"
    assert max(len(line.rstrip()) for line in narrow) <= 120
    rows = [
        line for line in narrow if {case.implementation for case in result.cases} & {*line.split()}
    ]
    assert rows and not any("transfers=False" in row for row in rows)
    for case in result.cases:
        if case.reason and case.reason.startswith(f"backend {case.backend} unavailable"):
            # a backend this machine lacks is a note under the table, not rows of `skipped`
            assert any(line.startswith(f"{case.backend}") and "not run" in line for line in narrow)
        else:
            assert sum(case.implementation in line.split() for line in narrow) >= 1


def test_a_parameter_kept_out_of_keys_at_its_default_goes_without_saying():
    """dask's `chunks` on the built-in matmul: not named while every case leaves it at its
    default (a NumPy-only run), named once a case sets it."""

    def matmul(implementation, chunks):
        case = measured_case(implementation, n=64)
        keyed = "n=64,transfers=False" + (f",chunks={chunks}" if chunks else "")
        return case.model_copy(
            update={
                "workload": "kernels.matmul",
                "params": {"n": 64, "transfers": False, "chunks": chunks},
                "key": f"matmul/{keyed}/float64/t1/{implementation}",
            }
        )

    (plain,) = result_grids(synthetic_result([matmul("numpy", 0), matmul("numba", 0)]))
    assert plain.constants == "n=64 transfers=False dtype=float64 threads=1"
    (chunked,) = result_grids(synthetic_result([matmul("numpy", 0), matmul("dask", 16)]))
    assert "chunks" in [heading for heading, _ in chunked.columns]
