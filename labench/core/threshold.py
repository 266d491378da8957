"""A slowdown threshold as people write one: `10%` or `0.1`.

The command line (`--threshold`) and a suite file (a benchmark's `gate: {threshold: ...}`) take
the same forms, so this leaf is the one reader both use; each words its own context around the
message.
"""

from __future__ import annotations

from labench.core.errors import shown

MAX_THRESHOLD = 10.0
"""A slowdown of 1000%: beyond it a threshold is a typo (10 for 10%), not a tolerance."""


def threshold_fraction(value: str | float) -> float:
    """'10%', '0.1' or 0.1 -> 0.1; a ValueError that says what was expected otherwise."""
    text = value.strip() if isinstance(value, str) else value
    try:
        if isinstance(text, str):
            fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        elif isinstance(text, int | float) and not isinstance(text, bool):
            fraction = float(text)
        else:
            raise TypeError
    except (TypeError, ValueError):
        raise ValueError(
            f"expected a percentage such as 10% or a fraction such as 0.1, got {shown(value)}"
        ) from None
    if not 0 <= fraction < MAX_THRESHOLD:
        raise ValueError(f"expected a value between 0% and 1000%, got {shown(value)}")
    return fraction
