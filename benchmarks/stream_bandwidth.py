"""Streaming memory bandwidth of this machine, to put a memory-bound kernel's GB/s in context.

Copies a 512 MiB float64 array (far beyond any cache) with np.copyto, which runs on one core:
the streaming ceiling of one core. A copy reads and writes every byte, so bandwidth is
2 x size / time. Run: python benchmarks/stream_bandwidth.py
"""

from __future__ import annotations

import numpy as np

from labench.core.stats import summarize
from labench.measure.timing import Policy, sample

SIZE = 512 * 2**20


def main() -> None:
    source = np.random.default_rng(0).standard_normal(SIZE // 8)
    target = np.empty_like(source)
    measurement = sample(lambda: np.copyto(target, source), Policy(3.0, 0.01, 5, 0.5))
    median = summarize(measurement.samples).median
    print(
        f"np.copyto of {SIZE / 2**20:.0f} MiB: median {median * 1e3:.1f} ms, "
        f"{2 * SIZE / median / 1e9:.1f} GB/s (read + write), {len(measurement.samples)} samples"
    )


if __name__ == "__main__":
    main()
