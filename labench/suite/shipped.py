"""The suites shipped inside the package, so `labench run quick` works after a plain
`pip install`, from any folder, without a checkout of the repository.

A suite argument is a file path first; only a bare name that is not an existing file is looked
up among the shipped suites, so a user's own `quick.yaml` in the current folder always wins.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from labench.core.errors import InputError

SUFFIX = ".yaml"


@dataclass(frozen=True)
class ShippedSuite:
    name: str
    path: Path
    description: str


def folder() -> Path:
    """Where the shipped suites are installed (a real folder: the package is never zipped)."""
    return Path(str(resources.files("labench") / "suites"))


def shipped_suites() -> list[ShippedSuite]:
    """Every shipped suite with the description its file declares, by name."""
    found = []
    for path in sorted(folder().glob(f"*{SUFFIX}")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found.append(ShippedSuite(path.stem, path, str(document.get("description", ""))))
    return found


def resolve(argument: Path) -> Path:
    """The file a suite argument means: the path itself if it exists or looks like a path,
    else the shipped suite of that name (`quick` or `quick.yaml`)."""
    if argument.exists():
        return argument
    if len(argument.parts) != 1:
        shipped = folder() / argument.name
        if argument.suffix == SUFFIX and shipped.is_file():
            raise InputError(
                f"{argument}: no such suite file; a suite of that name ships with labench: "
                f"run it as `labench run {argument.stem}`"
            )
        return argument
    name = argument.name.removesuffix(SUFFIX)
    candidate = folder() / f"{name}{SUFFIX}"
    if candidate.is_file():
        return candidate
    known = [suite.name for suite in shipped_suites()]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise InputError(
        f"{argument}: no such suite file, and no shipped suite of that name{hint} "
        f"Expected a path to a suite YAML file or one of the shipped suites: {', '.join(known)} "
        "(`labench list --suites` describes them)"
    )
