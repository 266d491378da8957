"""Why a case produced no timing: raised while measuring, recorded as the case's status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labench.results import model as results


class CaseFailed(Exception):
    """A case cannot produce a trustworthy timing; carries the status and reason to record."""

    def __init__(
        self, status: results.Status, reason: str, metrics: Mapping[str, Any] | None = None
    ):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.metrics = dict(metrics or {})


class TooLargeForHost(CaseFailed):
    """The case's data cannot be made on this host: only an implementation that builds its
    inputs where its backend computes (`at_scale`) can run it."""
