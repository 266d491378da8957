"""Where each case lands against its roof, read from result files.

Prints every case with a roofline share, and flags (exit 1) any case above 110% of its roof that
is not marked cache-resident. Reads results only; run `labench calibrate` before the runs.
Run: python benchmarks/roof_acceptance.py results/quick.json results/parallel.json ...
"""

from __future__ import annotations

import sys
from pathlib import Path

from labench.results import reader

LIMIT = 1.10


def main(paths: list[str]) -> int:
    over = 0
    for path in paths:
        for case in reader.load(Path(path)).cases:
            fraction = case.metrics.get("roofline_frac")
            if fraction is None:
                continue
            resident = bool(case.metrics.get("cache_resident"))
            flag = fraction > LIMIT and not resident
            over += flag
            print(
                f"{fraction:6.0%} {'cache' if resident else '     '} "
                f"{'OVER' if flag else '    '} {case.key}"
            )
    print(f"{over} case(s) above {LIMIT:.0%} of their roof without being cache-resident")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
