"""Migrations applied from code (`pvoice db upgrade`, app startup), so the scripts ship inside the package."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = str(files("pvoice.serving.db.migrations"))  # shipped in the package, found by import


class MigrationError(RuntimeError):
    """The database schema is not the one this code expects."""


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the schema to `revision`; returns the revision now applied."""
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    return current_revision(engine) or ""


def ensure_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    if auto_upgrade:
        upgrade(engine)
        return
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise MigrationError(f"database schema is at {current or 'nothing'}, the code needs {head}: "
                             "run `pvoice db upgrade` (or set PVOICE_DB_AUTO_UPGRADE=true)")


def autogenerate(engine: Engine, message: str) -> None:
    """Developer helper: write a new revision from the difference between the models and the database."""
    with engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
