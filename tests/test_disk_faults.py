"""A disk that fills up or fails mid-run, and an output that cannot be written: a clear message,
exit 2, the cases measured so far recoverable, and no earlier result touched."""

import errno
import os
import warnings

import pytest

from labench.results import journal as journal_module
from labench.results import model as results
from labench.results import reader

SUITE = """
labench: 1
name: disk
defaults: {max_time: 0.01, warmup: 0.0, min_samples: 3}
benchmarks:
  - {id: mv, workload: kernels.matvec, params: {n: [8, 16, 32]}, implementations: [numpy]}
"""


def failing_after(count, monkeypatch, code=errno.ENOSPC):
    """Journal.append writes `count` records, then half of the next one, then fails with the
    OSError of `code` (ENOSPC: the disk is full; EIO: the disk failed)."""
    real = journal_module.Journal.append
    calls = []

    def append(self, case):
        calls.append(case.key)
        if len(calls) <= count:
            return real(self, case)
        line = journal_module._line(case.model_dump(mode="json"))
        self._stream.write(line[: len(line) // 2])
        self._stream.flush()
        raise OSError(code, os.strerror(code), str(self.path))

    monkeypatch.setattr(journal_module.Journal, "append", append)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO], ids=["ENOSPC", "EIO"])
def test_a_full_or_failing_disk_mid_run_stops_it_clearly_and_keeps_what_was_measured(
    cli, write_suite, tmp_path, monkeypatch, code
):
    earlier = tmp_path / "earlier.json"
    earlier.write_bytes(b'{"kept": "byte for byte"}')
    failing_after(1, monkeypatch, code)
    out = tmp_path / "new.json"
    stopped = cli("run", write_suite(SUITE), "-q", "-o", out)
    text = " ".join(stopped.output.split())
    assert stopped.exit_code == 2, stopped.output
    assert f"cannot write: {os.strerror(code)}" in text and f"--resume {out}" in text
    assert "Traceback" not in stopped.output
    kept = reader.load(out)
    assert kept.run.interrupted and len(kept.cases) >= 1
    assert earlier.read_bytes() == b'{"kept": "byte for byte"}'


def test_when_even_the_result_cannot_be_saved_the_journal_holds_the_cases(
    cli, write_suite, tmp_path, monkeypatch
):
    failing_after(1, monkeypatch)
    real_save = results.save
    saves = []

    def save(result, path):
        saves.append(path)
        if len(saves) > 1:  # the first save (the run's start) lands; the last one cannot
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_save(result, path)

    monkeypatch.setattr(results, "save", save)
    out = tmp_path / "new.json"
    stopped = cli("run", write_suite(SUITE), "-q", "-o", out)
    assert stopped.exit_code == 2 and "Traceback" not in stopped.output
    monkeypatch.setattr(results, "save", real_save)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        recovered = reader.load(out)  # the header from the first save, the cases from the journal
    assert recovered.run.interrupted and len(recovered.cases) == 1
    assert any(issubclass(w.category, journal_module.TornRecordWarning) for w in seen)


@pytest.mark.parametrize("where", ["file", "folder-is-file"])
def test_an_output_that_cannot_be_written_is_refused_before_measuring(
    cli, write_suite, tmp_path, where
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "result.json" if where == "folder-is-file" else blocker / "sub" / "r.json"
    refused = cli("run", write_suite(SUITE), "-q", "-o", out)
    assert refused.exit_code == 2
    assert f"{out}: cannot be written: {blocker} is a file, not a folder" in " ".join(
        refused.output.split()
    )


CLAIMED = SUITE + """claims:
  - id: bigger-is-slower
    text: "a 32-long matvec is not faster than an 8-long one by more than 100x"
    benchmark: mv
    where: {n: 32}
    speedup: {of: numpy, over: numpy}
    at_least: 0.5
"""


def test_a_signal_while_claims_are_judged_leaves_a_file_that_says_so_and_resume_ends_it(
    cli, write_suite, tmp_path, monkeypatch
):
    from labench.execution import session

    judge = session.evaluate_all

    def interrupted(*args):
        raise KeyboardInterrupt  # as Ctrl-C would, after every case was measured and saved

    monkeypatch.setattr(session, "evaluate_all", interrupted)
    suite, out = write_suite(CLAIMED), tmp_path / "r.json"
    stopped = cli("run", suite, "-q", "-o", out)
    assert stopped.exit_code == 130
    kept = reader.load(out)
    assert kept.run.interrupted and len(kept.cases) == 3 and kept.claims == []
    monkeypatch.setattr(session, "evaluate_all", judge)
    resumed = cli("run", suite, "-q", "--resume", out)
    assert resumed.exit_code == 0, resumed.output
    ended = reader.load(out)
    assert [claim.id for claim in ended.claims] == ["bigger-is-slower"]
    assert not ended.run.interrupted
