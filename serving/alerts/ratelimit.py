"""A sliding-window rate limiter per key, shared by the worker threads that deliver alerts."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


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
