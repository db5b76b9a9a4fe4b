"""How the API uses its database connections: a request's transaction begins at its first write,
and a pooled PostgreSQL connection that sat idle is pinged before it is lent.

**Transactions begin at the first write**, on SQLite and on PostgreSQL.

Reads before it (the token check, a page, a 304's version) run outside any transaction, one
statement each, so a request that writes nothing sends no BEGIN and no COMMIT: on PostgreSQL two
round trips of a list page's four. Nothing is lost by it: under READ COMMITTED, PostgreSQL's
level and the API's, every statement of a transaction takes its own snapshot anyway, and the
reads before a write take no lock that the write would keep.

SQLite: the sqlite3 module already runs reads outside a transaction; its write transactions start
at the first INSERT, UPDATE or DELETE with `BEGIN IMMEDIATE`, so they hold the write lock from
their first statement and never have to upgrade a read lock to a write lock, which SQLite refuses
at once (SQLITE_BUSY, no waiting) when another writer got there first. Writers that find the lock
taken wait in SQLite's busy handler (`busy_timeout`, api/app.py). An in-process queue in front of
the lock was tried and measured (bench/README.md, "make bench-stack"): with two gunicorn workers
it let one process's threads pass the lock to each other while the other process's writer slept
in the busy handler, and the tail grew to seconds.

PostgreSQL: the engine's connections are in autocommit (config.engine_options) and `BEGIN` goes
out before the first statement that is not a plain read: any write or DDL, and any SELECT that
takes a lock held to the end of its transaction (`FOR UPDATE`/`FOR SHARE`, an advisory
`_xact_lock`). From there on psycopg's commit and rollback end the transaction as ever. A
connection given an isolation level of its own (the export's REPEATABLE READ, a migration's
autocommit block) is left alone.

**Idle connections are pinged.** A connection that served a request within the last
DB_PING_AFTER_IDLE_SECONDS goes out as it is; one idle for longer is first asked `SELECT 1`, and
if the server is gone it is replaced before the request sees it (a restarted server, a proxy or
firewall that dropped it). A ping on every checkout would cost every request one round trip. A
connection that dies within those seconds fails its request as a 503 with Retry-After
(api/errors.py), which changes nothing, and SQLAlchemy then replaces every connection of the pool.
"""

import re
import time

from sqlalchemy import event, exc

SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
PLAIN_READ = re.compile(r"\s*(SELECT|SHOW)\b", re.IGNORECASE)
HELD_LOCK = re.compile(
    r"\bFOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b|_xact_lock\s*\(", re.IGNORECASE
)


def starts_postgresql_transaction(statement):
    """Whether `statement` must run inside the request's transaction on PostgreSQL."""
    return not PLAIN_READ.match(statement) or HELD_LOCK.search(statement) is not None


def init_app(engine, *, ping_after_idle):
    """Begin this engine's transactions at their first write; on PostgreSQL, ping a connection
    idle for more than `ping_after_idle` seconds before lending it (create_app)."""
    if engine.dialect.name == "sqlite":
        begin = _begin_sqlite
    elif engine.dialect.name == "postgresql":
        begin = _postgresql_begin()
        _ping_idle_connections(engine, ping_after_idle)
    else:
        return

    def begin_with_parameters(cursor, statement, parameters, context):
        begin(cursor, statement, context)

    # Right as the statement goes out, after every before_cursor_execute listener: where the
    # driver would have sent its own BEGIN.
    event.listen(engine, "do_execute", begin_with_parameters)
    event.listen(engine, "do_executemany", begin_with_parameters)
    event.listen(engine, "do_execute_no_params", begin)


def _begin_sqlite(cursor, statement, context):
    if cursor.connection.in_transaction or not statement.lstrip()[:7].upper().startswith(SQLITE_WRITES):
        return
    cursor.execute("BEGIN IMMEDIATE")


def _postgresql_begin():
    from psycopg.pq import TransactionStatus  # psycopg only where PostgreSQL is used

    def begin(cursor, statement, context):
        connection = cursor.connection
        if not connection.autocommit or connection.info.transaction_status != TransactionStatus.IDLE:
            return
        if context is not None and "isolation_level" in context.execution_options:
            return
        if starts_postgresql_transaction(statement):
            cursor.execute("BEGIN")

    return begin


def _ping_idle_connections(engine, ping_after_idle):
    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def lent(dbapi_connection, record, proxy):
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at <= ping_after_idle:
            return  # new, or in use moments ago
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:
            # The pool drops this connection and lends another (up to three tries).
            raise exc.DisconnectionError() from error
