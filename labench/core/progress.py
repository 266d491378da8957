"""The progress protocol: how whatever runs cases tells whoever shows them.

It lives below both sides, so a renderer can offer an observer without importing a runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labench.results.model import CaseResult
    from labench.suite.case import Case


@dataclass
class Observer:
    """Hooks for progress display; the runner itself prints nothing."""

    started: Callable[[Case], None] = lambda case: None
    finished: Callable[[CaseResult], None] = lambda result: None
