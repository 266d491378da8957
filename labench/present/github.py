"""GitHub Actions workflow commands for a gate's comparison: an `::error` annotation per
regressed case and a `::warning` per undecided one, shown on the run's page and the pull
request's checks.

Values are escaped by the runner's rules: in the message `%`, CR and LF; in a property such as
`title`, `:` and `,` as well (a case key holds commas: `n=64,transfers=False`).
"""

from __future__ import annotations

from labench.judge.compare import Comparison
from labench.present.gate_messages import regression_message, undecided_message

DATA_ESCAPES = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
PROPERTY_ESCAPES = (*DATA_ESCAPES, (":", "%3A"), (",", "%2C"))
"""`%` first, so the escapes' own `%` is not escaped again."""


def escape_data(text: str) -> str:
    """A workflow command's message, escaped."""
    for raw, escaped in DATA_ESCAPES:
        text = text.replace(raw, escaped)
    return text


def escape_property(text: str) -> str:
    """A workflow command's property value (`title=...`), escaped."""
    for raw, escaped in PROPERTY_ESCAPES:
        text = text.replace(raw, escaped)
    return text


def github_annotations(comparison: Comparison) -> list[str]:
    """One workflow command line per case that needs a look: regressions (`error`) first,
    then undecided cases (`warning`)."""
    lines = [
        f"::error title={escape_property(f'labench regression: {verdict.key}')}::"
        + escape_data(regression_message(comparison, verdict))
        for verdict in comparison.regressions()
    ]
    lines += [
        f"::warning title={escape_property(f'labench undecided: {verdict.key}')}::"
        + escape_data(undecided_message(comparison, verdict))
        for verdict in comparison.undecided()
    ]
    return lines
