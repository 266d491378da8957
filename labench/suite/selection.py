"""Which cases a claim selects, and how its sides pair up point by point.

Part of the suite: a claim whose selection is empty or ambiguous is refused when the suite is
loaded, and the same pairing is used when the claim is judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from labench.core.errors import shown
from labench.core.host import resolve_threads
from labench.suite.model import Claim, Pick, ThreadSpec, as_list


class Row(Protocol):
    """What a claim needs of a case, planned (suite.Case) or measured (CaseResult); read-only,
    so a frozen dataclass and a model whose fields are narrower types both match."""

    @property
    def benchmark(self) -> str: ...
    @property
    def implementation(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def dtype(self) -> str: ...
    @property
    def math(self) -> str: ...
    @property
    def cache(self) -> str: ...
    @property
    def threads_spec(self) -> int | str: ...
    @property
    def threads(self) -> int: ...


R = TypeVar("R", bound=Row)


class ClaimSelectionError(ValueError):
    """The claim's selection is empty or ambiguous for the cases the suite plans."""


def _matches(row: Row, name: str, wanted: Any) -> bool:
    values = as_list(wanted)
    if name == "threads":
        return any(_threads_match(row, value) for value in values)
    if name in ("dtype", "math", "cache"):
        return getattr(row, name) in values
    return row.params.get(name) in values


def _threads_match(row: Row, threads: ThreadSpec | None) -> bool:
    """'max' means this machine's cores, whatever spec the suite used for that count: on one
    core, `threads: [1, max]` runs once, and a claim about 'max' is about that run."""
    return threads is None or row.threads == resolve_threads(threads)


def sides(claim: Claim) -> dict[str, Pick]:
    comparison = claim.comparison
    return {
        role: getattr(comparison, role)
        for role in ("of", "over")
        if getattr(comparison, role, None) is not None
    }


NOT_PARAMS = ("threads", "dtype", "math", "cache")
"""Names a claim's `where` may give that are coordinates of every case, not parameters."""


class Rows(Generic[R]):
    """Rows indexed by benchmark and by each parameter's value, built once for all the claims
    of a suite: a claim then examines the rows of its benchmark at the values its `where`
    names, not every row. Pairing each of 100 claims against every case of a 10,000-case sweep
    cost claims x cases (2.2 s of loading such a suite); with the index it costs about the
    rows the claims select."""

    def __init__(self, rows: Iterable[R]) -> None:
        self.rows: list[R] = list(rows)
        self._benchmark: dict[str, list[int]] = {}
        self._value: dict[tuple[str, str, Any], list[int]] = {}
        self._unindexed: set[tuple[str, str]] = set()
        """(benchmark, parameter) whose values include one that cannot be hashed."""
        for position, row in enumerate(self.rows):
            self._benchmark.setdefault(row.benchmark, []).append(position)
            for name, value in row.params.items():
                try:
                    self._value.setdefault((row.benchmark, name, value), []).append(position)
                except TypeError:
                    self._unindexed.add((row.benchmark, name))

    def candidates(self, claim: Claim) -> list[R]:
        """The rows of the claim's benchmark at the parameter values its `where` names (a
        superset of what it selects), in their given order."""
        narrowest = self._benchmark.get(claim.benchmark, [])
        for name, wanted in claim.where.items():
            values = as_list(wanted)
            if name in NOT_PARAMS or (claim.benchmark, name) in self._unindexed or None in values:
                continue  # None also matches a row without the parameter, which is not indexed
            try:
                found = [self._value.get((claim.benchmark, name, v), []) for v in values]
            except TypeError:  # a value that cannot be hashed: filtered row by row instead
                continue
            if sum(map(len, found)) < len(narrowest):
                narrowest = sorted({position for positions in found for position in positions})
        return [self.rows[position] for position in narrowest]


def pair_up(claim: Claim, rows: Sequence[R] | Rows[R]) -> list[dict[str, R]]:
    """The points a claim compares: for each, the row playing each side. Give `Rows` when
    pairing many claims against the same rows.

    Raises ClaimSelectionError when nothing is selected or a side is ambiguous at a point, so a
    suite can be refused at load time rather than reporting nonsense after an hour of running.
    """
    picks = sides(claim)
    by_side = {
        name: any(getattr(side, name) is not None for side in picks.values())
        for name in ("threads", "dtype", "math")
    }
    indexed = rows if isinstance(rows, Rows) else Rows(rows)
    selected = [
        row
        for row in indexed.candidates(claim)
        if all(_matches(row, name, wanted) for name, wanted in claim.where.items())
    ]
    points: dict[tuple[Any, ...], dict[str, list[R]]] = {}
    for row in selected:
        key: tuple[Any, ...] = (tuple(sorted(row.params.items(), key=str)), row.cache)
        key += tuple(getattr(row, name) for name, named in by_side.items() if not named)
        for role, side in picks.items():
            if _plays(row, side):
                points.setdefault(key, {}).setdefault(role, []).append(row)
    paired = []
    for found in points.values():
        if set(found) != set(picks):
            continue
        for role, candidates in found.items():
            if len(candidates) > 1:
                threads = sorted({row.threads for row in candidates})
                raise ClaimSelectionError(
                    f"'{role}' ({picks[role].implementation}) matches runs at {threads} threads "
                    "at the same point; give it a 'threads' or add 'threads' to 'where'"
                )
        paired.append({role: candidates[0] for role, candidates in found.items()})
    if not paired:
        raise ClaimSelectionError(
            "selects no case: no point of benchmark "
            f"{claim.benchmark!r} has {' and '.join(_describe(p) for p in picks.values())}"
            + (f" with {shown(claim.where, 200)}" if claim.where else "")
        )
    return paired


def _plays(row: Row, side: Pick) -> bool:
    """Whether a row is the case a side names: its implementation, at the side's thread
    count, dtype and math mode where the side gives them (a claim across precisions)."""
    return (
        row.implementation == side.implementation
        and _threads_match(row, side.threads)
        and side.dtype in (None, row.dtype)
        and side.math in (None, row.math)
    )


def _describe(side: Pick) -> str:
    return (
        side.implementation
        + (f" at {side.threads} threads" if side.threads else "")
        + (f" in {side.dtype}" if side.dtype else "")
        + (f" with {side.math} math" if side.math else "")
    )
