"""Sliding-window rate limiters per key: one in memory for the threads of a process, one in the database for
all the processes of the service."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pvoice.serving.db.engine import transaction
from pvoice.serving.db.models import RateWindow


class SlidingWindowLimiter:
    """At most `limit` acquisitions per key within any `window_s` seconds.

    The robots count messages over a rolling minute, so a fixed per-minute bucket would let through twice the
    limit around a minute boundary and get the robot to refuse us.
    """

    def __init__(self, limit: int, window_s: float = 60.0, *, clock: Callable[[], float] = time.monotonic):
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0, got {limit} and {window_s}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stamps: dict[str, deque[float]] = {}

    def try_acquire(self, key: str) -> float:
        """Take a slot and return 0.0, or take nothing and return the seconds until a slot frees."""
        with self._lock:
            now = self._clock()
            stamps = self._current(key, now)
            if len(stamps) < self.limit:
                stamps.append(now)
                return 0.0
            return max(stamps[0] + self.window_s - now, 0.0)

    def available(self, key: str) -> int:
        """Slots free for `key` right now."""
        with self._lock:
            stamps = self._current(key, self._clock())
            return self.limit - len(stamps)

    def _current(self, key: str, now: float) -> deque[float]:
        stamps = self._stamps.setdefault(key, deque())
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        return stamps


class _RowAppeared(Exception):
    """The key's row was committed by another process after our locking write found none: we hold no lock on
    it, so writing it would overwrite a slot that process took."""


class DatabaseWindowLimiter:
    """The same sliding window per key, kept in the database so that every process sending to a robot counts
    against one window (two processes with a window each would send the robot twice its limit).

    A slot is taken in one short write transaction on the key's row: its first statement writes, so on SQLite
    it holds the database's write lock before it reads, and on PostgreSQL it holds the row's lock; either way
    no other process reads the window between our read and our write. On PostgreSQL a row created after that
    write is seen by the read but not locked, so the attempt starts again. Keys are stored hashed: robot URLs
    carry their access token.
    """

    def __init__(self, factory: sessionmaker[Session], limit: int, window_s: float = 60.0, *,
                 clock: Callable[[], float] = time.time):
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit must be >= 1 and window_s > 0, got {limit} and {window_s}")
        self.factory, self.limit, self.window_s, self._clock = factory, limit, window_s, clock

    @staticmethod
    def row_key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    def try_acquire(self, key: str) -> float:
        """Take a slot and return 0.0, or take nothing and return the seconds until a slot frees."""
        row_key = self.row_key(key)
        for _ in range(3):
            try:
                return self._try_acquire(row_key)
            except (IntegrityError, _RowAppeared):  # another process created the row first (PostgreSQL): lock it
                continue
        return self._try_acquire(row_key)

    def available(self, key: str) -> int:
        with self.factory() as session:
            row = session.get(RateWindow, self.row_key(key))
            now = self._clock()
            return self.limit - len([s for s in (row.stamps if row else []) if s > now - self.window_s])

    def _try_acquire(self, row_key: str) -> float:
        with transaction(self.factory) as session:
            # the write comes first: it is what locks (a no-op update on an existing row, a lock either way)
            locked = session.execute(update(RateWindow).where(RateWindow.key == row_key).values(key=RateWindow.key)
                                     .execution_options(synchronize_session=False)).rowcount == 1
            row = session.get(RateWindow, row_key, populate_existing=True)
            if row is not None and not locked:
                raise _RowAppeared
            now = self._clock()
            stamps = sorted(s for s in (row.stamps if row else []) if s > now - self.window_s)
            if len(stamps) >= self.limit:
                return max(stamps[0] + self.window_s - now, 0.0)
            stamps.append(now)
            if row is None:
                session.add(RateWindow(key=row_key, stamps=stamps))
            else:
                row.stamps = stamps
            return 0.0
