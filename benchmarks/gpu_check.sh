#!/usr/bin/env bash
# One device check of labench on a real GPU, in at most about 7.5 minutes of wall time (the sum
# of the step limits below; usually less).
#
#   bash benchmarks/gpu_check.sh OUT_DIR
#
# Assumes labench is installed (pip install --no-deps -e .) with CuPy, ml_dtypes, pydantic and
# platformdirs importable. Each step has its own time limit and the script goes on after a step
# that fails or times out. A step that hits its limit logs exit 124; a labench run stopped so
# (SIGINT) keeps every case it finished, marked interrupted.
# Writes 4 files into OUT_DIR: check.log (versions, every step's output, exit status and
# duration), ceilings.json (labench calibrate), gpu.json (suites/gpu.yaml), seed-claims.json.
out=${1:?usage: gpu_check.sh OUT_DIR}
# shellcheck source=benchmarks/device_steps.sh
source "$(dirname "$0")/device_steps.sh"

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    "$python" -c "import cupy, numpy, ml_dtypes, labench; print('cupy', cupy.__version__,
        'numpy', numpy.__version__, 'ml_dtypes', ml_dtypes.__version__)"
    nproc
} >>"$log" 2>&1

step pytest 90 "$python" -m pytest -q -p no:cacheprovider -k "gpu or cupy" -rs -s
step calibrate 60 "$python" -m labench calibrate --threads "$(nproc)"
cp "$XDG_CACHE_HOME"/labench/ceilings-*.json "$out/ceilings.json" 2>>"$log"
step gpu-suite 190 "$python" -m labench run suites/gpu.yaml -o "$out/gpu.json" --force \
    --max-time 0.25 --latency --no-fail-on-claims
step seed-claims 110 "$python" -m labench run suites/seed-claims.yaml -o "$out/seed-claims.json" \
    --force --max-time 0.25 --no-fail-on-claims --latency
date -u >>"$log"
ls -l "$out" >>"$log"
