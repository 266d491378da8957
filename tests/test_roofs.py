"""The roof rules fed the figures of the 16-core Xeon host of an H100 machine
(../shared/gpu-runs/gpu-check-h100.json), where the first roofs gave verdicts of 192% and 141%.

Measured there: `calibrate` at 16 threads, one 1024 GEMM: 471 GFLOP/s float64, 777 float32;
copy roof 105.4 GB/s. Cases: numpy GEMM float64 546 (n=1024), 607 (4096), 905 (8192); float32
997, 1185, 1115; a float64 matvec with a 2 GB matrix (n=16000) read at 149.2 GB/s.
"""

import math

import pytest
from conftest import measured_case

from labench.judge.roofline import attainable, bandwidth_for, roofline_fraction
from labench.machine.roofs import gemm_plateau
from labench.results.ceilings import Ceiling
from labench.workloads.kernels import MatmulWorkload, MatvecWorkload

COPY_ROOF = 105.4
READ_ROOF = 1.5 * COPY_ROOF
"""No read roof was measured there (it did not exist yet). A copy moves three bytes for every
two it counts (the write-allocate read), so streaming alone is 1.5x the copy figure."""


def gemm_curve(measured: dict[int, float]) -> dict[int, float]:
    """The measured rates, the unmeasured 2048 point as the geometric mean of its neighbours,
    and 16384 as flat after 8192 (the shape of every BLAS curve once the cores are full)."""
    return measured | {2048: math.sqrt(measured[1024] * measured[4096]), 16384: measured[8192]}


FLOAT64 = gemm_curve({1024: 471.0, 4096: 607.0, 8192: 905.0})
FLOAT32 = gemm_curve({1024: 777.0, 4096: 1185.0, 8192: 1115.0})


def sweep(curve, budget=1e9):
    return gemm_plateau(
        curve.__getitem__, lambda n: 2 * n**3 / 1e9, start=1024, largest=16384, budget=budget
    )


def test_the_size_sweep_finds_the_plateau_a_1024_gemm_misses():
    f64, f32 = sweep(FLOAT64), sweep(FLOAT32)
    assert (f64.rate, f64.size, f64.capped) == (905.0, 8192, False)
    assert (f32.rate, f32.size, f32.capped) == (1185.0, 4096, False)


def test_the_time_cap_stops_the_sweep_and_says_so():
    # predicted at the best rate so far: 8 calls of 2048 cost 0.29 s, of 4096 another 2.06 s
    capped = sweep(FLOAT64, budget=1.0)
    assert capped.capped and capped.size == 2048


def test_a_size_that_fails_ends_the_sweep_with_the_reason():
    """Out of memory at 8192: the sweep keeps what it measured and says why it stopped."""

    def rate_at(size):
        if size >= 8192:
            raise MemoryError("cannot allocate")
        return FLOAT64[size]

    stopped = gemm_plateau(rate_at, lambda n: 2 * n**3 / 1e9, start=1024, largest=32768, budget=1e9)
    assert stopped.capped and stopped.size == 4096
    assert list(stopped.sweep) == [1024, 2048, 4096]
    assert stopped.reason == "n=8192: MemoryError: cannot allocate"
    with pytest.raises(MemoryError):  # not even the first size: no rate to report
        gemm_plateau(rate_at, lambda n: 1.0, start=8192, largest=32768, budget=1e9)


def ceiling(read_roof):
    return Ceiling(
        threads=16,
        gflops_float64=sweep(FLOAT64).rate,
        gflops_float32=sweep(FLOAT32).rate,
        gbps=COPY_ROOF,
        gbps_read=read_roof,
    )


def case(workload, n, dtype, gflops):
    params = {"n": n, "transfers": False}
    itemsize = 8 if dtype == "float64" else 4
    flops = workload.flops(params)
    metrics = {
        "flops": flops,
        "bytes": workload.bytes_moved(params, itemsize),
        "bytes_written": workload.bytes_written(params, itemsize),
        "gflops": gflops,
    }
    found = measured_case(median=flops / gflops / 1e9, metrics=metrics, threads=16)
    return found.model_copy(update={"dtype": dtype})


@pytest.mark.parametrize(
    "dtype,n,gflops",
    [
        ("float64", 1024, 546.0),
        ("float64", 4096, 607.0),
        ("float64", 8192, 905.0),
        ("float32", 1024, 997.0),
        ("float32", 4096, 1185.0),
        ("float32", 8192, 1115.0),
    ],
)
def test_no_gemm_lands_above_its_plateau_roof(dtype, n, gflops):
    fraction = roofline_fraction(case(MatmulWorkload(), n, dtype, gflops), ceiling(READ_ROOF))
    assert fraction <= 1.0 + 1e-9
    old = gflops / (471.0 if dtype == "float64" else 777.0)
    assert n != 8192 or dtype != "float64" or old == pytest.approx(1.92, abs=0.01)


def test_a_matvec_is_judged_against_the_read_roof_not_the_copy_roof():
    matvec = case(MatvecWorkload(), 16000, "float64", 2 * 16000**2 / (2_048_256_000 / 149.2))
    assert matvec.metrics["gflops"] / matvec.metrics["flops"] * matvec.metrics["bytes"] == (
        pytest.approx(149.2)
    )
    copy_only = roofline_fraction(matvec, ceiling(read_roof=None))
    assert copy_only == pytest.approx(149.2 / COPY_ROOF)  # the 141% of the first roofs
    with_read = roofline_fraction(matvec, ceiling(READ_ROOF))
    assert with_read == pytest.approx(149.2 / READ_ROOF, rel=1e-3) and with_read < 1.1


def test_the_bandwidth_roof_spans_read_to_copy_by_the_share_of_writes():
    assert bandwidth_for(1.0, 0.0, READ_ROOF, COPY_ROOF) == pytest.approx(READ_ROOF)
    assert bandwidth_for(1.0, 1.0, READ_ROOF, COPY_ROOF) == pytest.approx(COPY_ROOF)
    mixed = bandwidth_for(2.0, 1.0, READ_ROOF, COPY_ROOF)
    assert COPY_ROOF < mixed < READ_ROOF


def test_an_unknown_write_share_falls_back_to_the_copy_roof():
    common = {"flops": 1.0, "moved": 10.0, "peak": 1e9, "copy_roof": COPY_ROOF}
    assert attainable(written=None, read_roof=READ_ROOF, **common) == pytest.approx(COPY_ROOF / 10)
    assert attainable(written=0.0, read_roof=READ_ROOF, **common) == pytest.approx(READ_ROOF / 10)
