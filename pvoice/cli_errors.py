"""One error line for the `pvoice` command: `error: <what> — <how to fix>`, never a traceback.

Every command runs through `run_cli`; an exception that reaches it is explained here, in one place, with the
exit code 2 for bad input (a file, a setting, a model directory) and 1 for a fault of the surroundings or a
bug. `pvoice --debug ...` (or PVOICE_DEBUG=1) shows the traceback instead.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

BAD_INPUT, FAULT = 2, 1


@dataclass(frozen=True)
class CliError:
    what: str
    how: str = ""
    exit_code: int = BAD_INPUT

    def line(self) -> str:
        return f"error: {self.what}" + (f" — {self.how}" if self.how else "")


def _first_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def _settings_error(exc) -> CliError:
    first = exc.errors()[0]
    name = "PVOICE_" + "_".join(str(p) for p in first.get("loc", ())).upper()
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return CliError(f"setting {name}: {first.get('msg', 'invalid')}{more}",
                    "fix it in the environment or in .env (`pvoice settings` lists every setting)")


def _database_error(exc) -> CliError:
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return CliError(f"PVOICE_DATABASE_URL is not a database URL ({_first_line(exc)})",
                        "use sqlite:///var/pvoice.db or postgresql://USER:PASSWORD@HOST:5432/DBNAME")
    cause = getattr(exc, "orig", None) or exc
    return CliError(f"cannot use the database: {type(cause).__name__}: {_first_line(cause)}",
                    "check that it is running and reachable, and the host, port, user and password of "
                    "PVOICE_DATABASE_URL", FAULT)


def explain(exc: BaseException) -> CliError:
    """The line for an exception; the domain errors already say how to fix themselves."""
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from pvoice.labels import TaxonomyError
    from pvoice.model.config import ModelFormatError
    from pvoice.model.inputs import InputError
    from pvoice.scoring.errors import ScoringError
    from pvoice.serving.db.migrate import MigrationError
    from pvoice.serving.errors import ConfigError, DomainError
    from pvoice.training.corpus import CorpusError

    if isinstance(exc, ValidationError) and exc.title == "Settings":
        return _settings_error(exc)
    if isinstance(exc, (ArgumentError, NoSuchModuleError, DBAPIError)):
        return _database_error(exc)
    if isinstance(exc, CorpusError):
        more = f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
        return CliError(f"invalid labeled row: {exc.errors[0]}{more}",
                        "fix or remove the row; `pvoice data check FILE` lists every problem")
    if isinstance(exc, ScoringError):
        return CliError(f"[{exc.code}] {exc}")
    if isinstance(exc, (ModelFormatError, InputError, ConfigError, TaxonomyError, MigrationError)):
        return CliError(str(exc))
    if isinstance(exc, DomainError):
        return CliError(f"[{exc.code}] {exc.message}")
    if isinstance(exc, FileNotFoundError) and not exc.filename:
        return CliError(_first_line(exc), "check the path")
    if isinstance(exc, OSError) and exc.filename:
        return CliError(f"{exc.filename}: {exc.strerror or type(exc).__name__}", "check the path and its permissions")
    return CliError(f"unexpected {type(exc).__name__}: {_first_line(exc)}",
                    "run again with --debug for the traceback, and report it", FAULT)


def _debugging() -> bool:
    return os.environ.get("PVOICE_DEBUG", "") not in ("", "0", "false")


def explained(command: Callable) -> Callable:
    """The command, with what escapes it explained in one line on stderr and its exit code."""
    import click
    import typer

    passing = (typer.Exit, typer.Abort, typer.exceptions.TyperException, click.exceptions.Exit,
               click.ClickException, click.exceptions.Abort)  # the CLI's own ways to stop and to say usage

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except passing:
            raise
        except Exception as exc:  # noqa: BLE001 - the one place where anything left becomes one line
            if _debugging():
                raise
            error = explain(exc)
            typer.echo(error.line(), err=True)
            raise typer.Exit(error.exit_code) from None

    return run


def explain_commands(app) -> None:
    """Wrap every command of a typer app and of its sub-apps in `explained`."""
    for info in app.registered_commands:
        info.callback = explained(info.callback)
    for group in app.registered_groups:
        explain_commands(group.typer_instance)


def run_cli(app: Callable[[], object], argv: list[str] | None = None) -> None:
    """Run the typer app (its commands wrapped by `explain_commands`); `--debug` anywhere on the command line
    lets tracebacks through, and so does an error raised before a command runs."""
    argv = sys.argv if argv is None else argv
    if "--debug" in argv[1:]:
        argv[1:] = [a for a in argv[1:] if a != "--debug"]
        os.environ["PVOICE_DEBUG"] = "1"
    try:
        app()
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - what escapes a command's own wrapper (typer's own set-up)
        if _debugging():
            raise
        print(explain(exc).line(), file=sys.stderr)
        sys.exit(explain(exc).exit_code)
