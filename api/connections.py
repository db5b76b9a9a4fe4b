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
at once (SQLITE_BUSY, no waiting) when another writer got there first.

**SQLite writers take turns** before that `BEGIN IMMEDIATE`, on an advisory lock (`flock`) of a
file beside the database (`<database>.writers`), which every thread of every process using the
database takes through its own connection's handle, and gives back the moment its transaction's
COMMIT or ROLLBACK returns. A waiter asks again every WRITER_TURN_POLL_SECONDS (half a
millisecond), so a turn passes on within about that: SQLite's own busy handler, which they would
otherwise wait in, sleeps 1, 2, 5, 10 ... up to 100 ms between tries, and under 16 writers a
create's p99 was most of a second (bench/README.md). A writer that has not had its turn after
the busy timeout (5 s) gets SQLite's own "database is locked", a 503 with Retry-After. A thread
already writing through another connection skips the turn, so it does not wait on itself for
good: that second connection's BEGIN IMMEDIATE meets the thread's own write lock in SQLite's busy
handler and, after the busy timeout, a 503 (nothing in the API writes through two connections at
once). A pooled connection invalidated or closed while it holds the turn (a disconnect, an
exception out of a statement) closes its handle, which lets go of the turn. An in-process queue
in front of SQLite's lock was tried before and dropped: only the process's own threads passed it
on, while the other process's writers slept in the busy handler.

PostgreSQL: the engine's connections are in autocommit (config.engine_options) and `BEGIN` goes
out before the first statement that is not a plain read: any write or DDL, and any SELECT that
takes a lock held to the end of its transaction (`FOR UPDATE`/`FOR SHARE`, an advisory
`_xact_lock`). From there on psycopg's commit and rollback end the transaction as ever. A
connection given an isolation level of its own (the export's REPEATABLE READ, a migration's
autocommit block) is left alone.

**A statement run with the ALONE option while no transaction is open is a transaction of its
own** (a therapist's read, whose only write is its audit event). On PostgreSQL it is one round
trip where BEGIN, the statement and COMMIT were three. On SQLite it is one call of the driver
where BEGIN IMMEDIATE, the statement and COMMIT were three, and the single-row INSERTs of one
process that wait for the writer turn at the same time go out as one (AloneWrites).

**Idle connections are pinged.** A connection that served a request within the last
DB_PING_AFTER_IDLE_SECONDS goes out as it is; one idle for longer is first asked `SELECT 1`, and
if the server is gone it is replaced before the request sees it (a restarted server, a proxy or
firewall that dropped it). A ping on every checkout would cost every request one round trip. A
connection that dies within those seconds fails its request as a 503 with Retry-After
(api/errors.py), which changes nothing, and SQLAlchemy then replaces every connection of the pool.
"""

import fcntl
import re
import sqlite3
import threading
import time

from sqlalchemy import event, exc

SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
PLAIN_READ = re.compile(r"\s*(SELECT|SHOW)\b", re.IGNORECASE)
HELD_LOCK = re.compile(
    r"\bFOR\s+(UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b|_xact_lock(_shared)?\s*\(", re.IGNORECASE
)


# An execution option: if no transaction is open yet, this statement is its own, and the request's
# COMMIT then has nothing to end.
ALONE = "journal_alone"


def starts_postgresql_transaction(statement):
    """Whether `statement` must run inside the request's transaction on PostgreSQL."""
    return not PLAIN_READ.match(statement) or HELD_LOCK.search(statement) is not None


def init_app(engine, *, ping_after_idle):
    """Begin this engine's transactions at their first write; on PostgreSQL, ping a connection
    idle for more than `ping_after_idle` seconds before lending it (create_app)."""
    if engine.dialect.name == "sqlite":
        turns = _sqlite_turns(engine)
        begin = _sqlite_begin(engine, turns)
        # Ahead of `begin`: an ALONE statement is run by this listener and goes no further.
        event.listen(engine, "do_execute", AloneWrites(turns).execute)
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


WRITER_TURN_POLL_SECONDS = 0.0005
WRITER_TURN_TIMEOUT_SECONDS = 5.0  # as PRAGMA busy_timeout (api/app.py)


class WriterTurns:
    """One SQLite writer at a time across this host's threads and processes (module docstring).

    Each pooled connection keeps its own handle of the lock file in its record's `info`, so two
    threads of one process compete for the lock as two processes do.
    """

    def __init__(self, path):
        self.path = path
        self.writing = threading.local()  # the connection this thread holds the turn through

    def take(self, connection):
        """Wait for the turn; False if this connection takes none (see the class)."""
        info = _pool_info(connection)
        if info is None or self._writing_elsewhere():
            return False  # not pooled (SQLAlchemy's first connect), or already writing elsewhere
        handle = info.get("writer_turn")
        if handle is None:
            try:
                handle = info["writer_turn"] = open(self.path, "a")  # noqa: SIM115 (kept open)
            except OSError as error:  # a read-only folder, another owner: no write can happen (503)
                raise sqlite3.OperationalError(
                    f"unable to open the writer-turn file: {error.strerror}"
                ) from None
        deadline = time.monotonic() + WRITER_TURN_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(WRITER_TURN_POLL_SECONDS)
            except OSError as error:  # no locks on this file system (ENOLCK): as unavailable (503)
                raise sqlite3.OperationalError(f"unable to take the writer turn: {error.strerror}") from None
        info["writer_turn_held"] = True
        self.writing.connection = connection
        return True

    def drop(self, info):
        """The pooled connection is invalidated, closed or detached (a disconnect, an exception
        out of a statement): its handle is closed, which lets go of the turn if it held it; no
        COMMIT or ROLLBACK is coming to give it back."""
        handle = info.pop("writer_turn", None)
        info["writer_turn_held"] = False
        if handle is not None:
            handle.close()

    def _writing_elsewhere(self):
        held = getattr(self.writing, "connection", None)
        if held is not None and not (_pool_info(held) or {}).get("writer_turn_held"):
            self.writing.connection = held = None  # its connection was dropped with the turn
        return held is not None

    def give_back(self, connection):
        info = _pool_info(connection)
        if info is None or not info.get("writer_turn_held"):
            return
        try:
            fcntl.flock(info["writer_turn"], fcntl.LOCK_UN)
        except OSError:
            self.drop(info)  # closing the handle lets go of the lock as well
        info["writer_turn_held"] = False
        if getattr(self.writing, "connection", None) is connection:
            self.writing.connection = None


def _pool_info(connection):
    """The `info` of SQLAlchemy's pooled connection; None for the driver's own connection or the
    pool's ad hoc one (its first connect), which have none."""
    try:
        return getattr(connection, "info", None)
    except NotImplementedError:
        return None


def _sqlite_turns(engine):
    """The engine's writer turns; None for an in-memory database, which no other process shares."""
    database = engine.url.database
    return WriterTurns(f"{database}.writers") if database and database != ":memory:" else None


ONE_ROW_INSERT = re.compile(r"INSERT INTO [^()]+\([^()]+\) VALUES (\((?:\?, )*\?\))")


class _Waiting:
    """One ALONE statement's parameters, queued for its batch, and how it went."""

    __slots__ = ("parameters", "done", "leads", "error")

    def __init__(self, parameters):
        self.parameters = parameters
        self.done = threading.Event()
        self.leads = False  # handed the lead: this thread writes the next batch
        self.error = None


# How long a read waits on a batch's leader before it gives up its place (a 503): the leader's own
# wait for the turn and its write, each bounded by the busy timeout, with room to spare.
FOLLOWER_TIMEOUT_SECONDS = 3 * WRITER_TURN_TIMEOUT_SECONDS


class AloneWrites:
    """SQLite's ALONE statements (a read's audit event): each is a transaction of its own, and
    those of one process that wait at the same time go out together (group commit).

    The write and its commit (the WAL's sync) are one call of the driver, which holds no GIL
    while it runs; through BEGIN IMMEDIATE they were three calls. The writer turn is taken
    before that call and given back after it, once the thread has the GIL again, and under load
    that took over a millisecond: the turn was held about 1.4 ms for a 0.2 ms write, and reads
    queued about 7 ms for it (bench/README.md). So the first thread to come leads: it waits for
    the turn, and each thread of its process that comes meanwhile with the same one-row INSERT
    waits on the leader instead. The leader writes all their rows as one multi-row INSERT (one
    statement, one sync) through its own connection, so no thread needs a second pooled
    connection, and tells each how it went. None returns before its row is committed.

    If the INSERT fails because the database is busy or gone, every row of it fails alike (a
    503), and nothing of it is written. If the table refuses a row, each row is written again
    by itself, so each thread gets its own row's outcome. A thread that joins a leader still
    waiting for the turn fails with it if the turn does not come within the leader's timeout,
    however briefly it waited itself. The first thread that came while the leader wrote leads
    the next batch.
    """

    def __init__(self, turns):
        self.turns = turns
        self.lock = threading.Lock()
        # By statement, while one thread leads its batches: those waiting for the next write.
        self.waiting: dict[str, list[_Waiting]] = {}

    def execute(self, cursor, statement, parameters, context):
        """SQLAlchemy's do_execute event: True if the statement was run here."""
        if context is None or not context.execution_options.get(ALONE) or cursor.connection.in_transaction:
            return None
        connection = context.root_connection.connection
        one_row = ONE_ROW_INSERT.fullmatch(statement)
        if one_row is None:  # nothing to add rows to: written by itself
            took = self._take_turn(connection)
            try:
                _autocommit(cursor, statement, parameters)
            finally:
                self._give_back(connection, took)
            return True
        mine = _Waiting(parameters)
        with self.lock:
            queue = self.waiting.get(statement)
            leads = queue is None
            if queue is None:
                self.waiting[statement] = []  # there is a leader now, and none waits for it yet
            else:
                queue.append(mine)
        if not leads:
            self._follow(statement, mine)
            if not mine.leads:
                _raise_for(mine)
                return True
        self._lead(cursor, connection, statement, one_row.group(1), mine)
        return True

    def _follow(self, statement, mine):
        """Wait for the leader's answer; give up the place in the queue after the timeout."""
        if mine.done.wait(FOLLOWER_TIMEOUT_SECONDS):
            return
        with self.lock:
            queue = self.waiting.get(statement)
            if queue is not None and mine in queue:  # still waiting for a batch: nothing written
                queue.remove(mine)
                raise sqlite3.OperationalError("database is locked")
        mine.done.wait()  # in a batch being written, or handed the lead: the answer is coming

    def _lead(self, cursor, connection, statement, row, mine):
        batch, took = None, False
        try:
            took = self._take_turn(connection)  # those who come meanwhile join the batch
            batch = self._take_batch(statement, mine)
            _write_rows(cursor, statement, row, batch)
        except BaseException as error:
            if batch is None:  # no turn after the busy timeout: all who waited for it fail
                batch = self._take_batch(statement, mine)
            for waiting in batch:
                waiting.error = error
        finally:
            try:
                self._give_back(connection, took)
            finally:
                self._pass_on(statement)
                for waiting in batch or ():
                    if waiting is not mine:
                        waiting.done.set()
        if mine.error is not None:
            raise mine.error

    def _take_batch(self, statement, mine):
        with self.lock:
            batch, self.waiting[statement] = [mine, *self.waiting[statement]], []
        return batch

    def _pass_on(self, statement):
        """The first who came during the write leads the next batch; with none, no one leads."""
        with self.lock:
            queue = self.waiting[statement]
            if queue:
                following = queue.pop(0)
                following.leads = True
                following.done.set()
            else:
                del self.waiting[statement]

    def _take_turn(self, connection):
        return self.turns is not None and self.turns.take(connection)

    def _give_back(self, connection, took):
        if took:
            self.turns.give_back(connection)


def _write_rows(cursor, statement, row, batch):
    """The batch's rows in one INSERT; if the table refuses one, each row by itself, its outcome
    kept for its own thread. A busy or missing database fails them all (it is raised)."""
    parameters = [value for waiting in batch for value in waiting.parameters]
    try:
        _autocommit(cursor, statement + f", {row}" * (len(batch) - 1), parameters)
    except sqlite3.OperationalError:
        raise
    except sqlite3.Error:
        if len(batch) == 1:
            raise
        for waiting in batch:
            try:
                _autocommit(cursor, statement, waiting.parameters)
            except sqlite3.Error as error:
                waiting.error = error


def _autocommit(cursor, statement, parameters):
    """The statement as a transaction of its own: no implicit BEGIN from the driver."""
    dbapi_connection = cursor.connection
    level = dbapi_connection.isolation_level
    dbapi_connection.isolation_level = None
    try:
        cursor.execute(statement, parameters)
    finally:
        dbapi_connection.isolation_level = level


def _raise_for(waiting):
    """The failure of a follower's row, raised again in its own thread: the database's own error
    (a busy or missing database for the whole batch, or the table refusing this very row), else
    an OperationalError (a 503) for what went wrong in the leader's thread."""
    error = waiting.error
    if error is None:
        return
    if isinstance(error, sqlite3.Error):
        raise type(error)(*error.args) from error
    raise sqlite3.OperationalError("the batch this statement went out in was not written") from error


def _sqlite_begin(engine, turns):
    def begin(cursor, statement, context):
        if cursor.connection.in_transaction or not statement.lstrip()[:7].upper().startswith(SQLITE_WRITES):
            return
        connection = context.root_connection.connection if context is not None else None
        if turns is not None and turns.take(connection):
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except BaseException:
                turns.give_back(connection)
                raise
            return
        cursor.execute("BEGIN IMMEDIATE")

    if turns is not None:
        _give_back_after(engine.dialect, turns)
        for name in ("invalidate", "soft_invalidate", "close", "close_detached", "detach"):
            event.listen(engine.pool, name, lambda dbapi_connection, record=None, *rest: _drop(turns, record))
    return begin


def _drop(turns, record):
    info = getattr(record, "info", None)  # close_detached passes no record
    if info is not None:
        turns.drop(info)


def _give_back_after(dialect, turns):
    """The turn passes on once COMMIT or ROLLBACK has returned: SQLAlchemy's commit event comes
    before the driver's commit, so the dialect's own calls are wrapped (they receive the pooled
    connection, whose `info` holds the turn; the pool's reset on return is a rollback too)."""
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(connection):
        try:
            commit(connection)
        finally:
            turns.give_back(connection)

    def do_rollback(connection):
        try:
            rollback(connection)
        finally:
            turns.give_back(connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback


def _postgresql_begin():
    from psycopg.pq import TransactionStatus  # psycopg only where PostgreSQL is used

    def begin(cursor, statement, context):
        connection = cursor.connection
        if not connection.autocommit or connection.info.transaction_status != TransactionStatus.IDLE:
            return
        if context is not None and (
            "isolation_level" in context.execution_options or context.execution_options.get(ALONE)
        ):
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
