# Sourced by the device checks (gpu_check.sh, scale_out_check.sh): their output folder, log,
# Python, a cache of their own, and `step`, which runs one command with a time limit.
# Expects `out` to name the output folder; leaves the shell in the repository root.
set -u
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=${PYTHON:-python3}
log="$out/check.log"
export XDG_CACHE_HOME
XDG_CACHE_HOME=$(mktemp -d)  # this run's ceilings only, not a stale file of another version
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {  # step NAME SECONDS COMMAND...: run with a limit, log output, status and duration
    local name=$1 limit=$2 start status
    shift 2
    start=$(date +%s)
    echo "== $name (limit ${limit}s): $*" >>"$log"
    timeout -s INT -k 15 "$limit" "$@" >>"$log" 2>&1
    status=$?
    echo "== $name: exit $status after $(($(date +%s) - start))s" >>"$log"
}
