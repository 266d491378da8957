"""The sizes of the gate's confirmation (confirm.py), apart from its machinery.

`labench run --help` shows CONFIRM_PROCESSES as a default, and reading it here costs nothing,
where confirm.py brings NumPy, pydantic and the runner.

Both stages' sizes were chosen on measured data, not guessed: process medians of the quick suite
from two `--processes 9` runs on the 2-core VM, replayed through the gate's own pipeline
(benchmarks/gate_replay.py).
"""

MIN_BUDGET = 2.0
"""Seconds of confirmation a run always gets, however short its own measurement was."""
CONFIRM_PROCESSES = 6
"""Fresh processes per suspect; with the run's own, seven process medians. Fewer leave the
noise model too few draws on each side of their median (compare.side_statistic): replayed on
measured process medians (benchmarks/gate_replay.py), 4 + 4 caught 97-98% of x1.176 slowdowns
where 6 + 6 caught all; gate_noise.py measured 5 + 5 and 7 + 7 alike (9 of 10 caught each)."""
CHECK_PROCESSES = 6
"""More fresh processes for a case stage one finds slower, before the gate may fail on it, and
for one it could not decide (confirm.second_look)."""
FIRST_LOOK_SHARE = 0.5
"""Stage one's share of the budget; stage two re-measures what stage one found slower, and
within the rest of the budget what it could not decide."""
BATCH = 4
"""Suspects measured together in one round of fresh processes; the budget is looked at on the
clock between batches, because what a case costs in a fresh process (loading its kernel,
making its inputs, stopping when its interval is tight) is known only once it has run."""
HISTORY_WINDOW = 30
"""`run --against`: each case's newest runs of the history that it is judged against (about a
month of nightly runs; conbench looks at 100 commits, Bencher at 64 results)."""
HISTORY_MINIMUM = 5
"""`run --against`: runs on a case's level before the history alone may call it slower, and
before a new level is accepted as the baseline."""
