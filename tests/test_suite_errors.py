"""Every class of bad suite: exit code 2, file:line:column, and what was expected."""

import pytest

VALID_HEAD = "labench: 1\nname: s\nbenchmarks:\n"

CASES = {
    "tab": ("labench: 1\nname: s\nbenchmarks:\n\t- id: x\n", "4:1", "tab character"),
    "unclosed bracket": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmul\n    params: {n: [64, 128}\n",
        "6:25",
        "expected ',' or ']', but got '}'",
    ),
    "not a mapping": (
        "- a\n- b\n",
        "1:1",
        "expected a mapping with 'labench: 1', 'name' and 'benchmarks', got a list",
    ),
    "empty file": ("", "1:1", "the file is empty"),
    "unknown key": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmul\n    parms: {n: 8}\n",
        "6:5",
        "unknown key 'parms'; did you mean 'params'?",
    ),
    "wrong type": (
        "labench: 1\nname: s\ndefaults: {max_time: fast}\nbenchmarks:\n  - {id: m, workload: kernels.matmul}\n",
        "3:22",
        "defaults.max_time: expected a valid number, got 'fast'",
    ),
    "negative size": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmul\n    params: {n: [64, -5]}\n",
        "6:22",
        "benchmarks[0].params.n: expected a positive integer or a list of them, got -5",
    ),
    "zero threads": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmul\n    threads: [1, 0]\n",
        "6:14",
        "expected a positive integer, 'max', or a list of them, got [1, 0]",
    ),
    "unknown workload": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmull\n",
        "5:15",
        "unknown workload 'kernels.matmull'; did you mean 'kernels.matmul'? known: gradients.least_squares,",
    ),
    "unknown implementation": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmul\n    implementations: [numpi]\n",
        "6:23",
        "unknown implementation 'numpi' of kernels.matmul; did you mean 'numpy'? known: cupy, dask, numba, numba_parallel, numpy",
    ),
    "duplicate id": (
        VALID_HEAD
        + "  - {id: m, workload: kernels.matmul}\n  - {id: m, workload: kernels.matvec}\n",
        "5:10",
        "duplicate benchmark id 'm' (also benchmarks[0])",
    ),
    "baseline not an implementation": (
        VALID_HEAD
        + "  - {id: m, workload: kernels.matmul, implementations: [numpy], baseline: blas}\n",
        "4:75",
        "baseline 'blas' is not among the implementations of this benchmark (numpy)",
    ),
    "claim on unknown benchmark": (
        VALID_HEAD
        + "  - {id: matmul, workload: kernels.matmul}\nclaims:\n  - id: c\n    text: t\n    benchmark: matmull\n"
        "    metric: {name: error_rel, of: numpy}\n    at_most: 1e-8\n",
        "8:16",
        "unknown benchmark 'matmull'; did you mean 'matmul'?",
    ),
    "unsupported version": (
        "labench: 2\nname: s\nbenchmarks: []\n",
        "1:10",
        "unsupported suite format: expected 'labench: 1' (the format this labench reads), got version 2",
    ),
    "impossible size": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmul\n    params: {n: 10000000}\n",
        "6:13",
        "GiB, more than this machine's",
    ),
    "unknown parameter": (
        VALID_HEAD + "  - id: m\n    workload: kernels.matmul\n    params: {m: 3}\n",
        "6:14",
        "unknown parameter 'm' of kernels.matmul; known: chunks, n, transfers",
    ),
    "claim without a bound": (
        VALID_HEAD
        + "  - {id: mm, workload: kernels.matmul}\nclaims:\n  - {id: c, text: t, benchmark: mm, speedup: {of: numpy, over: numpy}}\n",
        "6:5",
        "expected a bound: 'at_least' and/or 'at_most'",
    ),
    "claim bounds that no value meets": (
        VALID_HEAD
        + "  - {id: mm, workload: kernels.matmul}\nclaims:\n  - {id: c, text: t, benchmark: mm, speedup: {of: numpy, over: numpy}, at_least: 3, at_most: 1}\n",
        "6:5",
        "expected at_least <= at_most, got 3.0 > 1.0: no value could hold",
    ),
    "claim side neither a name nor a mapping": (
        VALID_HEAD
        + "  - {id: mm, workload: kernels.matmul}\nclaims:\n  - {id: c, text: t, benchmark: mm, speedup: {of: 5, over: numpy}, at_least: 1}\n",
        "6:51",
        "claims[0].speedup.of: expected an implementation name or a mapping with 'implementation' and optionally 'threads', 'dtype' and 'math', got 5",
    ),
    "claim side at an impossible thread count": (
        VALID_HEAD
        + "  - {id: mm, workload: kernels.matmul}\nclaims:\n  - {id: c, text: t, benchmark: mm, speedup: {of: {implementation: numpy, threads: many}, over: numpy}, at_least: 1}\n",
        "6:84",
        "claims[0].speedup.of.threads: expected a positive integer or 'max', got 'many'",
    ),
    "object tag": (
        VALID_HEAD + "  - !!python/object:os.system {}\n",
        "4:5",
        "is not allowed; a suite holds plain data only",
    ),
}


@pytest.mark.parametrize("text, place, message", CASES.values(), ids=CASES.keys())
def test_bad_suite_is_exit_2_with_place_and_expectation(cli, write_suite, text, place, message):
    path = write_suite(text)
    for command in ("validate", "run"):
        result = cli(command, path)
        assert result.exit_code == 2, result.output
        assert f"{path}:{place}: " in result.output
        assert message in result.output
        assert "Traceback" not in result.output


def test_bad_suite_never_touches_an_existing_result(cli, write_suite, tmp_path):
    existing = tmp_path / "keep.json"
    existing.write_text("precious")
    result = cli("run", write_suite(CASES["unknown key"][0]), "-o", existing, "--force")
    assert result.exit_code == 2
    assert existing.read_text() == "precious"


def test_every_problem_is_reported_at_once(cli, write_suite):
    path = write_suite(
        VALID_HEAD + "  - id: m\n    workload: kernels.matvec\n    params: {n: 0}\n"
        "    implementations: [numpi]\n"
    )
    result = cli("validate", path)
    assert result.exit_code == 2
    assert f"{path}:6:17:" in result.output and f"{path}:7:23:" in result.output


def test_missing_file_is_exit_2(cli, tmp_path):
    result = cli("validate", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "nope.yaml: no such suite file" in result.output


def test_valid_suite_reports_its_size(cli, write_suite):
    path = write_suite(
        VALID_HEAD
        + "  - {id: m, workload: kernels.matmul, params: {n: [8, 16]}, dtype: [float32, float64]}\n"
    )
    result = cli("validate", path)
    assert result.exit_code == 0
    assert (
        "ok, 1 benchmarks, 16 cases, 0 claims" in result.output
    )  # 2 n x 2 dtypes x 4 implementations
