"""Drift: a run-wide factor across cases, shown beside the verdicts and never divided out."""

import json
import re

import numpy as np
import pytest
from conftest import measured_case, synthetic_result, write_result

from labench.judge.compare import compare
from labench.judge.drift import run_drift
from labench.results.views import run_view

MEDIANS = [1e-5 * 1.4**index for index in range(12)]


def runs(factor, scatter=0.0, seed=0, moved=None):
    """A base of twelve cases, and a new run of the same cases `factor` slower, each scattered
    by `scatter`; `moved` = (index, extra factor) moves one case more."""
    rng = np.random.default_rng(seed)
    base, new = [], []
    for index, median in enumerate(MEDIANS):
        extra = moved[1] if moved and moved[0] == index else 1.0
        ratio = factor * extra * float(np.exp(scatter * rng.standard_normal()))
        base.append(measured_case(median=median, n=index, seed=index))
        new.append(measured_case(median=median * ratio, n=index, seed=100 + index))
    return run_view(synthetic_result(base), "base"), run_view(synthetic_result(new), "new")


def test_a_whole_run_slower_by_five_percent_is_seen_with_its_interval():
    comparison = compare(list(runs(1.05, scatter=0.01)))
    drift = run_drift(comparison.verdicts[0])
    assert drift is not None and drift.cases == 12
    assert drift.factor == pytest.approx(1.05, rel=0.01)
    assert drift.significant and drift.ci95[0] > 1.0
    described = drift.describe("base", "new")
    assert re.search(r"new measured [45]\.\d% slower than base across 12 cases", described)


def test_scattered_moves_both_ways_are_no_drift():
    comparison = compare(list(runs(1.0, scatter=0.15, seed=3)))
    drift = run_drift(comparison.verdicts[0])
    assert drift is not None and not drift.significant
    assert "within the scatter of its cases" in drift.describe("base", "new")


def test_the_drift_says_which_moves_it_explains_and_the_verdicts_stay_raw():
    """A case 12% slower in a run 5% slower: within 10% once the factor is taken out, so the
    drift explains it; the verdict still rests on the raw ratio."""
    comparison = compare(list(runs(1.05, scatter=0.005, moved=(4, 1.0 / 1.05 * 1.12))))
    verdict = next(v for v in comparison.verdicts[0] if "n=4/" in v.key)
    assert verdict.ratio == pytest.approx(1.12, rel=0.02)
    drift = run_drift(comparison.verdicts[0])
    assert drift is not None and drift.explains(verdict, 0.10)
    other = compare(list(runs(1.05, scatter=0.005, moved=(4, 1.30))))
    far = next(v for v in other.verdicts[0] if "n=4/" in v.key)
    assert not run_drift(other.verdicts[0]).explains(far, 0.10)


def test_too_few_cases_give_no_factor():
    base, new = runs(1.05)
    few_base = run_view(synthetic_result([measured_case(n=i, seed=i) for i in range(5)]), "a")
    few_new = run_view(synthetic_result([measured_case(n=i, seed=9 + i) for i in range(5)]), "b")
    assert run_drift(compare([few_base, few_new]).verdicts[0]) is None
    assert run_drift(compare([base, new]).verdicts[0]) is not None


def test_compare_shows_the_drift_in_every_format(cli, tmp_path):
    base_cases, new_cases = [], []
    for index, median in enumerate(MEDIANS):
        base_cases.append(measured_case(median=median, n=index, seed=index))
        new_cases.append(measured_case(median=median * 1.06, n=index, seed=50 + index))
    base = write_result(tmp_path / "base.json", base_cases)
    new = write_result(tmp_path / "new.json", new_cases)
    table = cli("compare", base, new)
    text = " ".join(table.output.split())
    assert table.exit_code == 0
    assert re.search(r"drift: new\.json measured [56]\.\d% slower than base\.json", text), text
    assert "the verdicts use the raw ratios" in text
    document = json.loads(cli("compare", base, new, "--format", "json").output)
    drift = document["runs"][0]["drift"]
    assert drift["factor"] == pytest.approx(1.06, rel=0.005) and drift["significant"]
    assert "drift:" in cli("compare", base, new, "--format", "markdown").output
