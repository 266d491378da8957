"""The state of the GPU behind a run's GPU cases, in words and rows: the device each ran on,
its clocks, power and temperature while sampled, why its clocks were held down, and who else
used it. The terminal (`show`, `run`) and the HTML report render the same rows."""

from __future__ import annotations

from labench.results.gpu_state import ClockRange, GpuState
from labench.results.model import CaseResult, Result

HEADERS = (
    "case",
    "SM MHz start/min/end (max)",
    "memory MHz start/min/end",
    "power W",
    "°C",
    "throttle reasons",
    "other processes",
)


def gpu_cases(result: Result) -> list[CaseResult]:
    """The cases that carry a GPU state (ok GPU cases)."""
    return [case for case in result.cases if case.gpu is not None]


def _clock_text(clock: ClockRange | None, top: float | None = None) -> str:
    if clock is None:
        return "-"
    text = f"{clock.start:.0f}/{clock.min:.0f}/{clock.end:.0f}"
    return text + (f" ({top:.0f})" if top else "")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _others_text(state: GpuState) -> str:
    if state.other_processes is None:
        return "-"
    pids = f" (pid {', '.join(map(str, state.other_pids))})" if state.other_pids else ""
    return f"{state.other_processes}{pids}"


def state_row(key: str, state: GpuState) -> list[str]:
    """One row of HEADERS."""
    return [
        key,
        _clock_text(state.sm_clock, state.sm_clock_max),
        _clock_text(state.memory_clock),
        _number(state.power_watts),
        _number(state.temperature_c),
        ", ".join(state.throttle_reasons) or "none",
        _others_text(state),
    ]


def _read(result: Result) -> list[tuple[str, GpuState]]:
    """The GPU cases whose state NVML could read, with it."""
    return [
        (case.key, case.gpu)
        for case in gpu_cases(result)
        if case.gpu is not None and case.gpu.reason is None
    ]


def state_rows(result: Result) -> list[list[str]]:
    """A row per GPU case whose state was read; the others are in `notes`."""
    return [state_row(key, state) for key, state in _read(result)]


def device_line(result: Result) -> str | None:
    """The GPU devices the run's cases ran on, by name and UUID; None without GPU cases."""
    devices = {
        (case.gpu.name or "GPU", case.gpu.uuid)
        for case in gpu_cases(result)
        if case.gpu and case.gpu.uuid
    }
    if not devices:
        return None
    return "GPU: " + "; ".join(f"{name} ({uuid})" for name, uuid in sorted(devices))


def notes(result: Result) -> list[str]:
    """What the table leaves unsaid: cases whose state could not be read at all, fields NVML
    refused, and what `throttled` means here."""
    lines = []
    unread: dict[str, int] = {}
    for case in gpu_cases(result):
        if case.gpu is not None and case.gpu.reason is not None:
            unread[case.gpu.reason] = unread.get(case.gpu.reason, 0) + 1
    lines += [
        f"GPU state not read for {count} case(s): {reason}" for reason, count in unread.items()
    ]
    read = _read(result)
    refused: dict[str, str] = {}
    for _, state in read:
        refused |= {name: why for name, why in state.unread.items() if name not in refused}
    if refused:
        lines.append(
            "not read: " + "; ".join(f"{name}: {why}" for name, why in sorted(refused.items()))
        )
    thresholds = {state.throttle_threshold for _, state in read if state.throttle_threshold}
    if thresholds:
        shares = " or ".join(f"{threshold:.0%}" for threshold in sorted(thresholds))
        lines.append(
            f"throttled: the SM clock fell below {shares} of its maximum while sampled, or "
            "another process used the device"
        )
    return lines
