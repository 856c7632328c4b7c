"""The `pvoice` command: wires each package's commands into one CLI."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Literal

import typer

from pvoice.cli_errors import explain_commands, run_cli
from pvoice.model.cli import model_app, predict_command
from pvoice.scoring.cli import score_command
from pvoice.serving.cli import db_app, export_feedback_command, keys_app, report_command, serve_command
from pvoice.training.cli import data_app, evaluate_command, train_command

app = typer.Typer(help="patient-voice: classify, triage and route patient comments.", no_args_is_help=True)
data_app.command("export-feedback")(export_feedback_command)
app.add_typer(data_app, name="data")
app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                       "help_option_names": []})(train_command)
app.command("evaluate")(evaluate_command)
app.command("score")(score_command)
app.add_typer(model_app, name="model")
app.command("predict")(predict_command)
app.command("serve")(serve_command)
app.command("report")(report_command)
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")


def _print_version(show: bool) -> None:
    if show:
        typer.echo(f"patient-voice {version('patient-voice')}")
        raise typer.Exit()


@app.callback()
def _root(version_: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                 help="Print the installed version and exit.")] = False) -> None:
    """patient-voice: classify, triage and route patient comments."""


@app.command("settings")
def settings_command(
    format_: Annotated[Literal["table", "markdown", "env"], typer.Option(
        "--format", help="table (for reading), markdown (docs/settings.md) or env (.env.example).")] = "table",
    write: Annotated[bool, typer.Option(help="Rewrite docs/settings.md and .env.example under the current "
                                             "directory (a checkout) instead of printing.")] = False,
) -> None:
    """Every PVOICE_* setting with its type, default and meaning, generated from the settings class."""
    from pvoice.settings_reference import RENDERERS, write_generated

    if write:
        for path in write_generated(Path.cwd()):
            typer.echo(f"wrote {path}")
        return
    typer.echo(RENDERERS[format_](), nl=False)

explain_commands(app)  # after every command is registered: each bad input ends in one line


def main() -> None:
    run_cli(app)
