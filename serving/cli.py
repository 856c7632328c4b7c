"""Commands of the triage service: `pvoice serve`, `pvoice keys ...`, `pvoice db upgrade`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer

keys_app = typer.Typer(help="API keys: create (printed once), list, revoke.", no_args_is_help=True)
db_app = typer.Typer(help="The service's database.", no_args_is_help=True)


def _engine(*, create: bool = False):
    from pvoice.settings import get_settings
    from pvoice.serving.db import make_db_engine

    return make_db_engine(get_settings().database_url, create=create)


def serve_command(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default PVOICE_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PVOICE_PORT, 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes, each with its own copy of the model; "
                                                     "they share the database, its leases and rate limits.")] = 1,
) -> None:
    """Serve the triage API with uvicorn: the model loaded once per process."""
    import os

    import uvicorn

    from pvoice.settings import get_settings
    from pvoice.serving.logs import configure_logging
    from pvoice.serving.main import create_app, preflight

    settings = get_settings()
    configure_logging(json_logs=settings.log_json, level=settings.log_level)
    classifier = preflight(settings)
    where = {"host": host or settings.host, "port": port or settings.port, "log_config": None, "access_log": False}
    if workers == 1:
        uvicorn.run(create_app(settings, classifier=classifier), **where)
        return
    if settings.torch_threads is None:
        # each process would otherwise start a thread per core and they would fight over the cores
        os.environ["PVOICE_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    del classifier  # each worker process loads its own
    uvicorn.run("pvoice.serving.main:app_from_environment", factory=True, workers=workers, **where)


@db_app.command("upgrade")
def db_upgrade_command() -> None:
    """Apply the migrations the code needs (the server also does at startup, unless PVOICE_DB_AUTO_UPGRADE=false)."""
    from pvoice.serving.db import upgrade

    typer.echo(f"database at revision {upgrade(_engine(create=True))}")


@db_app.command("backup")
def db_backup_command(
    path: Annotated[Path, typer.Argument(help="The copy to write (a new file, owner-only).")],
) -> None:
    """Copy the SQLite database while the service runs (SQLite's online backup); for PostgreSQL use pg_dump."""
    import os
    import sqlite3

    from sqlalchemy.engine import make_url

    from pvoice.serving.errors import ConfigError
    from pvoice.settings import get_settings

    url = make_url(get_settings().database_url)
    if url.get_backend_name() != "sqlite":
        raise ConfigError("pvoice db backup copies SQLite databases — for PostgreSQL use pg_dump (docs/deploy.md)")
    source = Path(url.database or "")
    if not source.is_file():
        raise ConfigError(f"no database at {source} — check PVOICE_DATABASE_URL")
    if path.exists():
        raise ConfigError(f"{path} exists — give the backup a new name")
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    with sqlite3.connect(source) as live, sqlite3.connect(path) as copy:
        live.backup(copy)  # page by page, consistent even while the service writes
    typer.echo(f"backed up {source} to {path} ({path.stat().st_size:,} bytes)")


def _ready_session():
    from pvoice.serving.db import make_session_factory, upgrade

    engine = _engine()
    upgrade(engine)
    return make_session_factory(engine)


@keys_app.command("create")
def keys_create_command(
    role: Annotated[str, typer.Option(help="intake | agent | manager | admin")],
    name: Annotated[str, typer.Option(help="Who or what holds the key (shown in the audit log).")] = "",
) -> None:
    """Create a key; the key itself is printed alone on the last line, once, and never stored."""
    from pvoice.settings import get_settings
    from pvoice.serving.db import transaction
    from pvoice.serving.errors import InvalidInput
    from pvoice.serving.services.auth import create_key

    try:
        with transaction(_ready_session()) as session:
            row, clear = create_key(session, role=role, name=name or role, pepper=get_settings().api_key_pepper,
                                    now=datetime.now(timezone.utc))
    except InvalidInput as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created key {row.id} ({row.role}, {row.name}); store it now, it is not shown again:", err=True)
    typer.echo(clear)


@keys_app.command("list")
def keys_list_command() -> None:
    """Keys with their id, role, name and prefix (never the key)."""
    from pvoice.serving.services.auth import list_keys

    with _ready_session()() as session:
        for row in list_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            typer.echo(f"{row.id}\t{row.role}\t{row.name}\t{row.prefix}…\t{state}")


@keys_app.command("revoke")
def keys_revoke_command(key_id: Annotated[int, typer.Argument(help="The id shown by `pvoice keys list`.")]) -> None:
    from pvoice.serving.db import transaction
    from pvoice.serving.errors import NotFound
    from pvoice.serving.services.auth import revoke_key

    try:
        with transaction(_ready_session()) as session:
            revoke_key(session, key_id=key_id, now=datetime.now(timezone.utc))
    except NotFound as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked key {key_id}")


def export_feedback_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="The JSONL file to write (corpus format).")],
) -> None:
    """Reviewed comments (their latest human labels) as corpus rows with masked texts, for `pvoice train --extra`."""
    import json
    import os

    from pvoice.labels import load_taxonomy, validate_row
    from pvoice.serving.db import ensure_schema, make_session_factory
    from pvoice.serving.errors import ConfigError
    from pvoice.serving.services.labels import export_rows
    from pvoice.settings import get_settings

    if output.suffix != ".jsonl":
        raise ConfigError(f"{output}: the export is JSON lines — name the file FILE.jsonl")
    if not output.parent.is_dir():
        raise ConfigError(f"no folder {output.parent} for {output.name} — create it or choose another path")
    engine = _engine()
    ensure_schema(engine, auto_upgrade=False)  # read only: an old schema is reported, not upgraded
    taxonomy = load_taxonomy(get_settings().taxonomy_path)
    written = skipped = 0
    partial = output.with_name(output.name + ".partial")
    with make_session_factory(engine)() as session, partial.open("w", encoding="utf-8") as out:
        for row in export_rows(session):
            if validate_row(row, taxonomy, require_channel=True):  # labels of an older taxonomy
                skipped += 1
                continue
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    os.replace(partial, output)
    engine.dispose()
    note = f" ({skipped} left out: their labels no longer match the taxonomy)" if skipped else ""
    typer.echo(f"wrote {written} reviewed comment(s) to {output}{note}")
    if not written:
        typer.echo("no reviewed comments yet: labels saved in the review queue (/app/review) are exported here",
                   err=True)

def report_command(
    period: Annotated[str, typer.Option(help="The ISO week to report, e.g. 2026-W47 (Monday to Sunday, "
                                             "PVOICE_TIMEZONE).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="report.html (self-contained) or report.pdf "
                                                                "(printed by Chromium).")],
) -> None:
    """The weekly quality report (质量周报) of the managers' view: charts, top issues, spikes and the week's
    urgent cases (masked), in Chinese, from the service's database."""
    from pvoice.labels import load_taxonomy
    from pvoice.settings import get_settings
    from pvoice.serving.db import ensure_schema, make_session_factory
    from pvoice.serving.errors import InvalidInput
    from pvoice.serving.routing import load_routing
    from pvoice.serving.web.report import browser_path, render_report, write_pdf

    suffix = output.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise InvalidInput(f"-o {output}: the report is written as .html or .pdf", field="output")
    if suffix == ".pdf":
        browser_path()  # before any work: a missing Chromium is one line at once
    settings = get_settings()
    taxonomy = load_taxonomy(settings.taxonomy_path)
    zone = load_routing(settings.routing_path, touchpoints=taxonomy.touchpoint_ids, timezone=settings.timezone).zone
    engine = _engine()
    try:
        ensure_schema(engine, auto_upgrade=False)
        html = render_report(factory=make_session_factory(engine), taxonomy=taxonomy, settings=settings, zone=zone,
                             period=period, now=datetime.now(timezone.utc))
    finally:
        engine.dispose()
    output.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        write_pdf(html, output)
    else:
        output.write_text(html, encoding="utf-8")
    typer.echo(f"wrote {output}")
