"""Alembic environment: the connection comes from `serving.db.migrate`, never from an ini file."""

from __future__ import annotations

from alembic import context

from pvoice.serving.db.models import Base

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run `pvoice db upgrade`")
run_migrations_online()
