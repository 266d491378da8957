"""The two sides of an A/B run: what `--base` and `--new` name, made into a folder and an
interpreter each.

A side is one of:

- a git revision of the repository the command runs in: checked out into a temporary worktree
  (`git worktree add --detach`), which is removed when the run ends, however it ends: success,
  an error, Ctrl-C or SIGTERM (both arrive as KeyboardInterrupt, core/signals.py) all leave
  through `sides`'s `finally`;
- a folder: a copy of the code, used as it is;
- a Python interpreter (another virtual environment, with its own packages): the working tree
  measured with that interpreter.

Each side measures in its own "current folder": the worktree at the same place inside the
repository as the current folder is (so a relative SUITE names the same file in every
revision), the folder itself, or the current folder for the working tree and an interpreter.
Defaults: `--new` the working tree, `--base` the merge base of HEAD with the default branch
(the first of DEFAULT_BRANCHES that exists).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from labench.core.errors import InputError

WORKING_TREE = "the working tree"
DEFAULT_BRANCHES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")


@dataclass(frozen=True)
class Side:
    """Where one side measures: the folder its processes start in, and their interpreter."""

    name: str
    """`base` or `new`."""
    spec: str
    """What the user named: a revision, a folder, an interpreter, or the working tree."""
    folder: Path
    python: str

    def describe(self) -> str:
        return f"{self.name} ({self.spec})"

    def environment(self) -> dict[str, str]:
        """The side's environment: its folder (and a `src/` in it) first on the import path, so
        a package of the repository is imported from this side, not from wherever it was
        installed."""
        first = [str(path) for path in (self.folder, self.folder / "src") if path.is_dir()]
        rest = os.environ.get("PYTHONPATH")
        return {**os.environ, "PYTHONPATH": os.pathsep.join([*first, *([rest] if rest else [])])}


def git(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, text=True, check=False)


def repository() -> tuple[Path, Path] | None:
    """The repository's top folder and the current folder's place in it; None outside one."""
    top = git("rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return None
    root = Path(top.stdout.strip())
    return root, Path.cwd().resolve().relative_to(root.resolve())


def merge_base() -> str:
    """The merge base of HEAD with the default branch: what a pull request is measured
    against."""
    for branch in DEFAULT_BRANCHES:
        if git("rev-parse", "--verify", "--quiet", branch).returncode == 0:
            found = git("merge-base", "HEAD", branch)
            if found.returncode == 0:
                return found.stdout.strip()
    raise InputError(
        "base: no default branch to take the merge base with (tried "
        f"{', '.join(DEFAULT_BRANCHES)}); name the base with --base REVISION, FOLDER or PYTHON"
    )


def is_interpreter(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@contextmanager
def worktree(name: str, revision: str, label: str) -> Iterator[Side]:
    """A side checked out at `revision` in a temporary worktree, removed on the way out;
    `label` says what it is in messages."""
    found = repository()
    if found is None:
        raise InputError(
            f"{name} ({revision}): not a folder, not an interpreter, and the current folder is "
            "not in a git repository, so it cannot be a revision either"
        )
    root, inside = found
    commit = git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if commit.returncode != 0:
        raise InputError(
            f"{name} ({revision}): no such revision in the repository at {root}, and no such "
            "folder or interpreter; name a commit, branch or tag (fetch it first in a shallow "
            "clone: actions/checkout needs fetch-depth: 0), a folder or a Python interpreter"
        )
    scratch = Path(tempfile.mkdtemp(prefix=f"labench-ab-{name}-"))
    checkout = scratch / "tree"
    try:
        added = git("worktree", "add", "--detach", str(checkout), commit.stdout.strip(), cwd=root)
        if added.returncode != 0:
            raise InputError(
                f"{name} ({revision}): git could not check it out: {added.stderr.strip()}"
            )
        yield Side(name, label, checkout / inside, sys.executable)
    finally:
        git("worktree", "remove", "--force", str(checkout), cwd=root)
        shutil.rmtree(scratch, ignore_errors=True)
        git("worktree", "prune", cwd=root)


@contextmanager
def one_side(name: str, spec: str | None) -> Iterator[Side]:
    """The side `spec` names (see the module docstring)."""
    if spec is None and name == "new":
        yield Side(name, WORKING_TREE, Path.cwd(), sys.executable)
        return
    revision = merge_base() if spec is None else spec
    path = Path(revision).expanduser()
    if spec is not None and path.is_dir():
        yield Side(name, f"folder {spec}", path.resolve(), sys.executable)
    elif spec is not None and is_interpreter(path):
        yield Side(name, f"interpreter {spec}", Path.cwd(), str(path))
    else:
        label = f"revision {spec}" if spec is not None else f"merge base {revision[:12]}"
        with worktree(name, revision, label) as side:
            yield side


@contextmanager
def sides(base: str | None, new: str | None) -> Iterator[tuple[Side, Side]]:
    """Both sides, every worktree removed when the block is left."""
    with ExitStack() as stack:
        base_side = stack.enter_context(one_side("base", base))
        new_side = stack.enter_context(one_side("new", new))
        yield base_side, new_side
