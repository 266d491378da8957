import numpy as np
import pytest

from labench.core.stats import median_ci, summarize


def test_median_ci_covers_the_true_median_about_95_percent_of_the_time():
    """Exponential samples (skewed like timing noise): true median ln 2."""
    rng = np.random.default_rng(1)
    trials = 2000
    covered = 0
    for _ in range(trials):
        low, high = median_ci(rng.exponential(size=25))
        covered += low <= np.log(2) <= high
    # Order-statistic intervals are conservative: nominal 95%, exact coverage 95.7% at n=25.
    assert 0.94 <= covered / trials <= 0.975


def test_median_ci_needs_six_samples_at_95_percent():
    assert median_ci([1.0, 2, 3, 4, 5]) is None
    assert median_ci([1.0, 2, 3, 4, 5, 6]) == (1.0, 6.0)
    assert median_ci([]) is None


def scipy_median_ci(samples, confidence):
    """The interval as scipy.stats.quantile_test gives it (4 ms a call, hence not used)."""
    from scipy import stats

    test = stats.quantile_test(np.asarray(samples), q=float(np.median(samples)), p=0.5)
    low, high = test.confidence_interval(confidence)
    return None if np.isnan(low) or np.isnan(high) else (float(low), float(high))


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_median_ci_is_exactly_scipys_quantile_test_interval(confidence):
    rng = np.random.default_rng(3)
    sizes = [*range(1, 130), 257, 1000, 4099, 20_001]
    for size in sizes:
        for samples in (
            rng.lognormal(size=size),  # skewed, like timing noise
            rng.integers(0, 4, size=size) * 1e-6,  # many ties
        ):
            assert median_ci(samples, confidence) == scipy_median_ci(samples, confidence), size


def test_median_ci_narrows_with_more_samples():
    rng = np.random.default_rng(2)
    widths = [np.subtract(*median_ci(rng.normal(size=n))[::-1]) for n in (20, 200, 2000)]
    assert widths[0] > widths[1] > widths[2]


def test_identical_samples_have_zero_spread():
    summary = summarize([2.0] * 10)
    assert summary.median == summary.min == summary.max == 2.0
    assert summary.stdev == summary.iqr == 0.0
    assert summary.ci95 == (2.0, 2.0)
    assert summary.rel_ci == 0.0
    assert summary.outliers == 0


def test_summary_statistics_match_numpy_and_count_tukey_outliers():
    samples = [1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02, 0.98, 5.0, 1.01]
    summary = summarize(samples)
    assert summary.median == pytest.approx(np.median(samples))
    assert summary.mean == pytest.approx(np.mean(samples))
    assert summary.stdev == pytest.approx(np.std(samples, ddof=1))
    assert summary.outliers == 1
    assert summary.median < 1.1 < summary.mean  # the median shrugs off the outlier
