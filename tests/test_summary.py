"""A large benchmark is summarised: fitted scaling exponents, fastest and slowest points."""

import io

import pytest
from conftest import measured_case
from rich.console import Console

from labench.judge.scaling import fitted_exponents
from labench.present.report import SUMMARY_ABOVE, render_result
from labench.results import model as results
from labench.results.model import Result, RunInfo, SuiteInfo


def swept_case(implementation, median, **params):
    case = measured_case(implementation, median, spread=0.0)
    key = "/".join(f"{name}={value}" for name, value in params.items())
    return case.model_copy(update={"params": params, "key": f"b/{key}/float64/t1/{implementation}"})


def test_fitted_exponents_recover_a_known_power_law():
    cases = [
        swept_case("numpy", 3e-9 * n**2 * rank**0.5, n=n, rank=rank)
        for n in (10, 20, 40, 80)
        for rank in (1, 4, 16)
    ]
    assert fitted_exponents(cases, ["n", "rank"]) == {
        "n": pytest.approx(2.0, abs=1e-9),
        "rank": pytest.approx(0.5, abs=1e-9),
    }
    assert fitted_exponents(cases[:1], ["n"]) is None  # one point fixes no slope
    assert fitted_exponents(cases[::3], ["n", "rank"]) is None  # rank never varies there
    assert fitted_exponents([swept_case("numpy", 1e-3, n=0), *cases], ["n"]) is None


def run_of(cases):
    return Result(
        suite=SuiteInfo(name="s", path="s.yaml", sha256="0" * 64, baselines={"b": "numpy"}),
        run=RunInfo(id="r", started="2026-11-27T00:00:00+00:00", labench_version="0", command=[]),
        environment={"machine_id": "m"},
        cases=cases,
    )


def rendered(result, full=False):
    console = Console(record=True, width=200, file=io.StringIO())
    render_result(result, console, full)
    return console.export_text()


def test_a_large_benchmark_is_summarised_unless_the_full_table_is_asked(cli, tmp_path):
    sizes = range(1, SUMMARY_ABOVE // 2 + 2)
    cases = [swept_case("numpy", 1e-9 * n**3, n=n) for n in sizes]
    cases += [swept_case("numba", 2e-9 * n**2, n=n) for n in sizes]
    summary = rendered(run_of(cases))
    assert f"{len(cases)} cases summarised" in summary
    assert "n=17" not in summary  # no row per case
    numpy_row = next(line for line in summary.splitlines() if " numpy " in line)
    assert "~n^3.00" in numpy_row and "n=1: 1 ns" in numpy_row and "n=31: 29.8 µs" in numpy_row
    numba_row = next(line for line in summary.splitlines() if " numba " in line)
    assert "~n^2.00" in numba_row and f"{len(sizes)}/{len(sizes)}" in numba_row

    full = rendered(run_of(cases), full=True)
    rows_of_17 = [line for line in full.splitlines() if line.split()[:1] == ["17"]]
    assert "summarised" not in full and len(rows_of_17) == 2  # n varies: a column of its own

    failed = [case.model_copy(update={"status": "error", "timing": None}) for case in cases]
    broken = next(line for line in rendered(run_of(failed)).splitlines() if " numba " in line)
    assert (
        f"0/{len(sizes)}" in broken
        and [cell.strip() for cell in broken.split("│")[-3:]] == ["-"] * 3
    )

    small = rendered(run_of(cases[:SUMMARY_ABOVE]))
    assert "summarised" not in small

    path = tmp_path / "r.json"
    results.save(run_of(cases), path)
    assert "summarised" in cli("show", path).output
    assert "summarised" not in cli("show", path, "--full-table").output
