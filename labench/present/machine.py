"""The machine behind a run, as tables: its environment fingerprint and its measured roofs."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from labench.results.ceilings import Ceiling, Ceilings, GpuCeiling
from labench.results.gpu_state import GpuState


def ceilings_table(ceilings: Ceilings) -> Group:
    table = Table(
        title=f"ceilings of machine {ceilings.machine_id}, measured {ceilings.measured}",
        title_justify="left",
    )
    columns = ("device", "threads", "float64 GFLOP/s", "float32 GFLOP/s", "read GB/s", "copy GB/s")
    for column in columns:
        table.add_column(column, justify="left" if column == "device" else "right")
    for ceiling in ceilings.cpu:
        table.add_row(
            "CPU",
            str(ceiling.threads),
            _gemm_roof_text(ceiling, "float64"),
            _gemm_roof_text(ceiling, "float32"),
            "-" if ceiling.gbps_read is None else f"{ceiling.gbps_read:.1f}",
            f"{ceiling.gbps:.1f}",
        )
    table.caption = (
        "GEMM: the rate where a size sweep stops rising, at size n (capped: the sweep's time "
        "or memory cap came first). read: a reduction over 4x the last-level cache."
    )
    if ceilings.gpu is None:
        return Group(table)
    return Group(table, gpu_roofs_table(ceilings.gpu))


def gpu_roofs_table(gpu: GpuCeiling) -> Table:
    """One row per precision: the plateau of its GEMM sweep and what the library computed in."""
    table = Table(
        title=f"GPU roofs (copy {gpu.gbps:.1f} GB/s)", title_justify="left", show_edge=False
    )
    table.caption = roof_clocks_text(gpu.clocks)
    for column in ("dtype", "math", "GFLOP/s", "at n", "sweep (n: GFLOP/s)", "compute type"):
        table.add_column(column, overflow="fold")
    for roof in gpu.gemm:
        table.add_row(
            roof.dtype,
            roof.math,
            f"{roof.gflops:.1f}",
            str(roof.size),
            ", ".join(f"{n}: {rate:.0f}" for n, rate in roof.sweep.items())
            + (f"\n[dim]{escape(roof.reason)}[/]" if roof.reason else ""),
            escape(roof.precision.get("cublas_compute", "-")),
        )
    for name, reason in gpu.missing.items():
        dtype, math = name.split("/")
        table.add_row(dtype, math, "-", "-", f"[red]{escape(reason)}[/]", "-")
    return table


def roof_clocks_text(clocks: GpuState | None) -> str:
    """The clocks the GPU roofs were measured at, which a case's roofline share assumes."""
    if clocks is None:
        return "clocks while measured: not recorded"
    if clocks.reason is not None:
        return f"clocks while measured: not read ({escape(clocks.reason)})"
    sm, memory = clocks.sm_clock, clocks.memory_clock
    parts = [f"on {escape(clocks.name or 'GPU')} {escape(clocks.uuid or '')}".rstrip()]
    if sm is not None:
        parts.append(f"SM clock mean {sm.mean:.0f} MHz (lowest {sm.min:.0f})")
    if memory is not None:
        parts.append(f"memory clock mean {memory.mean:.0f} MHz")
    if clocks.throttle_reasons:
        parts.append(f"throttle reasons seen: {', '.join(clocks.throttle_reasons)}")
    return "measured " + ", ".join(parts)


def _gemm_roof_text(ceiling: Ceiling, dtype: str) -> str:
    rate = f"{getattr(ceiling, f'gflops_{dtype}'):.1f}"
    size = ceiling.gemm_sizes.get(dtype)
    if size is None:
        return rate
    return f"{rate} (n={size}{', capped' if dtype in ceiling.gemm_capped else ''})"


def environment_rows(environment: dict[str, Any]) -> list[tuple[str, str]]:
    """The fingerprint as (field, text) pairs: pools, packages, GPUs and memory made readable."""
    rows = []
    for name, value in environment.items():
        if name == "thread_pools":
            value = (
                "\n".join(
                    f"{pool.get('internal_api')} {pool.get('version', '')} "
                    f"({pool.get('user_api')}, {pool.get('num_threads')} threads, "
                    f"{pool.get('library')})"
                    for pool in value
                )
                or "none loaded"
            )
        elif name == "packages":
            value = ", ".join(f"{package} {version}" for package, version in value.items())
        elif name == "gpus":
            value = "\n".join(_gpu_text(gpu) for gpu in value) or "none"
        elif name == "memory_bytes":
            value = f"{value / 2**30:.1f} GiB"
        rows.append((name, str(value)))
    return rows


def _gpu_text(gpu: dict[str, Any]) -> str:
    """A device: name, memory, driver, and what NVML says of it (its UUID and top SM clock)
    or why it says nothing."""
    text = f"{gpu['name']} ({gpu['memory_bytes'] / 2**30:.0f} GiB, driver {gpu['driver']}"
    if gpu.get("uuid"):
        text += f", {gpu['uuid']}"
    if gpu.get("sm_clock_max_mhz"):
        text += f", SM clock up to {gpu['sm_clock_max_mhz']:.0f} MHz"
    if gpu.get("nvml"):
        text += f"; NVML: {gpu['nvml']}"
    return text + ")"


def environment_table(environment: dict[str, Any]) -> Table:
    table = Table(show_header=False, show_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for name, text in environment_rows(environment):
        table.add_row(name, text)
    return table
