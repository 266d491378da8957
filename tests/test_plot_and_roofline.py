import sys

import pytest

from labench.judge.roofline import roofline_fraction
from labench.machine import ceilings
from labench.results import ceilings as stored_ceilings
from labench.results import reader
from labench.results.ceilings import Ceiling
from labench.results.model import CaseResult

FIGURE_SUITE = """
labench: 1
name: figures
defaults: {max_time: 0.02, warmup: 0.0, min_samples: 3}
benchmarks:
  - id: mm
    workload: kernels.matmul
    params: {n: [16, 32, 64]}
    implementations: [numpy, numba]
  - id: steps
    workload: gradients.least_squares
    params: {n: 8, samples: 16, h: [1.0e-2, 1.0e-5, 1.0e-8]}
    tolerance: 1.0
  - id: cost
    workload: gradients.logistic
    params: {n: [4, 8, 16], samples: 16}
  - id: lr
    workload: lowrank.matvec
    params: {n: 60, rank: [2, 8, 20]}
"""


@pytest.fixture(scope="module")
def figure_run(tmp_path_factory):
    """A real run holding every kind of sweep the figures are chosen from."""
    from typer.testing import CliRunner

    from labench.commands.app import app

    folder = tmp_path_factory.mktemp("figures")
    (folder / "suite.yaml").write_text(FIGURE_SUITE.lstrip())
    out = folder / "run.json"
    with pytest.MonkeyPatch.context() as patch:  # module scope: before private_cache applies
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        result = CliRunner().invoke(app, ["run", str(folder / "suite.yaml"), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Ceilings go to a private cache folder, measured quickly on small sizes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(ceilings, "POLICY", ceilings.Policy(0.2, 0.05, 3, 0.02))
    monkeypatch.setattr(ceilings, "COPY_BYTES", 32 * 2**20)
    monkeypatch.setattr(ceilings, "CPU_GEMM_SIZE", 384)
    monkeypatch.setattr(ceilings, "GEMM_SWEEP_SECONDS", 0.0)  # the sweep stops at 384
    return tmp_path / "cache"


def test_every_figure_type_is_rendered(cli, figure_run, tmp_path):
    result = cli("plot", figure_run, "-o", tmp_path / "figs")
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in (tmp_path / "figs").iterdir())
    expected = {
        "scaling-mm-n.png",
        "speedup-mm.png",
        "gradient-error-vs-step-steps.png",
        "scaling-cost-n.png",
        "gradient-cost-ratio-cost.png",
        "lowrank-error-vs-rank-lr.png",
        "lowrank-speedup-vs-rank-lr.png",
        "roofline.png",
    }
    assert expected <= set(names), names
    for name in expected:
        data = (tmp_path / "figs" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, name


def test_svg_and_bad_formats(cli, figure_run, tmp_path):
    result = cli("plot", figure_run, "-o", tmp_path / "svg", "--format", "svg")
    assert result.exit_code == 0
    roofline = (tmp_path / "svg" / "roofline.svg").read_text()
    assert roofline.startswith("<?xml") and "figures on" in roofline
    result = cli("plot", figure_run, "-o", tmp_path / "x", "--format", "gif")
    assert result.exit_code == 2 and "expected one of png, svg, pdf" in result.output


def test_plot_without_matplotlib_says_how_to_get_it(cli, figure_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = cli("plot", figure_run, "-o", tmp_path / "figs")
    assert result.exit_code == 2 and "labench[plot]" in result.output


def test_roofline_fraction_is_achieved_over_attainable():
    ceiling = Ceiling(threads=1, gflops_float64=100.0, gflops_float32=200.0, gbps=10.0)
    case = CaseResult.model_construct(
        dtype="float64", metrics={"flops": 2e9, "bytes": 1e9, "gflops": 10.0}
    )
    assert roofline_fraction(case, ceiling) == pytest.approx(10.0 / 20.0)  # memory-bound
    case.metrics = {"flops": 1e11, "bytes": 1e9, "gflops": 50.0}
    assert roofline_fraction(case, ceiling) == pytest.approx(0.5)  # compute-bound
    case.dtype = "float32"
    assert roofline_fraction(case, ceiling) == pytest.approx(0.25)
    case.metrics = {"flops": None, "bytes": 1e9, "gflops": None}
    assert roofline_fraction(case, ceiling) is None


def test_calibrate_then_run_adds_roofline_fractions(cli, cache, write_suite, tmp_path):
    result = cli("calibrate", "-t", "1", "--no-gpu")
    assert result.exit_code == 0, result.output
    [stored] = (cache / "labench").glob("ceilings-*.json")
    measured = stored_ceilings.Ceilings.model_validate_json(stored.read_text())
    [one] = measured.cpu
    assert one.threads == 1 and one.gbps > 0 and one.gbps_read > 0
    assert one.gemm_sizes == {"float64": 384, "float32": 384}  # the sweep's cap came first
    assert one.gemm_capped == ["float64", "float32"]
    # single precision moves half the bytes per flop: any SIMD BLAS runs it clearly faster
    assert one.gflops_float32 > 1.2 * one.gflops_float64
    shown = cli("calibrate", "--show").output
    assert "float64 GFLOP/s" in shown and "read GB/s" in shown and "copy GB/s" in shown

    suite = write_suite(
        "labench: 1\nname: roof\ndefaults: {max_time: 0.05, warmup: 0.0, min_samples: 3}\n"
        "benchmarks:\n  - {id: mm, workload: kernels.matmul, params: {n: 384}, implementations: [numpy]}\n"
        "  - {id: mv, workload: kernels.matvec, params: {n: 2048}, implementations: [numpy]}\n"
    )
    run = cli("run", suite, "-o", tmp_path / "r.json")
    assert run.exit_code == 0 and "roof" in run.output
    cases = {case.benchmark: case for case in reader.load(tmp_path / "r.json").cases}
    fractions = {name: case.metrics["roofline_frac"] for name, case in cases.items()}
    # the same GEMM as the calibration: its fastest sample near the roof (the roof is the
    # calibration's fastest sample; medians on a loaded machine can be several times slower);
    # a matvec is far below the compute roof but measured against the memory roof
    mm = cases["mm"].timing
    assert 0.5 < fractions["mm"] * mm.median / mm.min < 1.5
    # The read roof is a one-thread stream that shares the memory bus with whatever else runs:
    # a neighbour busy during the calibration (another test worker on this 2-core VM) lowered
    # it until the matvec measured 2.45x "its roof". Only far beyond that is the fraction wrong.
    assert 0.05 < fractions["mv"] < 4


def test_a_damaged_ceilings_file_is_exit_2(cli, cache, write_suite, tmp_path):
    from labench.measure.environment import fingerprint

    path = stored_ceilings.cache_path(fingerprint()["machine_id"])
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    result = cli("calibrate", "--show")
    assert result.exit_code == 2 and "labench calibrate" in result.output
    suite = write_suite(
        "labench: 1\nname: t\nbenchmarks:\n  - {id: mm, workload: kernels.matmul, params: {n: 8}}\n"
    )
    assert cli("run", suite, "-o", tmp_path / "r.json", "-q").exit_code == 2
    assert not (tmp_path / "r.json").exists()


def test_gpu_ceilings_code_path_with_numpy_standing_in(monkeypatch, cache):
    from test_parallel import fake_cupy

    from labench import backends
    from labench.machine import gpu_ceilings

    fake_cupy(monkeypatch)
    monkeypatch.setattr(
        "labench.machine.gpu_ceilings.availability", lambda name: backends.Availability(True)
    )
    gpu = gpu_ceilings.measure(sizes=(32, 64), copy_bytes=2**16)
    # the fake's CUDA events tick 5 ms per record, so the rates are the fake clock's, but every
    # step of the real path ran: arrays on the "device", a GEMM sweep per dtype and math mode,
    # the copy, event timing
    assert gpu.gbps > 0 and not gpu.missing
    assert [(roof.dtype, roof.math) for roof in gpu.gemm] == list(gpu_ceilings.PRECISIONS)
    tf32 = next(roof for roof in gpu.gemm if roof.math == "tf32")
    assert tf32.precision["cublas_compute"] == "CUBLAS_COMPUTE_32F_FAST_TF32"
    case = CaseResult.model_construct(
        backend="cupy", threads=1, dtype="float32", math="tf32", metrics={}
    )
    stored = stored_ceilings.Ceilings(machine_id="m", measured="now", environment={}, cpu=[], gpu=gpu)
    assert stored.for_case(case) is gpu
    assert gpu.peak("float32", "tf32") == tf32.gflops and gpu.peak("float16", "tf32") is None


def test_show_before_any_calibration_says_what_to_run(cli, cache):
    result = cli("calibrate", "--show")
    assert result.exit_code == 2
    assert (
        "no ceilings stored for machine" in result.output and "labench calibrate" in result.output
    )


def test_the_roofline_shows_warm_and_cold_points_apart(figure_run):
    from labench.present.plot import figures

    result = reader.load(figure_run)
    warm = [case for case in result.cases if case.benchmark == "mm" and case.status == "ok"]
    result.cases = warm + [case.model_copy(update={"cache": "cold"}) for case in warm]
    roofline = next(made for made in figures(result, None) if made.name == "roofline")
    axes = roofline.figure.axes[0]
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "mm numpy (warm)" in labels and "mm numpy (cold)" in labels
    markers = {collection.get_label(): collection.get_paths()[0] for collection in axes.collections}
    assert markers["mm numpy (warm)"] != markers["mm numpy (cold)"]


def test_the_roofline_draws_gpu_roofs_per_precision(figure_run):
    """Stored GPU ceilings hold one GEMM roof per dtype and math mode (not a host Ceiling's
    gflops_float64/32): the roofline draws each under the copy bandwidth."""
    from labench.present.plot import figures
    from labench.results.ceilings import GemmRoof, GpuCeiling

    result = reader.load(figure_run)
    gpu = GpuCeiling(
        gemm=[
            GemmRoof(dtype=dtype, math=math, gflops=rate, size=64, sweep={64: rate})
            for dtype, math, rate in (("float32", "ieee", 900.0), ("float32", "tf32", 3000.0))
        ],
        gbps=400.0,
    )
    cpu = Ceiling(threads=1, gflops_float64=10.0, gflops_float32=20.0, gbps=8.0)
    stored = stored_ceilings.Ceilings(
        machine_id="m", measured="now", environment={}, cpu=[cpu], gpu=gpu
    )
    roofline = next(made for made in figures(result, stored) if made.name == "roofline")
    labels = [text.get_text() for text in roofline.figure.axes[0].get_legend().get_texts()]
    assert "roof GPU float32" in labels and "roof GPU float32+tf32" in labels
    assert "roof CPU 1 thr float64" in labels
