"""SQLite write transactions take the database's write lock at their first write.

A write transaction starts at its first INSERT, UPDATE or DELETE (the reads before it, the token
check among them, run outside any transaction, as the sqlite3 module runs them) with
`BEGIN IMMEDIATE`, so it holds the write lock from its first statement and never has to upgrade
a read lock to a write lock, which SQLite refuses at once (SQLITE_BUSY, no waiting) when another
writer got there first. Writers that find the lock taken wait in SQLite's busy handler
(`busy_timeout`, api/app.py).

An in-process queue in front of the lock was tried and measured (bench/README.md, "make
bench-stack"): with two gunicorn workers it let one process's threads pass the lock to each
other while the other process's writer slept in the busy handler, and the tail grew to seconds.

PostgreSQL connections are left alone: their writers wait on row locks in the server.
"""

from sqlalchemy import event

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def init_app(engine):
    """Begin this SQLite engine's write transactions immediately (create_app; any other engine
    is left alone)."""
    if engine.dialect.name != "sqlite":
        return

    def begin_immediate(cursor, statement, context):
        # Right as the statement goes out, after every before_cursor_execute listener: where the
        # sqlite3 module would have sent its own (deferred) BEGIN.
        if cursor.connection.in_transaction or not statement.lstrip()[:7].upper().startswith(WRITES):
            return
        cursor.execute("BEGIN IMMEDIATE")

    def begin_immediate_with_parameters(cursor, statement, parameters, context):
        begin_immediate(cursor, statement, context)

    event.listen(engine, "do_execute", begin_immediate_with_parameters)
    event.listen(engine, "do_executemany", begin_immediate_with_parameters)
    event.listen(engine, "do_execute_no_params", begin_immediate)
