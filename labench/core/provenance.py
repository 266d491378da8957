"""Where the benchmarked code came from: the git commit, branch and dirty flag of the current
directory's repository, recorded with each run so `labench history` can put runs in commit order
and name the commit where a step happened.

Git is optional: without git, or outside a repository, every field is None and runs are ordered
by time. Git is asked through its command line, with a short timeout, so a hung or slow git never
stalls a benchmark run.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class GitState:
    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None


def _git(folder: Path, *arguments: str) -> str | None:
    """Git's output, or None when git is missing, fails, or is not in a repository here."""
    try:
        completed = subprocess.run(
            ["git", *arguments],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout if completed.returncode == 0 else None


def git_state(folder: Path) -> GitState:
    """The commit checked out in `folder`'s repository; dirty means tracked files differ from it
    (untracked files, such as new result files, do not count)."""
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return GitState()
    branch = (_git(folder, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
    changes = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return GitState(
        commit=commit.strip(),
        branch=None if branch in ("", "HEAD") else branch,
        dirty=None if changes is None else bool(changes.strip()),
    )


def commit_positions(folder: Path, commits: set[str]) -> dict[str, int] | None:
    """Each commit's place in the repository's history (0 = oldest, parents before children),
    or None when git cannot place every one of them (then runs are ordered by time)."""
    listing = _git(folder, "rev-list", "--topo-order", "--reverse", "--all")
    if listing is None:
        return None
    positions = {commit: index for index, commit in enumerate(listing.split())}
    if not commits <= positions.keys():
        return None
    return {commit: positions[commit] for commit in commits}
