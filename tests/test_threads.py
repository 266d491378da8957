import sys
import types

from threadpoolctl import threadpool_info

from labench.core.host import resolve_threads, usable_cores
from labench.measure import threads
from labench.measure.threads import limit_threads


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_limit_really_applies_to_blas_and_is_lifted_after():
    import numpy  # noqa: F401  (BLAS must be loaded for threadpoolctl to see it)

    before = blas_threads()
    assert before, "no BLAS library visible to threadpoolctl"
    with limit_threads(1) as state:
        assert blas_threads() == {1}
        assert all(count == 1 for count in state.pools.values())
    assert blas_threads() == before


def test_max_means_every_usable_core():
    assert resolve_threads("max") == usable_cores() >= 1
    assert resolve_threads(3) == 3


def test_the_scan_of_native_pools_is_kept_until_python_imports_a_module(monkeypatch):
    """Scanning costs milliseconds per case; a new import may bring a new pool, so it rescans."""
    first = threads._controller()
    assert threads._controller() is first
    monkeypatch.setitem(sys.modules, "labench_test_new_module", types.ModuleType("new"))
    rescanned = threads._controller()
    assert rescanned is not first
    with limit_threads(1) as state:
        assert threads._controller() is rescanned
        assert state.pools == {key: 1 for key in state.pools} != {}
