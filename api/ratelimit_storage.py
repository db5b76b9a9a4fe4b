"""Rate-limit counters in a SQLite file: shared by every worker process of an instance.

Without REDIS_URL, flask-limiter's memory storage would count per worker process: two gunicorn
workers would let 10 wrong passwords through a limit of 5. The `limits` library has no storage
that processes on one host can share, so this one keeps its fixed-window counters in a small
SQLite file (`sqlite-file:///path`, the default RATELIMIT_STORAGE_URI without Redis). Each hit
is one atomic upsert; the file holds counter names (digests and ids) and numbers, nothing more.
"""

import os
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path

from limits.storage import Storage

SCHEME = "sqlite-file"
# Expired counters are swept on about one hit in this many.
SWEEP_EVERY = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID
"""

INCREMENT = """
INSERT INTO counters (key, count, expires_at) VALUES (:key, :amount, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN counters.expires_at <= :now THEN excluded.count
                 ELSE counters.count + excluded.count END,
    expires_at = CASE WHEN counters.expires_at <= :now THEN excluded.expires_at ELSE counters.expires_at END
RETURNING count
"""


class SQLiteFileStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        super().__init__(uri, wrap_exceptions, **options)
        self.path = urllib.parse.urlparse(uri).path
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._hits = 0

    @property
    def base_exceptions(self):
        return sqlite3.Error

    def _connection(self):
        """One connection per thread and process (gunicorn forks workers; each opens its own)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")  # counters, not records: speed over durability
            connection.execute(SCHEMA)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def incr(self, key, expiry, amount=1):
        now = time.time()
        connection = self._connection()
        values = {"key": key, "amount": amount, "expires_at": now + expiry, "now": now}
        count = connection.execute(INCREMENT, values).fetchone()[0]
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            connection.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return count

    def get(self, key):
        row = (
            self._connection()
            .execute("SELECT count FROM counters WHERE key = ? AND expires_at > ?", (key, time.time()))
            .fetchone()
        )
        return row[0] if row else 0

    def get_expiry(self, key):
        row = self._connection().execute("SELECT expires_at FROM counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row and row[0] > time.time() else time.time()

    def check(self):
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self):
        return self._connection().execute("DELETE FROM counters").rowcount

    def clear(self, key):
        self._connection().execute("DELETE FROM counters WHERE key = ?", (key,))
