"""The `pvoice` command: wires each package's commands into one CLI."""

from __future__ import annotations

import typer

from model.cli import model_app, predict_command
from training.cli import data_app, evaluate_command, train_command

app = typer.Typer(help="patient-voice: classify, triage and route patient comments.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                       "help_option_names": []})(train_command)
app.command("evaluate")(evaluate_command)
app.add_typer(model_app, name="model")
app.command("predict")(predict_command)


def main() -> None:
    app()
