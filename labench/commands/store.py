"""`labench store`: rebuild a folder's results store from its files, import runs made elsewhere,
and check the store's integrity. The store is an index (labench.results.store); these commands
only ever read result files, and write nothing but the store and copies of imported files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labench.commands.terminal import console, reports_input_errors

app = typer.Typer(
    help="The results store: the SQLite index beside a folder of result files.",
    no_args_is_help=True,
)

Folder = Annotated[
    Path, typer.Argument(help="The folder of result files the store indexes.", show_default=False)
]


@app.command()
@reports_input_errors
def rebuild(folder: Folder) -> None:
    """Recreate the store from the folder's result files (a damaged store, or one made by
    another labench, is replaced once the new one is complete)."""
    from labench.results.store import rebuild as recreate
    from labench.results.store import store_path

    count = recreate(folder)
    console.print(f"indexed {count} runs into {store_path(folder)}", highlight=False)


@app.command("import")
@reports_input_errors
def import_runs(
    folder: Folder,
    sources: Annotated[
        list[Path],
        typer.Argument(help="Result files made elsewhere, or folders of them.", show_default=False),
    ],
) -> None:
    """Copy result files made on other machines (CI artifacts, a shared branch) into the folder
    and index them. Each is read and validated first; a damaged one is refused by name and
    nothing is copied."""
    from labench.results.store import import_into

    copied, already = import_into(folder, sources)
    console.print(
        f"imported {len(copied)} runs into {folder}"
        + (f"; {already} were there already" if already else ""),
        highlight=False,
    )


@app.command()
@reports_input_errors
def check(folder: Folder) -> None:
    """SQLite's integrity check of the store, and its runs brought up to date with the files."""
    from labench.results.store import check as verify
    from labench.results.store import opened

    verify(folder)
    with opened(folder) as store:
        runs = store.runs()
    console.print(f"{folder}: store sound, {len(runs)} runs indexed", highlight=False)
