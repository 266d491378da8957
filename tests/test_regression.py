import numpy as np
import pytest

from labench.results import reader
from labench.workloads import BUILTIN, WrongAnswer
from labench.workloads.regression import lambdas, system_condition

RIDGE = BUILTIN["regression.ridge"]()


def setup(**given):
    params = RIDGE.resolve_params({"n": 40, "samples": 120, **given})
    inputs = RIDGE.make_inputs(params, np.dtype("float64"), np.random.default_rng(3))
    return params, inputs, RIDGE.reference(inputs, params)


def solve(method, params, inputs):
    kernel = RIDGE.implementations[method].prepare(RIDGE, inputs, params)
    return kernel.run(), kernel.metrics


def test_the_data_has_the_stated_condition_number():
    _, inputs, _ = setup(cond=250.0)
    assert np.linalg.cond(inputs["x"]) == pytest.approx(250.0, rel=1e-8)


def test_the_reference_solves_the_regularized_normal_equations():
    params, inputs, reference = setup(path=3)
    x, y = inputs["x"], inputs["y"]
    for lam, w in zip(lambdas(params), reference, strict=True):
        gradient = x.T @ (x @ w - y) + lam * w
        assert np.linalg.norm(gradient) < 1e-12 * np.linalg.norm(x.T @ y)
    assert lambdas(params)[0] == pytest.approx(100 * params["lam"])
    assert lambdas(params)[-1] == pytest.approx(params["lam"])


@pytest.mark.parametrize("method", ["closed_form", "svd", "gradient_descent", "cg"])
@pytest.mark.parametrize("path", [1, 4])
def test_every_solver_reaches_the_reference_within_its_guaranteed_bound(method, path):
    params, inputs, reference = setup(path=path, cond=30.0, tol=1e-9)
    output, _ = solve(method, params, inputs)
    error = RIDGE.error(output, reference)
    assert error <= RIDGE.tolerance(params, np.dtype("float64"))
    if method in ("closed_form", "svd"):
        assert error < 1e-12


def test_iterations_follow_the_condition_number():
    """GD needs about cond * log(1/tol) steps, CG about sqrt(cond) * log(1/tol)."""
    counts = {}
    for cond in (3.0, 300.0):
        params, inputs, _ = setup(cond=cond, lam=1e-3)
        counts[cond] = {
            m: solve(m, params, inputs)[1]["iterations"] for m in ("gradient_descent", "cg")
        }
    assert counts[300.0]["gradient_descent"] > 20 * counts[3.0]["gradient_descent"]
    kappa, tol = system_condition(params), params["tol"]
    assert counts[300.0]["cg"] <= 0.5 * np.sqrt(kappa) * np.log(2 / tol)  # CG's classical bound
    assert counts[300.0]["gradient_descent"] <= kappa * np.log(1 / tol) * 1.1
    assert counts[300.0]["gradient_descent"] > 10 * counts[300.0]["cg"]


def test_a_solver_stopped_by_the_iteration_cap_is_wrong_not_timed():
    params, inputs, _ = setup(cond=1000.0, lam=1e-6, max_iterations=10)
    with pytest.raises(WrongAnswer, match="did not reach tol"):
        solve("gradient_descent", params, inputs)


def test_system_condition_of_the_regularized_problem():
    assert system_condition({"cond": 1.0, "lam": 0.5}) == pytest.approx(1.0)
    assert system_condition({"cond": 100.0, "lam": 1e-2}) == pytest.approx(1.01 / 0.0101)


def test_ridge_runs_through_the_cli(cli, write_suite, tmp_path):
    suite = write_suite(
        """
        labench: 1
        name: ridge
        defaults: {max_time: 0.02, warmup: 0.0, min_samples: 3}
        benchmarks:
          - id: ridge
            workload: regression.ridge
            params: {n: 30, samples: 60, path: 3}
          - id: capped
            workload: regression.ridge
            params: {n: 30, samples: 60, cond: 1000, lam: 1.0e-6, max_iterations: 5}
            implementations: [gradient_descent]
        """
    )
    result = cli("run", suite, "-o", tmp_path / "r.json", "-q")
    assert result.exit_code == 1  # the capped solver is wrong
    cases = {
        case.key.split("/")[0] + "/" + case.implementation: case
        for case in reader.load(tmp_path / "r.json").cases
    }
    assert {key: case.status for key, case in cases.items()} == {
        "ridge/closed_form": "ok",
        "ridge/svd": "ok",
        "ridge/gradient_descent": "ok",
        "ridge/cg": "ok",
        "capped/gradient_descent": "wrong",
    }
    assert cases["ridge/cg"].metrics["iterations"] > 0
    assert cases["ridge/closed_form"].metrics["factorizations"] == 3


def test_fewer_samples_than_features_is_refused_with_its_line(cli, write_suite):
    path = write_suite(
        "labench: 1\nname: r\nbenchmarks:\n"
        "  - id: r\n    workload: regression.ridge\n    params: {n: 100, samples: [50, 200]}\n"
    )
    result = cli("validate", path)
    assert result.exit_code == 2
    assert (
        f"{path}:6:13: benchmarks[0].params: samples (50) must be at least n (100)" in result.output
    )
