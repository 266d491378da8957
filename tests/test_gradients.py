"""The numeric facts of the gradients family, on small sizes (no wall-clock assertions)."""

import numpy as np
import pytest

from labench.workloads import BUILTIN
from labench.workloads.gradients import softplus

FAMILY = ["gradients.least_squares", "gradients.logistic", "gradients.mlp"]


def setup(name, **given):
    workload = BUILTIN[name]()
    params = workload.resolve_params({"n": 12, "samples": 40, **given})
    inputs = workload.make_inputs(params, np.dtype("float64"), np.random.default_rng(7))
    return workload, params, inputs


def gradient_by(workload, params, inputs, method):
    return workload.implementations[method].prepare(workload, inputs, params).run()


@pytest.mark.parametrize("name", FAMILY)
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_analytic_gradient_matches_the_complex_step_to_1e_13(name, l2):
    workload, params, inputs = setup(name, l2=l2)
    analytic = gradient_by(workload, params, inputs, "analytic")
    assert workload.error(gradient_by(workload, params, inputs, "complex_step"), analytic) <= 1e-13


@pytest.mark.parametrize("name", FAMILY)
def test_each_method_lands_in_its_textbook_error_band_at_its_default_step(name):
    workload, params, inputs = setup(name)
    reference = workload.reference(inputs, params)
    error = {
        m: workload.error(gradient_by(workload, params, inputs, m), reference)
        for m in ("fd_forward", "fd_central", "complex_step")
    }
    assert 1e-10 < error["fd_forward"] < 1e-5  # O(sqrt(eps))
    assert 1e-13 < error["fd_central"] < 1e-8  # O(eps^(2/3))
    assert error["complex_step"] < 1e-14  # machine precision
    assert error["complex_step"] < error["fd_central"] < error["fd_forward"]


@pytest.mark.parametrize("name", FAMILY)
def test_finite_differences_really_evaluate_the_loss_n_plus_1_2n_and_n_times(name, monkeypatch):
    workload, params, inputs = setup(name)
    size = workload.parameter_count(params)
    calls = []
    original = type(workload).loss
    monkeypatch.setattr(
        type(workload),
        "loss",
        lambda self, xp, w, d, p: calls.append(1) or original(self, xp, w, d, p),
    )
    for method, expected in (
        ("fd_forward", size + 1),
        ("fd_central", 2 * size),
        ("complex_step", size),
        ("analytic", 0),
    ):
        calls.clear()
        kernel = workload.implementations[method].prepare(workload, inputs, params)
        kernel.run()
        assert len(calls) == expected == kernel.metrics["evaluations"], method
        assert kernel.metrics["parameters"] == size


def test_error_vs_step_is_v_shaped_for_finite_differences():
    steps = 10.0 ** -np.arange(1, 14)
    for method in ("fd_forward", "fd_central"):
        errors = []
        for h in steps:
            workload, params, inputs = setup("gradients.logistic", h=float(h))
            errors.append(
                workload.error(
                    gradient_by(workload, params, inputs, method),
                    workload.reference(inputs, params),
                )
            )
        best = int(np.argmin(errors))
        assert 0 < best < len(steps) - 1, (method, errors)
        assert errors[0] > 100 * errors[best] and errors[-1] > 100 * errors[best]
    assert 1e-7 <= steps[best] <= 1e-3  # central's optimum sits near eps^(1/3) ~ 6e-6


def test_complex_step_has_no_cancellation_at_tiny_steps():
    workload, params, inputs = setup("gradients.logistic", h=1e-30)
    error = workload.error(
        gradient_by(workload, params, inputs, "complex_step"), workload.reference(inputs, params)
    )
    assert error < 1e-14


def test_softplus_is_logaddexp_and_stable():
    t = np.array([-800.0, -30, -1, 0, 1, 30, 800])
    assert np.allclose(softplus(np, t), np.logaddexp(0, t), rtol=1e-15, atol=0)
    derivative = softplus(np, np.array([2.0 + 1e-20j])).imag / 1e-20
    assert derivative[0] == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-15)


def test_mlp_parameter_count_matches_its_vector():
    workload, params, inputs = setup("gradients.mlp", n=5, features=3, classes=2)
    assert workload.parameter_count(params) == 3 * 5 + 5 + 5 * 2 + 2 == inputs["w"].size


def test_family_is_float64_only_and_rejects_float32(cli, write_suite):
    assert all(BUILTIN[name].dtypes == ("float64",) for name in FAMILY)
    path = write_suite(
        "labench: 1\nname: g\nbenchmarks:\n  - {id: g, workload: gradients.mlp, dtype: float32}\n"
    )
    result = cli("validate", path)
    assert (
        result.exit_code == 2 and "gradients.mlp supports float64, got 'float32'" in result.output
    )


def test_a_finite_difference_beyond_1e_3_is_wrong_unless_the_suite_loosens_it(
    cli, write_suite, tmp_path
):
    text = (
        "labench: 1\nname: g\ndefaults: {max_time: 0.01}\nbenchmarks:\n"
        "  - {id: g, workload: gradients.logistic, params: {n: 8, h: 0.5}, implementations: [analytic, fd_forward]"
    )
    strict = cli("run", write_suite(text + "}\n"), "-o", tmp_path / "a.json")
    assert strict.exit_code == 1 and "exceeds the tolerance 0.001" in strict.output
    loose = cli(
        "run", write_suite(text + ", tolerance: 1.0}\n", "b.yaml"), "-o", tmp_path / "b.json"
    )
    assert loose.exit_code == 0
