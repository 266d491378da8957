"""The low-rank family: Eckart-Young, randomized SVD quality, exact parameter counts, guards."""

import sys

import numpy as np
import pytest

from labench.results import reader
from labench.workloads import BUILTIN
from labench.workloads.lowrank import optimal_error, spectrum_matrix


def prepared(method, workload="lowrank.matvec", **given):
    family = BUILTIN[workload]()
    params = family.resolve_params({"n": 200, "rank": 20, **given})
    inputs = family.make_inputs(params, np.dtype("float64"), np.random.default_rng(5))
    return family, params, inputs, family.implementations[method].prepare(family, inputs, params)


@pytest.mark.parametrize("matrix", ["exp", "poly", "flat"])
def test_exact_svd_reaches_the_eckart_young_optimum(matrix):
    *_, kernel = prepared("svd", matrix=matrix)
    assert kernel.metrics["error_rel"] == pytest.approx(kernel.metrics["error_optimal"], abs=1e-10)


@pytest.mark.parametrize("matrix", ["exp", "poly"])
@pytest.mark.parametrize("rank", [5, 20, 60])
def test_randomized_svd_is_within_10_percent_of_the_optimum_on_decaying_spectra(matrix, rank):
    *_, kernel = prepared("rsvd", matrix=matrix, rank=rank)
    assert (
        kernel.metrics["error_optimal"]
        <= kernel.metrics["error_rel"]
        <= 1.1 * kernel.metrics["error_optimal"]
    )


def test_synthetic_spectra_are_exact():
    rng = np.random.default_rng(0)
    for kind in ("exp", "poly"):
        matrix, values = spectrum_matrix(kind, 80, 60, rng)
        assert matrix.shape == (80, 60)
        assert np.allclose(np.linalg.svd(matrix, compute_uv=False), values, rtol=1e-10, atol=1e-13)
    assert optimal_error(np.array([3.0, 4.0]), 1) == pytest.approx(0.8)
    assert optimal_error(np.array([3.0, 4.0]), 2) == 0.0


@pytest.mark.parametrize("method", ["dense", "svd", "rsvd"])
def test_parameter_and_byte_counts_are_exact(method):
    family, params, inputs, kernel = prepared(method, "lowrank.matmul", n=50, m=70, rank=7, batch=3)
    dense = 70 * 50
    factored = 7 * (70 + 50)
    expected = dense if method == "dense" else factored
    assert kernel.metrics["params"] == expected
    assert kernel.metrics["params_dense"] == dense
    assert kernel.metrics["params_ratio"] == pytest.approx(expected / dense)
    assert kernel.metrics["bytes_stored"] == expected * 8
    assert kernel.metrics["flops"] == 2 * expected * 3
    assert kernel.run().shape == (70, 3) == family.reference(inputs, params).shape


def test_factored_product_equals_its_own_factors_and_reports_distance_to_dense():
    family, params, inputs, kernel = prepared("svd", matrix="exp")
    output = kernel.run()
    assert family.error(output, kernel.expected) < 1e-13
    reference = family.reference(inputs, params)
    assert family.error(output, reference) == pytest.approx(
        kernel.metrics["error_product"], rel=1e-6
    )
    assert 0 < kernel.metrics["error_product"] < 1


def test_a_bad_factorisation_is_wrong_and_not_timed(cli, write_suite, tmp_path, monkeypatch):
    def garbage(xp, a, rank, oversample, power_iters, rng):
        return (
            np.linalg.qr(rng.standard_normal((a.shape[0], rank)))[0],
            np.ones(rank),
            np.linalg.qr(rng.standard_normal((a.shape[1], rank)))[0].T,
        )

    monkeypatch.setattr("labench.workloads.lowrank.randomized_svd", garbage)
    path = write_suite(
        "labench: 1\nname: l\ndefaults: {max_time: 0.01}\nbenchmarks:\n"
        "  - {id: l, workload: lowrank.matvec, params: {n: 100, rank: 10}}\n"
    )
    result = cli("run", path, "-o", tmp_path / "r.json")
    assert result.exit_code == 1
    cases = {case.implementation: case for case in reader.load(tmp_path / "r.json").cases}
    assert cases["rsvd"].status == "wrong" and cases["rsvd"].timing is None
    assert "beyond 1.5x the Eckart-Young optimum" in cases["rsvd"].reason
    assert cases["svd"].status == cases["dense"].status == "ok"


def test_an_approximation_is_checked_against_its_own_exact_answer(cli, write_suite, tmp_path):
    path = write_suite(
        "labench: 1\nname: a\ndefaults: {max_time: 0.01}\nbenchmarks:\n"
        "  - {id: a, workload: 'faulty_workloads:Approximate'}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json").exit_code == 1
    cases = {case.implementation: case for case in reader.load(tmp_path / "r.json").cases}
    assert cases["honest"].status == "ok"
    assert cases["broken"].status == "wrong"


def test_rank_beyond_the_matrix_is_skipped_with_the_reason(cli, write_suite, tmp_path):
    path = write_suite(
        "labench: 1\nname: l\nbenchmarks:\n"
        "  - {id: l, workload: lowrank.matvec, params: {n: 10, rank: 11}}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    case = reader.load(tmp_path / "r.json").cases[0]
    assert case.status == "skipped" and case.reason == "rank 11 exceeds min(m, n) = 10"


def test_real_image_matrix_when_matplotlib_is_installed():
    pytest.importorskip("matplotlib")
    *_, inputs, kernel = prepared("svd", matrix="image", n=128, m=96, rank=16)
    assert inputs["a"].shape == (96, 128)
    assert 0 < kernel.metrics["error_optimal"] < 0.5  # a photograph is far from flat
    assert kernel.metrics["error_rel"] == pytest.approx(kernel.metrics["error_optimal"], abs=1e-10)


def test_image_matrix_is_skipped_cleanly_without_matplotlib(
    cli, write_suite, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    path = write_suite(
        "labench: 1\nname: l\nbenchmarks:\n"
        "  - {id: l, workload: lowrank.matvec, params: {n: 64, rank: 8, matrix: image}}\n"
    )
    assert cli("run", path, "-o", tmp_path / "r.json", "-q").exit_code == 0
    cases = reader.load(tmp_path / "r.json").cases
    assert {case.status for case in cases} == {"skipped"}
    assert "needs matplotlib" in cases[0].reason
