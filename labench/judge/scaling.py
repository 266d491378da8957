"""How a benchmark's time grows with the parameters it sweeps: the exponents of a power law
fitted to the medians. A plot's legend and the summary of a large run both quote them, since
"time ~ n^2.93" says in one number what a table of a thousand sizes says in a page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labench.results.model import CaseResult


def swept(cases: Sequence[CaseResult]) -> list[str]:
    """Numeric parameters that take several values in these cases."""
    names = []
    for name in cases[0].params:
        values = {case.params.get(name) for case in cases}
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and len(values) > 1:
            names.append(name)
    return names


def fitted_exponents(
    cases: Sequence[CaseResult], parameters: Sequence[str]
) -> dict[str, float] | None:
    """The a_i of median ~ c * prod(p_i ^ a_i), least squares on logarithms over the timed
    cases; None when the points cannot determine them (too few, or a value not positive)."""
    timed = [(case, case.timing) for case in cases if case.timing is not None]
    if not parameters or not timed:
        return None
    values = np.array(
        [[case.params[name] for name in parameters] for case, _ in timed], dtype=float
    )
    medians = np.array([timing.median for _, timing in timed])
    if np.any(values <= 0) or np.any(medians <= 0):
        return None
    design = np.column_stack([np.ones(len(timed)), np.log(values)])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return None
    solution = np.linalg.lstsq(design, np.log(medians), rcond=None)[0]
    return dict(zip(parameters, (float(a) for a in solution[1:]), strict=True))
