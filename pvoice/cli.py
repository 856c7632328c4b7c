"""The `pvoice` command: wires each package's commands into one CLI."""

from __future__ import annotations

import typer

from training.cli import data_app

app = typer.Typer(help="patient-voice: classify, triage and route patient comments.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def main() -> None:
    app()
