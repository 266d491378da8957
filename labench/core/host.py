"""What this host offers the process: its cores, its memory, its other processes.

Leaf facts read from the operating system (affinity masks, /proc), shared by measuring,
backends and planning, so each is looked up in one place.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def allowed_cpus() -> set[int]:
    """The cores this process may run on (its affinity), all of them where that is unknown."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), None where the
    process cannot be read (gone, or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
            return stream.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_seconds(pid: int) -> float:
    """CPU time (user + system) of a process so far, 0 where it cannot be read (gone)."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICK if fields else 0.0  # utime, stime


def parent_pid(pid: int) -> int | None:
    """The parent of a process, None where it cannot be read."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def descendants(pid: int) -> list[int]:
    """Every living process below `pid` (children, theirs, ...), read from /proc; empty where
    there is none or no /proc."""
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for each in pids:
        parent = parent_pid(each)
        if parent is not None:
            children.setdefault(parent, []).append(each)
    found, frontier = [], [pid]
    while frontier:
        below = children.get(frontier.pop(), [])
        found += below
        frontier += below
    return sorted(found)


Spec = TypeVar("Spec", bound=int | str)


def usable_cores() -> int:
    """Cores this process may run on (respects affinity masks and container CPU sets)."""
    return len(allowed_cpus())


def resolve_threads(spec: int | str) -> int:
    """Turn a suite's thread spec (a count or 'max') into a count for this machine."""
    return usable_cores() if spec == "max" else int(spec)


def distinct_threads(specs: Sequence[Spec]) -> list[Spec]:
    """Drop specs that resolve to a count already listed ('max' on a 2-core machine is 2)."""
    seen: dict[int, Spec] = {}
    for spec in specs:
        seen.setdefault(resolve_threads(spec), spec)
    return list(seen.values())


def _meminfo(field: str) -> int | None:
    """A field of /proc/meminfo in bytes (Linux), or None elsewhere."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name == field:
                    return int(rest.split()[0]) * 1024
    except OSError:
        return None
    return None


def total_memory() -> int:
    """Physical memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def available_memory() -> int:
    """Memory that can be allocated now without swapping (MemAvailable counts reclaimable
    page cache, which the free-page count from sysconf does not)."""
    available = _meminfo("MemAvailable")
    if available is not None:
        return available
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
