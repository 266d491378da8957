"""The CI outputs every gating command offers: `--junit FILE`, `--markdown FILE`, and on GitHub
Actions (where `GITHUB_STEP_SUMMARY` is set) the step summary and annotations. Declared once
here, so each gate takes the same options and writes the same files from its comparison.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from labench.core.errors import InputError

if TYPE_CHECKING:
    from labench.judge.compare import Comparison

JunitFile = Annotated[
    Path | None,
    typer.Option(
        "--junit",
        help="Also write the gate's verdicts as JUnit XML (a test per case: regressions fail, "
        "undecided and excluded cases are skipped) for GitLab, Jenkins or GitHub test reports.",
    ),
]
MarkdownFile = Annotated[
    Path | None,
    typer.Option(
        "--markdown",
        help="Also write a compact pull request comment: the gate's verdict, regressions, "
        "undecided cases and improvements, the unchanged cases folded.",
    ),
]

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"
"""Set by GitHub Actions to the file a step appends its Markdown summary to."""


@dataclass(frozen=True)
class CiOutputs:
    """Where a gate's comparison goes besides the terminal."""

    junit: Path | None = None
    markdown: Path | None = None
    summary: Path | None = None
    """GitHub's step summary file: appended to, and annotations printed, when set."""

    @classmethod
    def chosen(
        cls, junit: Path | None, markdown: Path | None, environ: Mapping[str, str] = os.environ
    ) -> CiOutputs:
        """The files asked for on the command line, and GitHub's summary where it is set."""
        summary = environ.get(SUMMARY_VARIABLE, "").strip()
        return cls(junit, markdown, Path(summary) if summary else None)


def publish(
    comparison: Comparison, outputs: CiOutputs, decide: str, annotations: TextIO | None = None
) -> None:
    """Write what `outputs` asks for; annotations go to `annotations` (standard output by
    default: a command whose standard output is a document passes standard error, which
    the Actions runner reads for workflow commands as well). `decide` is the command that
    would decide undecided cases."""
    from labench.present.github import github_annotations
    from labench.present.junit import junit_xml
    from labench.present.pr_comment import pr_comment

    if outputs.junit is not None:
        _write(outputs.junit, junit_xml(comparison), "w")
    comment = pr_comment(comparison, decide)
    if outputs.markdown is not None:
        _write(outputs.markdown, comment, "w")
    if outputs.summary is not None:
        _write(outputs.summary, comment + "\n", "a")
        for line in github_annotations(comparison):
            print(line, file=annotations or sys.stdout, flush=True)


def _write(path: Path, text: str, mode: str) -> None:
    """Write (or append to) a report file; a path that cannot be written is unusable input."""
    try:
        with path.open(mode, encoding="utf-8") as stream:
            stream.write(text)
    except OSError as error:
        raise InputError(f"{path}: cannot write: {error.strerror or error}") from None
