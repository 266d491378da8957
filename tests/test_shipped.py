"""Shipped suites: `labench run quick` works from any folder, `list --suites` describes them."""


from labench.results import reader
from labench.suite.shipped import shipped_suites


def test_every_shipped_suite_is_listed_with_its_description(cli):
    listed = cli("list", "--suites")
    assert listed.exit_code == 0, listed.output
    suites = shipped_suites()
    assert {suite.name for suite in suites} >= {"quick", "seed-claims"}
    for suite in suites:
        assert suite.name in listed.output
        assert suite.description and suite.description[:40] in listed.output.replace("\n", " ")


def test_a_shipped_suite_runs_by_name_from_any_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "quick.json"
    result = cli("run", "quick", "--filter", "matvec", "--max-time", "0.01", "-q", "-o", out)
    assert result.exit_code == 0, result.output
    ran = reader.load(out)
    assert ran.suite.name == "quick"
    assert {case.benchmark for case in ran.cases} == {"matvec"}


def test_shipped_suites_validate_by_name_with_or_without_suffix(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "seed-claims", "quick.yaml")
    assert result.exit_code == 0, result.output
    assert "seed-claims: ok" in result.output and "quick.yaml: ok" in result.output


def test_a_local_file_wins_over_the_shipped_suite_of_that_name(
    cli, write_suite, tmp_path, monkeypatch
):
    write_suite(
        """
        labench: 1
        name: mine
        benchmarks:
          - {id: only, workload: kernels.matvec, params: {n: 8}}
        """,
        name="quick",
    )
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "quick")
    assert result.exit_code == 0, result.output
    assert "quick: ok, 1 benchmarks" in result.output  # the shipped quick has 5


def test_an_unknown_suite_name_is_exit_2_naming_the_shipped_ones(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("run", "quik")
    assert result.exit_code == 2
    assert "quik: no such suite file, and no shipped suite of that name" in result.output
    assert "quick" in result.output and "seed-claims" in result.output
