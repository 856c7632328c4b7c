"""Commands for data and training: `pvoice data ...`, `pvoice train`, `pvoice evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

data_app = typer.Typer(help="Inspect and validate the labeled corpus.", no_args_is_help=True)


@data_app.command("check")
def data_check(
    paths: Annotated[list[Path] | None, typer.Argument(help="JSONL files or directories (default: the corpus).")] = None,
    strict: Annotated[bool, typer.Option(help="Also fail when a corpus minimum is not met.")] = False,
) -> None:
    """Validate every row against the taxonomy; print counts, splits and the near-duplicate rate."""
    from pvoice.settings import get_settings
    from training.corpus_check import check_corpus, render_report

    report = check_corpus(paths or [get_settings().corpus_dir])
    typer.echo(render_report(report))
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    failed = [name for name, met, _ in report.minimums() if not met]
    near_dup_failed = report.near_dup_rate > report.targets.max_near_duplicate_rate
    if report.errors or near_dup_failed or (strict and failed):
        typer.echo(f"corpus check failed: {len(report.errors)} broken row(s)"
                   + (f"; near-duplicate rate {report.near_dup_rate:.2%}" if near_dup_failed else "")
                   + (f"; minimums not met: {', '.join(failed)}" if strict and failed else ""), err=True)
        raise typer.Exit(1)
    typer.echo("corpus check passed")
