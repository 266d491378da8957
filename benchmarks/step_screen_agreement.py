"""How closely the screened fit of long histories agrees with the exact fit.

`steps.detect_steps` fits every boundary of a series up to EXACT_RUNS runs (n**3 work) and,
beyond, only the boundaries `candidate_starts` screens in. This draws synthetic series of 61 to
159 runs (lognormal noise of 1, 3 or 6%; a sustained step of 0, +5, +10, +20 or -15% at a random
run; in every other series a transient of 2 to 11 runs 30% slower or 20% faster; in every third
an outlier 1.5x) and fits each both ways, with a 5% smallest change. It prints how many series
got the same steps (same runs, ratios within 0.1%), the differing ones, and the CPU seconds each
way took.

Run: python benchmarks/step_screen_agreement.py [--series 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from labench.judge.steps import detect_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    rng = np.random.default_rng(options.seed)
    same, exact_seconds, screened_seconds = 0, 0.0, 0.0
    for index in range(options.series):
        n = int(rng.integers(61, 160))
        medians = np.exp(rng.choice([0.01, 0.03, 0.06]) * rng.standard_normal(n))
        medians[rng.integers(5, n - 2) :] *= rng.choice([1.0, 1.1, 1.2, 0.85, 1.05])
        if index % 2 == 0:
            start = rng.integers(5, n - 2)
            medians[start : start + int(rng.integers(2, 12))] *= rng.choice([1.3, 0.8])
        if index % 3 == 0:
            medians[rng.integers(0, n)] *= 1.5
        fits = []
        for exact in (True, False):
            started = time.process_time()
            fit = detect_steps(medians, min_change=0.05, exact=exact)
            elapsed = time.process_time() - started
            if exact:
                exact_seconds += elapsed
            else:
                screened_seconds += elapsed
            fits.append([(step.index, round(step.ratio, 3)) for step in fit.steps])
        if fits[0] == fits[1]:
            same += 1
        else:
            print(f"series {index} ({n} runs): exact {fits[0]}, screened {fits[1]}")
    print(
        f"{same} of {options.series} series: the same steps; CPU seconds exact "
        f"{exact_seconds:.1f}, screened {screened_seconds:.1f}"
    )


if __name__ == "__main__":
    main()
