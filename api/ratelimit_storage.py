"""Rate-limit counters in a SQLite file shared by every worker process of an instance, and
Redis with that file as its fallback.

Without REDIS_URL, flask-limiter's memory storage would count per worker process: two gunicorn
workers would let 10 wrong passwords through a limit of 5. The `limits` library has no storage
that processes on one host can share, so this one keeps its fixed-window counters in a small
SQLite file (`sqlite-file:///path`, the default RATELIMIT_STORAGE_URI without Redis). Each hit
is one atomic upsert; the file holds counter names (digests and ids) and numbers, nothing more.

With REDIS_URL, every instance counts in Redis, and each falls back to its own file while Redis
does not answer (FailoverStorage, `redis-failover://`). The Redis client is imported there, when
the storage is made: without REDIS_URL a worker never loads it.
"""

import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path

from limits.storage import RedisStorage, Storage

log = logging.getLogger(__name__)

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
RETURNING count, expires_at
"""


# How long a new connection tries to switch the file to WAL while another connection is at it.
WAL_SWITCH_SECONDS = 5


def _use_wal(connection):
    """PRAGMA journal_mode=WAL, tried again while SQLite refuses it.

    Connections that open a new file at the same moment (the first requests of a fresh instance,
    in several threads and workers) each switch it to WAL, and SQLite answers all but one of them
    "database is locked" at once, without waiting in its busy handler; counting would then fail
    for those requests. Once the file is in WAL mode, the switch is a no-op that never fails.
    """
    for _ in range(int(WAL_SWITCH_SECONDS / 0.01)):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.01)
    connection.execute("PRAGMA journal_mode=WAL")


# A flag is a row no limit can name (its key starts with "!") that never expires.
RAISE_FLAG = "INSERT INTO counters (key, count, expires_at) VALUES (?, 1, ?) ON CONFLICT (key) DO NOTHING"
FOREVER = float(2**53)


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
            _use_wal(connection)
            connection.execute("PRAGMA synchronous=OFF")  # counters, not records: speed over durability
            connection.execute(SCHEMA)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def incr(self, key, expiry, amount=1):
        now = time.time()
        connection = self._connection()
        values = {"key": key, "amount": amount, "expires_at": now + expiry, "now": now}
        count, expires_at = connection.execute(INCREMENT, values).fetchone()
        self._local.last_increment = (key, count, expires_at)
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            connection.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return count

    def window_after_increment(self, key):
        """(count, expires_at) as this thread's latest `incr` of `key` left them, else None: the
        upsert already returned what a `get` and a `get_expiry` would read again."""
        last = getattr(self._local, "last_increment", None)
        if last is None or last[0] != key:
            return None
        return last[1], last[2]

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

    def raise_flag(self, name):
        """Set a flag every worker of the instance sees; True for the one that set it first."""
        values = (f"!{name}", FOREVER)
        return self._connection().execute(RAISE_FLAG, values).rowcount == 1

    def lower_flag(self, name):
        """Clear it; True for the one that cleared it."""
        return self._connection().execute("DELETE FROM counters WHERE key = ?", (f"!{name}",)).rowcount == 1

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


FAILOVER_SCHEME = "redis-failover"
REDIS_DOWN_FLAG = "redis-down"
# Redis answers within this or counts as down: a hung Redis must not hold a worker.
REDIS_SOCKET_TIMEOUT = 0.5


class FailoverStorage(Storage):
    """Redis while it answers; this instance's own `sqlite-file` counters while it does not.

    `redis-failover://` with the options `primary` (the Redis URL) and `fallback` (a
    `sqlite-file://` URL) (config.py builds both from REDIS_URL). Every instance behind one Redis
    shares its counters; when Redis fails, each instance keeps counting in its own file, which
    every worker process of the instance shares, so a limit then holds per instance (never per
    worker, and never not at all). Requests are not refused for it: sign-in failure limits go on
    counting in the file.

    The instance logs one warning when its first worker stops using Redis and one info line
    when a worker uses it again (a flag in the shared file says which worker is first); while
    Redis is down each worker tries it again at most once per `retry_seconds`, so it recovers by
    itself and a dead Redis costs a request no connect timeout in between. Counts
    taken in the file are not copied to Redis: once Redis answers, its own counts (of before
    the outage, if their window is still open) apply again.
    """

    STORAGE_SCHEME = [FAILOVER_SCHEME]

    def __init__(self, uri=None, wrap_exceptions=False, *, primary, fallback, retry_seconds=5, **options):
        super().__init__(uri, wrap_exceptions, **options)
        from redis import ConnectionPool
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One immediate retry replaces a pooled connection that a Redis restart closed; redis-py's
        # default (3 retries, backing off up to seconds) would hold each request while Redis is down.
        pool = ConnectionPool.from_url(
            primary,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), 1),
        )
        self.primary = RedisStorage(primary, connection_pool=pool)
        self.fallback = SQLiteFileStorage(fallback)
        self.retry_seconds = float(retry_seconds)
        self._lock = threading.Lock()
        self._degraded = False
        self._retry_at = 0.0
        # Until Redis first answers this process: a flag an earlier run left raised (it stopped
        # during an outage) must not silence the next outage's warning.
        self._answered = False

    @property
    def base_exceptions(self):
        # Only the fallback's failures leave this storage: the primary's are handled here.
        return self.fallback.base_exceptions

    @property
    def degraded(self):
        return self._degraded

    def _primary_errors(self):
        errors = self.primary.base_exceptions
        return (*errors, OSError) if isinstance(errors, tuple) else (errors, OSError)

    def _call(self, method, *args, **kwargs):
        if not self._degraded or time.monotonic() >= self._retry_at:
            try:
                result = getattr(self.primary, method)(*args, **kwargs)
            except self._primary_errors() as error:
                self._went_down(error)
            else:
                self._came_back()
                return result
        return getattr(self.fallback, method)(*args, **kwargs)

    def _went_down(self, error):
        with self._lock:
            self._retry_at = time.monotonic() + self.retry_seconds
            if self._degraded:
                return
            self._degraded = True
        if not self._flag(self.fallback.raise_flag):
            return  # another worker of this instance has said so
        log.warning(
            "rate-limit storage: Redis unreachable (%s); counting in this instance's own file "
            "until it answers again, so limits now hold per instance (pid %s)",
            type(error).__name__,
            os.getpid(),
        )

    def _came_back(self):
        if not self._degraded and self._answered:
            return
        with self._lock:
            if not self._degraded and self._answered:
                return
            self._degraded, self._answered = False, True
        if not self._flag(self.fallback.lower_flag):
            return
        log.info("rate-limit storage: Redis answers again; limits are shared again (pid %s)", os.getpid())

    def _flag(self, change):
        """Whether this worker is the one to log the change; if the file fails too, it logs."""
        try:
            return change(REDIS_DOWN_FLAG)
        except sqlite3.Error:
            return True

    def incr(self, key, expiry, amount=1):
        return self._call("incr", key, expiry, amount=amount)

    def get(self, key):
        return self._call("get", key)

    def get_expiry(self, key):
        return self._call("get_expiry", key)

    def check(self):
        """Healthy while either Redis or the file can count."""
        if self.primary.check():
            self._came_back()
            return True
        return self.fallback.check()

    def reset(self):
        cleared: int = self.fallback.reset() or 0
        try:
            cleared += self.primary.reset() or 0
        except self._primary_errors() as error:
            self._went_down(error)
        return cleared

    def clear(self, key):
        self.fallback.clear(key)
        self._call("clear", key)
