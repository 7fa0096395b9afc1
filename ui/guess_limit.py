"""Password guess limits: after 5 wrong guesses from a session or a client, a lock of 30 s that doubles each time.

The counts live in one small file of the workspace, so a new browser session, a page reload or a server
restart does not reset them. A guess is counted under several keys (the browser session and the client
address); the visitor is locked while any of them is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from core.rundir import read_json, write_json_atomic
from core.workspace import workspace_home

FREE_GUESSES = 5
FIRST_LOCK_S = 30.0
MAX_LOCK_S = 3600.0
FORGET_AFTER_S = 24 * 3600.0  # a key with no wrong guess for a day starts afresh
FILE_NAME = ".login-failures.json"
clock = time.time  # tests replace it to move time forward
_write_lock = threading.Lock()  # the server's sessions each run in their own thread


def _load() -> dict[str, dict]:
    return read_json(workspace_home() / FILE_NAME) or {}


def locked_until(keys: Iterable[str]) -> float:
    """The time (epoch seconds) until which any of `keys` is locked; 0 when none is."""
    failures, now = _load(), clock()
    until = max((float(failures.get(key, {}).get("until", 0)) for key in keys), default=0.0)
    return until if until > now else 0.0


def record_failure(keys: Iterable[str]) -> float:
    """Count one wrong guess under each key; returns the lock's end time (0 while guesses are left)."""
    with _write_lock:
        now = clock()
        failures = {key: entry for key, entry in _load().items() if now - entry.get("last", 0) < FORGET_AFTER_S}
        until = 0.0
        for key in keys:
            count = failures.get(key, {}).get("count", 0) + 1
            lock = min(FIRST_LOCK_S * 2 ** (count - FREE_GUESSES), MAX_LOCK_S) if count >= FREE_GUESSES else 0.0
            failures[key] = {"count": count, "last": now, "until": now + lock if lock else 0.0}
            until = max(until, failures[key]["until"])
        write_json_atomic(workspace_home() / FILE_NAME, failures)
        return until


def clear(keys: Iterable[str]) -> None:
    """Forget the wrong guesses of `keys` (after a right one)."""
    with _write_lock:
        failures = _load()
        for key in keys:
            failures.pop(key, None)
        write_json_atomic(workspace_home() / FILE_NAME, failures)
