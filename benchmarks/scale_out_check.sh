#!/usr/bin/env bash
# The dask-vs-one-core-vs-prange-vs-GPU crossover on a device machine (16 cores and a GPU), in
# at most about 8 minutes of wall time.
#
#   bash benchmarks/scale_out_check.sh OUT_DIR
#
# Assumes labench is installed (pip install --no-deps -e .) with CuPy, dask[distributed],
# pydantic and platformdirs importable. Writes OUT_DIR/check.log (versions, every step's output,
# exit status and duration) and OUT_DIR/scale-out-16core.json; a step stopped at its limit
# (SIGINT) keeps every case it finished, marked interrupted.
out=${1:?usage: scale_out_check.sh OUT_DIR}
# shellcheck source=benchmarks/device_steps.sh
source "$(dirname "$0")/device_steps.sh"

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$python" -c "import cupy, dask, distributed, numpy; print('cupy', cupy.__version__,
        'dask', dask.__version__, 'distributed', distributed.__version__, 'numpy', numpy.__version__)"
    nproc
} >>"$log" 2>&1
step scale-out-16core 450 "$python" -m labench run benchmarks/scale-out-16core.yaml \
    -o "$out/scale-out-16core.json" --force --retry-noisy 0
