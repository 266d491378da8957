"""Suites: YAML file -> validated model -> the list of cases to run.

Validation happens in two passes, both reporting `file:line:column: where: what was expected`:
the structure through the pydantic models of `suite_model`, then the meaning (workloads,
implementations, parameters, baselines, claims, memory) in `suite_check`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from labench.core.errors import InputError, shown
from labench.suite.case import Suite
from labench.suite.check import check_meaning, structure_problem
from labench.suite.model import (
    FORMAT_VERSION,
    SuiteModel,
)
from labench.suite.selection import ClaimSelectionError, Rows, pair_up
from labench.suite.yamlsource import SourceMap, load_yaml, parse_yaml


def load_suite(path: Path) -> Suite:
    """Read, validate and resolve a suite file; raise InputError listing every problem found."""
    data, source = load_yaml(path)
    return _resolve(data, source, path, hashlib.sha256(path.read_bytes()).hexdigest(), path.parent)


def suite_from_text(text: str, path: Path, sha256: str, search_dir: Path | None) -> Suite:
    """A suite sent as text to a worker that has no copy of the file (labench.execution): the
    same checks as `load_suite`; `path` only words messages, user workload modules are looked
    for in `search_dir`."""
    data, source = parse_yaml(text, str(path))
    return _resolve(data, source, path, sha256, search_dir)


def _resolve(
    data: Any, source: SourceMap, path: Path, sha256: str, search_dir: Path | None
) -> Suite:
    file = str(path)
    if data is None:
        raise InputError(
            f"{file}:1:1: the file is empty; expected a suite: a mapping with "
            "'labench: 1', 'name' and 'benchmarks'"
        )
    if not isinstance(data, dict):
        raise InputError(
            f"{source.value(())}: expected a mapping with 'labench: 1', 'name' and "
            f"'benchmarks', got a {type(data).__name__}"
        )
    version = data.get("labench")
    if version != FORMAT_VERSION:
        where = source.value(("labench",)) if "labench" in data else source.value(())
        got = "no 'labench' key" if "labench" not in data else f"version {shown(version)}"
        raise InputError(
            f"{where}: unsupported suite format: expected 'labench: {FORMAT_VERSION}' "
            f"(the format this labench reads), got {got}"
        )
    try:
        model = SuiteModel.model_validate(data)
    except ValidationError as error:
        raise InputError([structure_problem(issue, source) for issue in error.errors()]) from None
    workloads, problems = check_meaning(model, source, search_dir)
    if problems:
        raise InputError(problems)
    suite = Suite(path=path, sha256=sha256, model=model, workloads=workloads, source=source)
    problems = _claim_selection_problems(suite)
    if problems:
        raise InputError(problems)
    return suite


def _claim_selection_problems(suite: Suite) -> list[str]:
    """A claim whose sides select no case, or several at once, could never be judged. The
    cases are indexed once (selection.Rows), so many claims on a large sweep do not each walk
    every case."""
    if not suite.model.claims:
        return []  # making every case costs as much as the rest of loading
    rows = Rows(suite.cases())
    problems = []
    for index, claim in enumerate(suite.model.claims):
        try:
            pair_up(claim, rows)
        except ClaimSelectionError as error:
            at = ("claims", index, claim.comparison_key)
            problems.append(f"{suite.source.value(at)}: claims[{index}] {claim.id!r}: {error}")
    return problems
