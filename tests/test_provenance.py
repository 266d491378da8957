"""Each run records the git commit, branch and dirty flag of the current folder, and --label."""

import shutil

import pytest
from conftest import git

from labench.core.provenance import GitState, commit_positions, git_state
from labench.results import reader

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

ONE_CASE = ("quick", "--filter", "matvec/*/t1/numpy", "--max-time", "0.01", "-q")
"""One case of the shipped quick suite, run from any folder."""


@pytest.fixture
def repository(tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "trunk")
    (folder / "code.py").write_text("x = 1\n")
    git(folder, "add", "code.py")
    git(folder, "commit", "-q", "-m", "one")
    return folder


def test_a_run_records_commit_branch_dirty_and_label(cli, repository, monkeypatch):
    monkeypatch.chdir(repository)
    assert cli("run", *ONE_CASE, "-o", "clean.json", "--label", "before fix").exit_code == 0
    (repository / "code.py").write_text("x = 2\n")
    assert cli("run", *ONE_CASE, "-o", "dirty.json").exit_code == 0
    clean, dirty = reader.load(repository / "clean.json"), reader.load(repository / "dirty.json")
    head = git(repository, "rev-parse", "HEAD")
    assert (clean.run.git_commit, clean.run.git_branch, clean.run.git_dirty) == (
        head,
        "trunk",
        False,
    )
    assert clean.run.label == "before fix"
    assert dirty.run.git_dirty is True and dirty.run.label is None


def test_outside_a_repository_every_field_is_none(tmp_path):
    assert git_state(tmp_path) == GitState()


def test_commit_positions_follow_history_and_give_up_on_unknown_commits(repository):
    first = git(repository, "rev-parse", "HEAD")
    (repository / "code.py").write_text("x = 3\n")
    git(repository, "commit", "-q", "-am", "two")
    second = git(repository, "rev-parse", "HEAD")
    positions = commit_positions(repository, {first, second})
    assert positions is not None and positions[first] < positions[second]
    assert commit_positions(repository, {first, "f" * 40}) is None
