"""The `pvoice` command: wires each package's commands into one CLI."""

from __future__ import annotations

import typer

from pvoice.cli_errors import explain_commands, run_cli
from pvoice.model.cli import model_app, predict_command
from pvoice.scoring.cli import score_command
from pvoice.serving.cli import db_app, keys_app, serve_command
from pvoice.training.cli import data_app, evaluate_command, train_command

app = typer.Typer(help="patient-voice: classify, triage and route patient comments.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                       "help_option_names": []})(train_command)
app.command("evaluate")(evaluate_command)
app.command("score")(score_command)
app.add_typer(model_app, name="model")
app.command("predict")(predict_command)
app.command("serve")(serve_command)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")

explain_commands(app)  # after every command is registered: each bad input ends in one line


def main() -> None:
    run_cli(app)
