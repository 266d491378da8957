"""Tables a newcomer reads at a glance: compare splits case keys into columns (no width cuts an
implementation), pipes honour COLUMNS, a backend missing here is one note, columns with nothing
to say go, jargon is explained once, and every quick-suite table fits 100 columns."""

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from conftest import measured_case, rescaled, synthetic_result
from rich.console import Console

from labench.commands.terminal import PIPE_WIDTH, console_width
from labench.judge.compare import compare
from labench.present.comparison import render_json, render_markdown, render_table, split_key
from labench.present.format import format_seconds
from labench.present.grid import CACHE_NOTE, COLD_NOTE, ERROR_NOTE
from labench.present.report import results_tables
from labench.results import reader
from labench.results.views import run_view

VERDICTS = {"faster", "slower", "same", "unsure", "broken", "fixed", "comparable"}
NO_CUPY = "backend cupy unavailable: CuPy is not installed (pip install 'labench[gpu]')"


def shown(result, width, full=False):
    console = Console(file=StringIO(), width=width, color_system=None)
    for table in results_tables(result, full):
        console.print(table)
    return console.file.getvalue().splitlines()


def compared(comparison, width):
    console = Console(file=StringIO(), width=width, color_system=None)
    render_table(comparison, console)
    return console.file.getvalue().splitlines()


def header(lines):
    return next(line.split() for line in lines if "implementation" in line.split())


def unavailable(case):
    return case.status == "skipped" and case.reason.startswith(f"backend {case.backend} unav")


# ---------------------------------------------------------------- compare: keys as columns


def test_a_case_key_comes_apart_into_its_coordinates():
    parts = split_key("matmul/n=64,transfers=False/float64/t1/numba_parallel")
    assert (parts.benchmark, parts.implementation) == ("matmul", "numba_parallel")
    assert parts.coordinates == {
        "n": "64",
        "transfers": "False",
        "dtype": "float64",
        "threads": "1",
        "cache": "warm",
    }
    cold = split_key("mm/n=8/float32+tf32/tmax/cold/cupy")
    assert cold.implementation == "cupy" and cold.coordinates == {
        "n": "8",
        "dtype": "float32+tf32",
        "threads": "max",
        "cache": "cold",
    }
    odd = split_key("g/shape=(2, 3),h=None/float64/t2/fd")
    assert odd.coordinates["shape"] == "(2, 3)" and odd.coordinates["h"] == "default"
    assert split_key("b//float64/t1/numpy").coordinates == {
        "dtype": "float64",
        "threads": "1",
        "cache": "warm",
    }
    for foreign in ("test_mm.py::test_matmul", "a/b/c", "b/n=1/float64/one/numpy"):
        assert split_key(foreign) is None


@pytest.fixture(scope="module")
def quick_comparison(quick_run):
    """The quick run against a copy of it 1.5x slower: two plain runs, one process each."""
    result = reader.load(quick_run)
    runs = [run_view(result, "before.json"), run_view(rescaled(result, 1.5), "after.json")]
    return result, compare(runs)


@pytest.mark.parametrize("width", [100, 120])
def test_compare_never_cuts_a_case_and_says_constants_once(quick_comparison, width):
    result, comparison = quick_comparison
    lines = compared(comparison, width)
    assert max(len(line) for line in lines) <= width and "…" not in "\n".join(lines)
    rows = [line for line in lines if line.split() and line.split()[-1] in VERDICTS]
    judged = {v.key for v in comparison.verdicts[0] if v.verdict != "skipped"}
    assert len(rows) == len(judged), "a row wrapped"
    for case in result.cases:
        if case.key in judged:
            median = format_seconds(case.timing.median)
            assert any(case.implementation in row.split() and median in row for row in rows)
    assert not any("transfers=False" in row for row in rows)  # a constant, above its table
    assert "transfers=False dtype=float64" in lines
    assert {"matmul", "matvec", "gradients", "lowrank", "parallel"} <= set(lines)
    assert "n" in header(lines) and "threads" in header(lines)


def test_three_runs_fit_100_columns_a_row_per_case(quick_comparison):
    result, _ = quick_comparison
    views = [run_view(rescaled(result, f), f"r{f}.json") for f in (1.0, 1.5, 0.5)]
    comparison = compare(views)
    lines = compared(comparison, 100)
    assert max(len(line) for line in lines) <= 100 and "…" not in "\n".join(lines)
    rows = [line for line in lines if line.split() and line.split()[-1] in VERDICTS]
    judged = {v.key for v in comparison.verdicts[0] if v.verdict != "skipped"}
    assert len(rows) == len(judged), "a row wrapped"
    assert all("1.500 [" in row and "0.500 [" in row for row in rows)


def test_even_a_narrow_terminal_keeps_every_implementation_whole(quick_comparison):
    result, comparison = quick_comparison
    lines = compared(comparison, 70)
    assert max(len(line) for line in lines) <= 70 and "…" not in "\n".join(lines)
    words = {word for line in lines for word in line.split()}
    assert {case.implementation for case in result.cases if not unavailable(case)} <= words


def test_markdown_and_json_keep_full_keys(quick_comparison):
    _, comparison = quick_comparison
    keys = [v.key for v in comparison.verdicts[0] if v.verdict != "skipped"]
    markdown = render_markdown(comparison)
    assert all(f"`{key}`" in markdown for key in keys)
    assert "| case | before.json | after.json | ratio [95% CI] | p | based on | verdict |" in (
        markdown
    )
    document = json.loads(render_json(comparison))
    assert {case["key"] for case in document["runs"][0]["cases"]} >= set(keys)


def test_a_basis_shared_by_every_row_is_said_once(quick_comparison):
    _, comparison = quick_comparison
    lines = compared(comparison, 120)
    assert "based on" not in " ".join(header(lines))
    assert lines.count("based on: one process (every case)") == 1
    rows = [line for line in lines if line.split() and line.split()[-1] in VERDICTS]
    assert not any("one process" in row for row in rows)


def test_a_basis_that_varies_keeps_its_column():
    spread = (1e-3, 1.02e-3, 0.98e-3, 1.01e-3)
    base = synthetic_result(
        [measured_case(n=1, process_medians=spread), measured_case(n=2, seed=3)]
    )
    comparison = compare([run_view(base, "a.json"), run_view(rescaled(base, 1.01), "b.json")])
    lines = compared(comparison, 120)
    assert "based" in header(lines)
    assert any("processes" in line for line in lines) and any("one process" in row for row in lines)
    assert not any(line.startswith("based on:") for line in lines)


def test_keys_of_another_shape_stay_whole_in_a_case_column():
    base = synthetic_result([measured_case()])
    for case in base.cases:
        case.key = "test_mm.py::test_matmul_of_a_rather_long_name[numpy-float64-1024]"
    comparison = compare([run_view(base, "a.json"), run_view(rescaled(base, 2.0), "b.json")])
    text = "".join(compared(comparison, 120))
    assert "case" in text and base.cases[0].key in text


# ---------------------------------------------------------------- COLUMNS in pipes


def test_pipes_take_columns_and_terminals_keep_their_own_width():
    assert console_width(False, {"COLUMNS": "100"}) == 100
    assert console_width(False, {}) == PIPE_WIDTH == 150
    for junk in ("0", "-80", "wide", ""):
        assert console_width(False, {"COLUMNS": junk}) == PIPE_WIDTH
    assert console_width(True, {"COLUMNS": "100"}) is None  # rich measures the terminal


def test_show_in_a_pipe_fits_columns(quick_run):
    def show(**environment):
        settings = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | environment
        ran = subprocess.run(
            [sys.executable, "-m", "labench", "show", quick_run],
            capture_output=True,
            text=True,
            env=settings,
            check=True,
        )
        return ran.stdout.splitlines()

    assert max(len(line) for line in show(COLUMNS="64")) <= 64
    assert max(len(line) for line in show()) > 64  # no COLUMNS: the pipe's 150


# ---------------------------------------------------------------- what a table leaves out


def cupy_less_run():
    """numpy and numba at two sizes; cupy skipped because CuPy is missing; numba at a third
    size skipped for memory (a reason that stays a row)."""
    cases = []
    for n in (1, 2):
        cases += [measured_case("numpy", n=n), measured_case("numba", 2e-3, n=n)]
        gpu = measured_case("cupy", n=n, status="skipped", reason=NO_CUPY)
        cases.append(gpu.model_copy(update={"backend": "cupy"}))
    memory = "needs 40 GB of memory, 8 GB available"
    cases += [
        measured_case("numpy", n=3),
        measured_case("numba", n=3, status="skipped", reason=memory),
    ]
    return synthetic_result(cases)


def test_a_backend_missing_here_is_one_note_and_full_table_shows_its_rows():
    lines = shown(cupy_less_run(), 100)
    assert not any("cupy" in line.split() for line in lines)  # no rows of it
    assert [line for line in lines if "cupy" in line] == ["cupy: not run, CuPy is not installed"]
    assert sum(line.split()[-1:] == ["skipped"] for line in lines) == 1  # the memory skip
    full = shown(cupy_less_run(), 100, full=True)
    assert sum("cupy" in line.split() and "skipped" in line for line in full) == 2


def test_the_implementations_of_a_missing_backend_are_named_when_they_differ():
    cases = [measured_case("analytic")]
    for name in ("cupy_analytic", "cupy_fd"):
        gpu = measured_case(name, status="skipped", reason=NO_CUPY)
        cases.append(gpu.model_copy(update={"backend": "cupy"}))
    lines = shown(synthetic_result(cases), 100)
    assert "cupy (cupy_analytic, cupy_fd): not run, CuPy is not installed" in lines


def test_a_benchmark_with_nothing_run_is_its_title_and_the_note():
    gpu = measured_case("cupy", status="skipped", reason=NO_CUPY)
    lines = shown(synthetic_result([gpu.model_copy(update={"backend": "cupy"})]), 100)
    assert lines == ["b (w, baseline numpy)", "cupy: not run, CuPy is not installed"]


def test_columns_empty_throughout_and_a_lone_speedup_go():
    metrics = {"error_rel": 2.5e-9, "peak_bytes": 7060.0}
    gradients = [
        measured_case(name, n=n, metrics=metrics) for n in (1, 2) for name in ("numpy", "fd")
    ]
    headings = header(shown(synthetic_result(gradients), 100))
    assert "GFLOP/s" not in headings and "GB/s" not in headings
    assert {"speedup", "error", "peak", "median"} <= set(headings)
    alone = [measured_case("numpy", n=n, metrics={"gflops": 3.0}) for n in (1, 2)]
    headings = header(shown(synthetic_result(alone), 100))
    assert "speedup" not in headings and "GFLOP/s" in headings


def test_a_status_every_row_shares_is_said_once():
    cases = [measured_case(name, n=n) for n in (1, 2) for name in ("numpy", "numba")]
    for case in cases:
        case.flags = ["noisy", "contended"]
    lines = shown(synthetic_result(cases), 100)
    assert "status" not in header(lines)
    assert "every case here is ok, flagged noisy and busy" in lines
    cases[0].flags = []
    lines = shown(synthetic_result(cases), 100)
    assert "status" in header(lines) and not any(line.startswith("every case") for line in lines)


# ---------------------------------------------------------------- jargon, explained once


def roofed(implementation, cache="warm", resident=1.0):
    case = measured_case(
        implementation, metrics={"roofline_frac": 3.07, "cache_resident": resident}
    )
    if cache == "cold":
        case = case.model_copy(
            update={"cache": "cold", "key": case.key.replace("/t1/", "/t1/cold/")}
        )
    return case


def test_the_cache_mark_and_cold_are_explained_only_when_shown():
    warm = shown(synthetic_result([roofed("numpy"), roofed("numba")]), 120)
    assert any("307%ᶜ" in line for line in warm)
    assert CACHE_NOTE in warm and COLD_NOTE not in warm
    unmarked = shown(
        synthetic_result([roofed("numpy", resident=0.0), roofed("numba", resident=0.0)]), 120
    )
    assert CACHE_NOTE not in unmarked and COLD_NOTE not in unmarked
    both = shown(synthetic_result([roofed("numpy"), roofed("numpy", "cold", 0.0)]), 120)
    assert CACHE_NOTE in both and COLD_NOTE in both
    assert not any("ᶜ" in line or "cold:" in line for line in shown(cupy_less_run(), 120))


def test_the_error_column_is_explained_under_the_first_table_that_shows_it():
    def benchmark(name, error):
        metrics = {} if error is None else {"error_rel": error}
        cases = [measured_case(impl, metrics=metrics) for impl in ("numpy", "numba")]
        return [
            case.model_copy(update={"benchmark": name, "key": case.key.replace("b/", f"{name}/")})
            for case in cases
        ]

    result = synthetic_result(benchmark("plain", None) + benchmark("a", 0.0) + benchmark("z", 1e-9))
    lines = shown(result, 100)
    assert lines.count(ERROR_NOTE) == 1
    assert lines.index("plain (w, baseline )") < lines.index(ERROR_NOTE)
    assert lines.index(ERROR_NOTE) < next(
        i for i, line in enumerate(lines) if line.startswith("z ")
    )
    assert "error" not in header(lines)  # the first table has none
    assert ERROR_NOTE not in shown(synthetic_result(benchmark("plain", None)), 100)


# ---------------------------------------------------------------- the quick suite at 100


def test_every_quick_suite_table_fits_100_columns(quick_run):
    result = reader.load(quick_run)
    narrow, wide = shown(result, 100), shown(result, 400)
    assert max(len(line) for line in narrow) <= 100 and "…" not in "\n".join(narrow)
    fitted = [line for line in narrow if line.startswith("left out to fit 100 columns")]
    assert len(narrow) - len(fitted) == len(wide), "a row or a line wrapped at 100 columns"
    for case in result.cases:
        if unavailable(case):
            continue
        median = format_seconds(case.timing.median) if case.timing else "-"
        assert any(case.implementation in line.split() and median in line for line in narrow)
    benchmarks = {case.benchmark for case in result.cases if unavailable(case)}
    notes = [line for line in narrow if line.startswith("cupy") and "not run" in line]
    assert len(notes) == len(benchmarks)  # one note per table, whatever its rows


def test_one_process_comparisons_show_no_p_value_and_say_why(tmp_path):
    """A tiny p beside `unsure` reads as a contradiction: for one process per run the table
    shows none, and says why once; the JSON output keeps the number."""
    from labench.present.comparison import comparison_tables

    base = synthetic_result([measured_case(median=1e-5, n=n, seed=n) for n in (1, 2)])
    new = synthetic_result([measured_case(median=2e-5, n=n, seed=9 + n) for n in (1, 2)])
    comparison = compare([run_view(base, "a.json"), run_view(new, "b.json")])
    assert all(v.basis == "one process" and v.p_value < 1e-6 for v in comparison.verdicts[0])
    tables, said = comparison_tables(comparison)
    assert any(line.startswith("p: none shown") for line in said)
    console = Console(file=StringIO(), width=100, color_system=None)
    for table in tables:
        console.print(table)
    assert "e-" not in console.file.getvalue()  # no p-value in the rows
    cases = json.loads(render_json(comparison))["runs"][0]["cases"]
    assert all(case["p_value"] < 1e-6 for case in cases)
