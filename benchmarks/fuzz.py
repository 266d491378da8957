"""Fuzzing campaign over labench's input loaders: the properties of tests/test_fuzz.py under the
`campaign` profile, far more inputs than CI tries.

    python benchmarks/fuzz.py --target suite|result|journal|pytest-benchmark|all --examples 100000

Prints, per target, the inputs tried, the seconds spent and every failure Hypothesis found (its
shrunk input and how to reproduce it). Exit code 1 when any property failed. Keep each failure
as an explicit `@example` in tests/test_fuzz.py once its loader is fixed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "suite": [
        "test_mutated_suite_texts_load_or_are_refused",
        "test_mutated_suite_bytes_load_or_are_refused",
        "test_suites_drawn_from_the_schema_load_or_are_refused",
    ],
    "result": [
        "test_mutated_result_files_load_or_are_refused",
        "test_a_result_file_cut_at_any_byte_loads_or_is_refused",
    ],
    "journal": [
        "test_a_damaged_journal_is_recovered_or_refused",
        "test_a_journal_cut_at_any_byte_is_recovered_or_refused",
        "test_a_journal_with_a_forged_record_is_recovered_or_refused",
    ],
    "pytest-benchmark": ["test_mutated_pytest_benchmark_files_load_or_are_refused"],
    "store": [
        "test_a_damaged_store_is_read_or_refused",
        "test_a_store_cut_at_any_byte_is_read_or_refused",
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument(
        "--examples", type=int, default=100_000, help="inputs each property tries (default 100,000)"
    )
    arguments = parser.parse_args()
    # The test module reads its profile when imported.
    os.environ["LABENCH_FUZZ_PROFILE"] = "campaign"
    os.environ["LABENCH_FUZZ_EXAMPLES"] = str(arguments.examples)
    os.environ.setdefault("XDG_CACHE_HOME", tempfile.mkdtemp(prefix="labench-fuzz-cache-"))
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
    import test_fuzz

    targets = list(TARGETS) if arguments.target == "all" else [arguments.target]
    failed = 0
    for target in targets:
        started = time.perf_counter()
        failures = 0
        for name in TARGETS[target]:
            before = test_fuzz.TRIED[target]
            property_started = time.perf_counter()
            try:
                getattr(test_fuzz, name)()
                outcome = "passed"
            except (Exception, test_fuzz.Endless) as error:  # report every failure, go on
                outcome = "FAILED"
                failures += 1
                text = "".join(traceback.format_exception(error))
                print(f"--- {target}: {name} failed:")
                print("\n".join(line[:3000] for line in text.splitlines()), flush=True)
            print(
                f"  {name}: {outcome}, {test_fuzz.TRIED[target] - before:,} inputs in "
                f"{time.perf_counter() - property_started:.0f} s",
                flush=True,
            )
        print(
            f"{target}: {test_fuzz.TRIED[target]:,} inputs tried in "
            f"{time.perf_counter() - started:.0f} s, {failures} failing "
            f"propert{'y' if failures == 1 else 'ies'}",
            flush=True,
        )
        failed += failures
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
