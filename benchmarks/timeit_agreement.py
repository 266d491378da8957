"""Acceptance check of the timing engine and of thread control.

1. labench's median vs `timeit` for numpy matmul at 1 thread, n=64 (~10 us) and n=384
   (~2 ms): they should agree within 5%.
2. A no-op kernel: labench's per-call time should be within 2x of timeit's per-call floor.
3. matmul n=1000 at 2 threads vs 1 thread, to show the thread limit is real (>= 1.6x on 2 cores).

Prints one table; exits 1 if a bound is missed. Run: python benchmarks/timeit_agreement.py
"""

from __future__ import annotations

import statistics
import sys
import timeit

import numpy as np
from threadpoolctl import threadpool_limits

from labench.core.stats import summarize
from labench.measure.timing import Policy, sample

POLICY = Policy(max_time=2.0, target_rel_ci=0.01, min_samples=10, warmup=0.1)


def timeit_median(function, repeat: int = 15) -> float:
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return statistics.median(timer.repeat(repeat=repeat, number=number)) / number


def labench_median(function) -> float:
    return summarize(sample(function, POLICY).samples).median


def matmul(n: int, rng: np.random.Generator):
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    return lambda: a @ b


def main() -> int:
    rng = np.random.default_rng(0)
    rows, ok = [], True
    with threadpool_limits(1):
        for n in (64, 384):
            product = matmul(n, rng)
            ours, theirs = labench_median(product), timeit_median(product)
            agree = abs(ours / theirs - 1) <= 0.05
            ok &= agree
            rows.append(
                (f"matmul n={n}, 1 thread", ours, theirs, ours / theirs, "<= 5% apart", agree)
            )

    def noop():
        return None

    ours, theirs = labench_median(noop), timeit_median(noop)
    within = ours <= 2 * theirs
    ok &= within
    rows.append(("no-op call", ours, theirs, ours / theirs, "<= 2x timeit", within))

    n = 1000
    product = matmul(n, rng)
    timings = {}
    for threads in (1, 2):
        with threadpool_limits(threads):
            timings[threads] = labench_median(product)
    speedup = timings[1] / timings[2]
    scaled = speedup >= 1.6
    ok &= scaled
    rows.append(
        ("matmul n=1000: 1 vs 2 threads", timings[1], timings[2], speedup, ">= 1.6x", scaled)
    )

    print(f"{'check':32} {'labench / A':>12} {'timeit / B':>12} {'ratio':>7}  target")
    for name, first, second, ratio, target, passed in rows:
        print(
            f"{name:32} {first * 1e6:10.3f}us {second * 1e6:10.3f}us {ratio:7.3f}  {target} "
            f"{'ok' if passed else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
