"""SQLite writers queue in the process, then take the database's write lock at once.

SQLite has one writer at a time. Left to itself, a writer that finds the lock taken sleeps in
SQLite's busy handler and polls (1, 2, 5 ... then every 100 ms), so under a burst some writers
poll past others again and again: a tail of a second for a write that needs two milliseconds.
Here a write transaction starts at its first INSERT, UPDATE or DELETE (the reads before it, the
token check among them, run outside any transaction, as the sqlite3 module runs them): the
thread first waits its turn on a lock of this process, which wakes the next waiter the moment
it is let go, and then sends `BEGIN IMMEDIATE`, so the transaction holds the database's write
lock from its first statement and never has to upgrade a read to a write. The turn ends with the
transaction (its commit or rollback), or at the latest when the connection goes back to the
pool: a connection kept after its commit (a streamed export, after its audit event) holds no
one up. Other processes (gunicorn's other workers, a command) still meet the write lock in
SQLite's busy handler, as before, one writer per process at a time.

PostgreSQL connections are left alone: their writers wait on row locks in the server.
"""

import threading

from sqlalchemy import event

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# As long as SQLite's own busy_timeout (api/app.py): a turn not had by then is not waited for
# any longer here, and the write meets SQLite's busy handler, and its error, as it would alone.
WAIT_SECONDS = 5.0


def init_app(engine):
    """Queue the writers of this SQLite engine (create_app; any other engine is left alone)."""
    if engine.dialect.name != "sqlite":
        return
    turn = threading.Lock()

    def begin_immediate(cursor, statement, context):
        # Right as the statement goes out, after every before_cursor_execute listener: where the
        # sqlite3 module would have sent its own (deferred) BEGIN.
        if cursor.connection.in_transaction or not statement.lstrip()[:7].upper().startswith(WRITES):
            return
        pooled = context.root_connection.connection._connection_record
        if pooled is not None and "write_turn" not in pooled.info and turn.acquire(timeout=WAIT_SECONDS):
            pooled.info["write_turn"] = turn
        cursor.execute("BEGIN IMMEDIATE")

    def begin_immediate_with_parameters(cursor, statement, parameters, context):
        begin_immediate(cursor, statement, context)

    event.listen(engine, "do_execute", begin_immediate_with_parameters)
    event.listen(engine, "do_executemany", begin_immediate_with_parameters)
    event.listen(engine, "do_execute_no_params", begin_immediate)
    event.listen(engine.pool, "checkin", end_turn)

    def end_transaction(connection):
        record = connection.connection._connection_record
        if record is not None:
            end_turn(None, record)

    event.listen(engine, "commit", end_transaction)
    event.listen(engine, "rollback", end_transaction)


def end_turn(dbapi_connection, connection_record):
    """The connection is back in the pool, its transaction committed or rolled back: the next
    writer's turn."""
    turn = connection_record.info.pop("write_turn", None)
    if turn is not None:
        turn.release()
