"""SIGTERM treated like Ctrl-C.

CI systems cancel a job with SIGTERM (then SIGKILL after a grace period), not SIGINT. Python
turns SIGINT into KeyboardInterrupt, which every cleanup path of a run already handles (the
result is saved marked `interrupted`, workers are killed); SIGTERM would end the process on the
spot. Raising `Terminated`, a KeyboardInterrupt, from a SIGTERM handler sends both signals down
the same path, and the CLI tells them apart only for the exit code (130 vs 143).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
