"""Engine and sessions: one engine per app, SQLite tuned for a small always-on service."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from pvoice.serving.errors import ConfigError
from pvoice.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
DEFAULT_DATABASE_URL = Settings.model_fields["database_url"].default


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the delivery and SLA workers read while a request writes; FKs are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here: SQLAlchemy would otherwise look for psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _private_file(path: Path) -> None:
    """Create the database file readable by its owner alone: it holds patients' words. SQLite gives its -wal
    and -shm files the database file's permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))


def _sqlite_file(url: str, path: Path, *, create: bool) -> None:
    """A mistyped path must not start the service on a new, empty database: only `pvoice db upgrade` (or the
    default path, on a first run) creates one."""
    if path.exists():
        return
    if create or url == DEFAULT_DATABASE_URL:
        _private_file(path)
        return
    if not path.parent.is_dir():
        raise ConfigError(f"no folder {path.parent} for the SQLite database {path.name} — fix "
                          "PVOICE_DATABASE_URL, or create the folder and run `pvoice db upgrade`")
    raise ConfigError(f"no database at {path} — run `pvoice db upgrade` to create it there, or fix "
                      "PVOICE_DATABASE_URL")


def make_db_engine(url: str, *, create: bool = False) -> Engine:
    """`create`: a missing SQLite file may be created (migrations are applied next).
    `hide_parameters`: a database error then never carries a comment's text into a log line or a reply."""
    original, url = url, normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            _sqlite_file(original, Path(parsed.database), create=create)
        engine = create_engine(url, hide_parameters=True,
                               connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


_SQLITE_WRITERS: dict[int, threading.Lock] = {}
_REGISTRY_LOCK = threading.Lock()


def _writer_lock(engine: Engine) -> threading.Lock | None:
    """SQLite takes one writer at a time, and a writer kept waiting sleeps in its busy handler for up to 100 ms
    a try; queueing this process's writers on a lock instead keeps ingest fast under concurrency."""
    if engine.dialect.name != "sqlite":
        return None
    with _REGISTRY_LOCK:
        return _SQLITE_WRITERS.setdefault(id(engine), threading.Lock())


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits together at the end, or not at all."""
    lock = _writer_lock(factory.kw["bind"])
    with lock or nullcontext(), factory() as session, session.begin():
        yield session


def is_postgres(engine_or_session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"
