import json

import pytest
from conftest import ROOT, measured_case

from labench.judge.claims import evaluate, evaluate_all
from labench.results import reader
from labench.suite.model import Claim


def case(implementation, median, *, n=100, threads=1, status="ok", metrics=None, spec=None):
    return measured_case(
        implementation,
        median,
        n=n,
        threads=threads,
        spec=spec,
        status=status,
        reason="because",
        metrics=metrics,
    )


def claim(**fields):
    return Claim.model_validate({"id": "c", "text": "t", "benchmark": "b", **fields})


SPEEDUP = {"speedup": {"of": "fast", "over": "slow"}, "at_least": 2.0}


def test_a_speedup_holds_with_its_confidence_interval():
    verdict = evaluate(claim(**SPEEDUP), [case("fast", 1.0), case("slow", 3.0)])
    assert verdict.status == "held"
    assert verdict.value == pytest.approx(3.0, rel=0.02)
    assert verdict.ci[0] < verdict.value < verdict.ci[1]
    assert verdict.bound == ">= 2"


def test_the_claim_must_hold_at_every_point_and_reports_the_worst():
    cases = [case("fast", 1.0, n=100), case("slow", 3.0, n=100)]
    cases += [case("fast", 1.0, n=200), case("slow", 1.5, n=200)]
    verdict = evaluate(claim(**SPEEDUP), cases)
    assert verdict.status == "failed"
    assert verdict.value == pytest.approx(1.5, rel=0.02)
    assert verdict.at == "n=200"
    assert verdict.points == 2
    selected = evaluate(claim(**SPEEDUP, where={"n": 100}), cases)
    assert selected.status == "held" and selected.points == 1


def test_metric_and_ratio_claims():
    cases = [
        case("svd", 1.0, metrics={"params": 20.0, "error_rel": 0.05}),
        case("dense", 2.0, metrics={"params": 100.0, "error_rel": 0.0}),
    ]
    ratio = claim(ratio={"metric": "params", "of": "svd", "over": "dense"}, at_most=0.25)
    assert evaluate(ratio, cases).value == pytest.approx(0.2)
    assert evaluate(ratio, cases).status == "held"
    metric = claim(metric={"name": "error_rel", "of": "svd"}, at_most=0.01)
    assert evaluate(metric, cases).status == "failed"
    time = claim(metric={"name": "time", "of": "dense"}, at_most=1.0)
    assert evaluate(time, cases).value == pytest.approx(2.0, rel=0.02)
    both = claim(metric={"name": "error_rel", "of": "svd"}, at_least=0.01, at_most=0.1)
    assert evaluate(both, cases).status == "held"
    assert evaluate(both, cases).bound == ">= 0.01 and <= 0.1"


def test_a_skipped_side_leaves_the_claim_unmeasured_never_held():
    cases = [case("fast", 1.0), case("slow", 3.0, status="skipped")]
    verdict = evaluate(claim(**SPEEDUP), cases)
    assert verdict.status == "unmeasured"
    assert verdict.value is None
    assert "slow skipped (because)" in verdict.reason


def test_a_failure_measured_elsewhere_still_fails():
    cases = [case("fast", 1.0, n=100), case("slow", 1.1, n=100)]
    cases += [case("fast", 1.0, n=200), case("slow", 3.0, n=200, status="error")]
    assert evaluate(claim(**SPEEDUP), cases).status == "failed"


def test_points_filtered_out_of_the_run_make_it_unmeasured():
    planned = [case("fast", 1.0, n=n) for n in (100, 200)]
    planned += [case("slow", 3.0, n=n) for n in (100, 200)]
    ran = [c for c in planned if c.params["n"] == 100]
    [verdict] = evaluate_all([claim(**SPEEDUP)], ran, planned)
    assert verdict.status == "unmeasured"
    assert "1 of 2 points not in this run" in verdict.reason


def test_sides_at_their_own_thread_counts(monkeypatch):
    monkeypatch.setattr("labench.core.host.usable_cores", lambda: 2)
    cases = [case("blas", 2.0, threads=1), case("blas", 1.0, threads=2, spec="max")]
    across = claim(
        speedup={
            "of": {"implementation": "blas", "threads": "max"},
            "over": {"implementation": "blas", "threads": 1},
        },
        at_least=1.5,
    )
    assert evaluate(across, cases).value == pytest.approx(2.0, rel=0.02)
    same_threads = claim(speedup={"of": "blas", "over": "blas"}, at_least=1.0)
    assert evaluate(same_threads, cases).value == pytest.approx(1.0)


def test_on_one_core_max_is_the_single_thread_run(monkeypatch):
    """`threads: [1, max]` runs once on one core; a claim about 'max' must still be judged, and
    honestly fails: more cores than there are cannot help."""
    from labench.suite.load import load_suite

    monkeypatch.setattr("labench.core.host.usable_cores", lambda: 1)
    suite = load_suite(ROOT / "suites" / "seed-claims.yaml")
    claim = next(c for c in suite.model.claims if c.id == "cores-speed-up-matmul")
    blas = [c for c in suite.cases() if c.benchmark == "blas_threads"]
    assert [c.threads for c in blas] == [1]
    ran = [case("numpy", 1.0, threads=1)]
    ran[0] = ran[0].model_copy(update={"benchmark": "blas_threads", "params": blas[0].params})
    verdict = evaluate(claim, ran)
    assert verdict.status == "failed" and verdict.value == pytest.approx(1.0)


CLAIM_SUITE = """
labench: 1
name: claims
defaults: {max_time: 0.02, warmup: 0.0, min_samples: 3}
benchmarks:
  - id: lr
    workload: lowrank.matvec
    params: {n: 100, rank: 10}
    implementations: [dense, svd]
claims:
  - id: fewer-params
    text: rank 10 of 100x100 stores 20%
    benchmark: lr
    ratio: {metric: params, of: svd, over: dense}
    at_most: {bound}
"""


def test_run_exits_1_on_a_failed_claim_unless_told_not_to(cli, write_suite, tmp_path):
    held = write_suite(CLAIM_SUITE.replace("{bound}", "0.25"), "held.yaml")
    result = cli("run", held, "-o", tmp_path / "held.json", "-q")
    assert result.exit_code == 0, result.output
    stored = reader.load(tmp_path / "held.json").claims
    assert [(c.id, c.status, c.value) for c in stored] == [("fewer-params", "held", 0.2)]
    document = json.loads((tmp_path / "held.json").read_text())
    assert document["claims"][0]["bound"] == "<= 0.25"

    failed = write_suite(CLAIM_SUITE.replace("{bound}", "0.1"), "failed.yaml")
    result = cli("run", failed, "-o", tmp_path / "failed.json")
    assert result.exit_code == 1
    assert "Claims" in result.output and "failed" in result.output
    result = cli("run", failed, "-o", tmp_path / "ok.json", "-q", "--no-fail-on-claims")
    assert result.exit_code == 0
    shown = cli("show", tmp_path / "failed.json")
    assert "fewer-params" in shown.output and "0.2" in shown.output


@pytest.mark.parametrize(
    ("claim_yaml", "message"),
    [
        (
            "speedup: {of: svd, over: dense}\n    where: {n: 999}\n    at_least: 1",
            "selects no case",
        ),
        (
            "speedup: {of: {implementation: svd, threads: 1}, over: dense}\n    at_least: 1",
            "give it a 'threads'",
        ),
        (
            "speedup: {of: {implementation: svd, thread: 1}, over: dense}\n    at_least: 1",
            "unknown key 'thread'",
        ),
    ],
)
def test_claims_that_cannot_be_judged_are_refused_at_load(cli, write_suite, claim_yaml, message):
    text = CLAIM_SUITE.replace("    threads", "").replace(
        "    ratio: {metric: params, of: svd, over: dense}\n    at_most: {bound}",
        "    " + claim_yaml,
    )
    text = text.replace("defaults: {", "defaults: {threads: [1, 2], ")
    path = write_suite(text)
    result = cli("validate", path)
    assert result.exit_code == 2
    assert message in result.output
    assert f"{path}:" in result.output


@pytest.mark.parametrize("suite", sorted((ROOT / "suites").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_suite_and_its_claims_are_valid(cli, suite):
    result = cli("validate", suite)
    assert result.exit_code == 0, result.output


def test_the_seed_claims_cover_every_family_and_a_gpu():
    from labench.suite.load import load_suite

    suite = load_suite(ROOT / "suites" / "seed-claims.yaml")
    assert len(suite.model.claims) >= 6
    workloads = {
        suite.workloads[claim.benchmark].name.split(".")[0] for claim in suite.model.claims
    }
    assert workloads == {"gradients", "lowrank", "kernels", "regression"}
    assert any(
        claim.comparison.of.implementation == "cupy"
        for claim in suite.model.claims
        if claim.speedup
    )


@pytest.mark.parametrize(
    "example", sorted((ROOT / "results").glob("example-*.json")), ids=lambda p: p.name
)
def test_shipped_example_results_still_load_and_show(cli, example):
    result = cli("show", example)
    assert result.exit_code == 0, result.output
    assert "Claims" in result.output or not reader.load(example).claims


def sweep_with_claims(write_suite, claims):
    """A 10,000-case sweep (1000 sizes x 5 thread counts x 2 implementations) with `claims`
    claims, each about one size."""
    listed = "\n".join(
        f"  - {{id: c{i}, text: t, benchmark: mv, where: {{n: {i + 1}}}, "
        "speedup: {of: numba, over: numpy}, at_least: 0.0}"
        for i in range(claims)
    )
    sizes = ", ".join(str(n) for n in range(1, 1001))
    return write_suite(
        f"""
labench: 1
name: big
max_cases: 10000
benchmarks:
  - {{id: mv, workload: kernels.matvec, params: {{n: [{sizes}]}}, threads: [1, 2, 3, 4, 5],
     implementations: [numpy, numba]}}
claims:
{listed}
""",
        f"claims-{claims}.yaml",
    )


def test_pairing_many_claims_costs_the_rows_they_select_not_claims_times_cases(
    write_suite, monkeypatch
):
    from labench.suite import selection
    from labench.suite.load import load_suite

    looked_at = []
    matches = selection._matches
    monkeypatch.setattr(
        selection, "_matches", lambda row, *rest: looked_at.append(row) or matches(row, *rest)
    )
    counts = {}
    for claims in (10, 100):
        looked_at.clear()
        suite = load_suite(sweep_with_claims(write_suite, claims))  # checks every claim's pairing
        verdicts = evaluate_all(suite.model.claims, [], suite.cases())  # pairs them again
        assert len(suite.cases()) == 10_000 and len(verdicts) == claims
        counts[claims] = len(looked_at)
    # each claim looks at its own size's 10 cases, twice, instead of all 10,000
    assert counts == {10: 10 * 10 * 2, 100: 100 * 10 * 2}


def test_a_value_named_twice_in_where_selects_each_case_once():
    from labench.suite.selection import Rows, pair_up

    cases = [case(name, 1.0, n=n) for n in range(10) for name in ("fast", "slow")]
    chosen = claim(where={"n": [5, 5, 5.0]}, **SPEEDUP)
    for rows in (cases, Rows(cases)):
        [point] = pair_up(chosen, rows)
        assert {side: row.params["n"] for side, row in point.items()} == {"of": 5, "over": 5}
