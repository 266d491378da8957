"""Facts about arrays that measuring and workloads both need."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def resident_bytes(values: Iterable[Any]) -> int:
    """Bytes of the buffers that hold these arrays, each buffer once.

    A view keeps its whole base buffer alive, so it is counted through its base: a sliced
    factor that pins the full matrix it was cut from shows the full matrix's size.
    """
    owners: dict[int, int] = {}
    for value in values:
        if not isinstance(value, np.ndarray):
            continue
        owner = value
        while isinstance(owner.base, np.ndarray):
            owner = owner.base
        owners[id(owner)] = owner.nbytes
    return sum(owners.values())
