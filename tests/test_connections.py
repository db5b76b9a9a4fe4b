"""How requests use their database connection (api/connections.py): a request that writes nothing
runs outside any transaction (no BEGIN, no COMMIT on PostgreSQL); a write opens the transaction
before its first statement that writes or locks, and everything from there commits together; a
pooled connection idle for a while is pinged, and a dead one replaced before a request sees it.
"""

import os
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import create_engine, text

from api.app import create_app
from api.connections import starts_postgresql_transaction
from api.extensions import db
from tests.helpers import assert_problem

on_postgresql = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
    reason="PostgreSQL's transactions and pool: runs in the PostgreSQL pass (TEST_DATABASE_URL=postgresql+psycopg://...)",
)


@pytest.mark.parametrize(
    "statement, begins",
    [
        ("SELECT users.id FROM users WHERE users.id = %(id)s", False),
        ("  select 1", False),
        ("SHOW statement_timeout", False),
        ("SELECT anon_1.seq FROM (SELECT moods.sync_seq AS seq FROM moods) AS anon_1 LIMIT 101", False),
        ("INSERT INTO moods (id) VALUES (%(id)s)", True),
        ("UPDATE sync_clocks SET last_seq=(sync_clocks.last_seq + %(taken)s) RETURNING last_seq", True),
        ("DELETE FROM stored_answers WHERE expires_at < %(now)s", True),
        ("WITH gone AS (DELETE FROM moods RETURNING id) SELECT count(*) FROM gone", True),
        ("SELECT sync_clocks.user_id FROM sync_clocks WHERE user_id = %(id)s FOR UPDATE", True),
        ("SELECT id FROM users FOR NO KEY UPDATE", True),
        ("SELECT id FROM users FOR SHARE", True),
        ("SELECT pg_try_advisory_xact_lock(%(lock)s) AS anon_1", True),
        ("SELECT pg_advisory_xact_lock_shared(%(lock)s)", True),
        ("SET LOCAL enable_seqscan = off", True),
        ("CREATE TABLE t (id int)", True),
        ("SAVEPOINT sa_savepoint_1", True),
    ],
)
def test_which_statements_open_the_transaction(statement, begins):
    assert starts_postgresql_transaction(statement) is begins


@pytest.fixture
def wire(app, monkeypatch):
    """What went to PostgreSQL: each statement with whether it ran inside a transaction, and
    "COMMIT"/"ROLLBACK" for each one psycopg sent (it sends none when no transaction is open)."""
    sent = []
    execute = psycopg.Cursor.execute

    def recording_execute(self, query, *args, **kwargs):
        inside = self.connection.info.transaction_status != TransactionStatus.IDLE
        sent.append((str(query).split()[0].upper(), inside, str(query)))
        return execute(self, query, *args, **kwargs)

    def ending(name, original):
        def end(self):
            if self.info.transaction_status != TransactionStatus.IDLE:
                sent.append((name, True, name))
            return original(self)

        return end

    monkeypatch.setattr(psycopg.Cursor, "execute", recording_execute)
    monkeypatch.setattr(psycopg.Connection, "commit", ending("COMMIT", psycopg.Connection.commit))
    monkeypatch.setattr(psycopg.Connection, "rollback", ending("ROLLBACK", psycopg.Connection.rollback))
    return sent


@on_postgresql
def test_a_read_sends_no_begin_and_no_commit(client, patient, wire):
    created = client.post("/v1/moods", headers=patient.headers, json={"mood": 5})
    wire.clear()
    for path in ("/v1/moods", f"/v1/moods/{created.json['id']}", "/v1/sync?limit=100", "/v1/me"):
        assert client.get(path, headers=patient.headers).status_code == 200
    assert wire and all(verb == "SELECT" and not inside for verb, inside, _ in wire), wire


@on_postgresql
def test_a_write_begins_before_its_first_write_and_commits_once(client, patient, wire):
    created = client.post("/v1/moods", headers=patient.headers, json={"mood": 5})
    assert created.status_code == 201
    verbs = [(verb, inside) for verb, inside, _ in wire]
    # the token check outside; then BEGIN, the sync clock, the INSERT, the look for a follow-up the
    # check-in completes and the COMMIT inside it
    outside, inside = (
        [("SELECT", False), ("BEGIN", False)],
        [("UPDATE", True), ("INSERT", True), ("SELECT", True), ("COMMIT", True)],
    )
    assert verbs == outside + inside


@on_postgresql
def test_a_locking_read_runs_inside_the_transaction_it_locks_for(client, patient, wire):
    """An idempotent create's advisory lock is held to the end of the request's transaction: the
    lock is taken inside it, with the record and the stored answer after it."""
    headers = {**patient.headers, "Idempotency-Key": str(uuid.uuid4())}
    assert client.post("/v1/moods", headers=headers, json={"mood": 5}).status_code == 201
    locked = next(index for index, (_, _, sql) in enumerate(wire) if "advisory_xact_lock" in sql)
    assert wire[locked - 1][0] == "BEGIN" and wire[locked][1] is True
    assert all(inside for _, inside, _ in wire[locked:]) and wire[-1][0] == "COMMIT"
    assert [verb for verb, _, _ in wire].count("BEGIN") == 1


@on_postgresql
def test_a_therapists_read_commits_its_audit_event_and_a_refused_write_leaves_nothing(
    client, patient, therapist, link, wire, database_rows
):
    """A read's audit event is its only write: one INSERT that is its own transaction, after the
    page. A write with its event (an acknowledgement) commits both in one transaction."""
    link(patient, therapist)
    assert client.post("/v1/moods", headers=patient.headers, json={"mood": 5}).status_code == 201
    wire.clear()
    assert client.get(f"/v1/patients/{patient.id}/moods", headers=therapist.headers).status_code == 200
    assert [(verb, inside) for verb, inside, _ in wire] == [
        ("SELECT", False),
        ("SELECT", False),
        ("INSERT", False),
    ]
    assert "audit_events" in wire[-1][2]

    entry = client.post("/v1/entries", headers=patient.headers, json={"body": "b", "visibility": "care_team"})
    wire.clear()
    acknowledged = client.post(
        f"/v1/patients/{patient.id}/entries/{entry.json['id']}/acknowledgement", headers=therapist.headers
    )
    assert acknowledged.status_code == 200
    verbs = [verb for verb, _, _ in wire]
    begun = verbs.index("BEGIN")
    assert verbs.count("BEGIN") == 1 and verbs[-1] == "COMMIT" and "UPDATE" in verbs[begun:]
    assert all(inside for _, inside, _ in wire[begun + 1 :])
    assert any(verb == "INSERT" and "audit_events" in sql for verb, _, sql in wire[begun:])

    taken = client.post("/v1/moods", headers=patient.headers, json={"mood": 5}).json["id"]
    wire.clear()
    refused = client.post("/v1/moods", headers=patient.headers, json={"id": taken, "mood": 6})
    assert_problem(refused, 409, "conflict")
    assert [verb for verb, _, _ in wire][-1] == "ROLLBACK"
    assert len(database_rows()["moods"]) == 2  # the one read above and the taken one


def backend_pids(app):
    with app.app_context():
        return [
            record.dbapi_connection.info.backend_pid
            for record in db.engine.pool._pool.queue  # the pool's idle connections
            if record.dbapi_connection is not None
        ]


def terminate(config_class, pids):
    admin = create_engine(config_class.SQLALCHEMY_DATABASE_URI)
    with admin.connect() as connection:
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@on_postgresql
def test_an_idle_connection_the_server_closed_is_replaced_before_a_request_gets_it(config_class, patient):
    """Connections the server dropped while they sat in the pool (a restart, a proxy's idle
    limit): each request is answered as if nothing happened."""
    app = create_app(type("Idle", (config_class,), {"DB_PING_AFTER_IDLE_SECONDS": 0.2}))
    client = app.test_client()
    assert client.get("/v1/moods", headers=patient.headers).status_code == 200
    pids = backend_pids(app)
    assert pids
    terminate(config_class, pids)
    time.sleep(0.3)
    for _ in range(3):
        assert client.get("/v1/moods", headers=patient.headers).status_code == 200
    assert client.post("/v1/moods", headers=patient.headers, json={"mood": 4}).status_code == 201
    with app.app_context():
        db.engine.dispose()


@on_postgresql
def test_a_connection_that_died_moments_after_use_fails_one_request_as_503_and_writes_nothing(
    config_class, patient, database_rows
):
    """Within DB_PING_AFTER_IDLE_SECONDS of its last use a connection is lent unpinged: a dead
    one fails that request as a 503 with Retry-After, which wrote nothing, and the next request
    is served on a new connection."""
    app = create_app(type("Busy", (config_class,), {"DB_PING_AFTER_IDLE_SECONDS": 3600}))
    client = app.test_client()
    assert client.get("/v1/moods", headers=patient.headers).status_code == 200
    terminate(config_class, backend_pids(app))
    failed = client.post("/v1/moods", headers=patient.headers, json={"mood": 4})
    assert_problem(failed, 503, "service-unavailable")
    assert "Retry-After" in failed.headers
    assert database_rows()["moods"] == []
    assert client.post("/v1/moods", headers=patient.headers, json={"mood": 4}).status_code == 201
    assert len(database_rows()["moods"]) == 1
    with app.app_context():
        db.engine.dispose()


on_sqlite = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
    reason="SQLite's writers: runs in the SQLite pass",
)


@pytest.fixture
def file_app(config_class, tmp_path):
    """The app on a SQLite file of its own, migrated."""
    import flask_migrate

    app = create_app(
        type("File", (config_class,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.db'}"})
    )
    with app.app_context():
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (writer TEXT)")
            connection.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@on_sqlite
def test_sqlite_writers_wait_their_turn_before_begin_and_pass_it_on_at_commit(file_app):
    """A second writer sends its BEGIN IMMEDIATE only once the first has committed: it waits for
    its turn, not in SQLite's busy handler (which sleeps up to 100 ms between tries)."""
    with file_app.app_context():
        engine = db.engine
    trace, started = [], threading.Event()

    def traced(connection):
        connection.connection.dbapi_connection.set_trace_callback(trace.append)
        return connection

    first = traced(engine.connect())
    first.exec_driver_sql("INSERT INTO notes VALUES ('first')")

    failures = []

    def second_writer():
        try:
            with engine.connect() as connection:
                traced(connection)
                started.set()
                connection.exec_driver_sql("INSERT INTO notes VALUES ('second')")
                connection.commit()
        except Exception as error:  # shown by the assertion below
            failures.append(error)

    thread = threading.Thread(target=second_writer)
    thread.start()
    started.wait(5)
    time.sleep(0.2)  # the second writer is waiting now
    assert "INSERT INTO notes VALUES ('second')" not in trace
    first.commit()
    thread.join(5)
    first.close()
    assert not thread.is_alive() and failures == []
    order = [line for line in trace if line.startswith(("BEGIN", "COMMIT", "INSERT"))]
    assert order == [
        "BEGIN IMMEDIATE",
        "INSERT INTO notes VALUES ('first')",
        "COMMIT",
        "BEGIN IMMEDIATE",
        "INSERT INTO notes VALUES ('second')",
        "COMMIT",
    ]


@on_sqlite
def test_a_sqlite_writer_whose_turn_does_not_come_is_answered_503_and_writes_nothing(file_app, monkeypatch):
    """Another process holding the turn past the busy timeout: the same 503 with Retry-After as
    SQLite's own "database is locked", and nothing written."""
    import fcntl

    from api import connections

    client = file_app.test_client()
    body = {"email": "turns@example.org", "password": "a long passphrase 42", "display_name": "T"}
    assert client.post("/v1/auth/register", json={**body, "role": "patient"}).status_code == 201
    credentials = {"email": body["email"], "password": body["password"]}
    token = client.post("/v1/auth/login", json=credentials).json
    monkeypatch.setattr(connections, "WRITER_TURN_TIMEOUT_SECONDS", 0.3)
    with file_app.app_context():
        path = f"{db.engine.url.database}.writers"
    with open(path, "a") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        refused = client.post(
            "/v1/moods", headers={"Authorization": f"Bearer {token['access_token']}"}, json={"mood": 5}
        )
        fcntl.flock(other_process, fcntl.LOCK_UN)
    assert_problem(refused, 503, "service-unavailable")
    assert "Retry-After" in refused.headers
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/v1/moods", headers=headers).json["items"] == []
    assert client.post("/v1/moods", headers=headers, json={"mood": 5}).status_code == 201


@on_sqlite
def test_a_connection_invalidated_while_it_holds_the_turn_lets_go_of_it(file_app):
    """A disconnect or an exception out of a statement invalidates the connection: no COMMIT or
    ROLLBACK gives the turn back, and no writer may wait on it."""
    import fcntl

    with file_app.app_context():
        engine = db.engine
        path = f"{engine.url.database}.writers"
    connection = engine.connect()
    connection.exec_driver_sql("INSERT INTO notes VALUES ('then lost')")
    connection.invalidate()
    connection.close()
    with open(path, "a") as other_writer:
        fcntl.flock(other_writer, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held
        fcntl.flock(other_writer, fcntl.LOCK_UN)
    with engine.connect() as again:
        again.exec_driver_sql("INSERT INTO notes VALUES ('next')")
        again.commit()
        assert [row[0] for row in again.exec_driver_sql("SELECT writer FROM notes")] == ["next"]


@pytest.fixture
def sqlite_trace(app):
    """Every statement the sqlite3 driver runs (its BEGINs and COMMITs too), on every connection
    the pool lends while the test runs."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    statements = []

    def lent(dbapi_connection, record, proxy):
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(engine, "checkout", lent)
    yield statements
    event.remove(engine, "checkout", lent)
    engine.dispose()  # no connection keeps the callback


@on_sqlite
def test_a_therapists_read_on_sqlite_writes_its_audit_event_as_a_statement_of_its_own(
    client, patient, therapist, link, sqlite_trace
):
    """No BEGIN IMMEDIATE and no COMMIT: the event's INSERT commits itself, in one call of the
    driver, so the write lock is held only while SQLite writes and syncs it."""
    link(patient, therapist)
    assert client.post("/v1/moods", headers=patient.headers, json={"mood": 5}).status_code == 201
    sqlite_trace.clear()
    assert client.get(f"/v1/patients/{patient.id}/moods", headers=therapist.headers).status_code == 200
    writes = [sql for sql in sqlite_trace if not sql.lstrip().upper().startswith(("SELECT", "PRAGMA"))]
    assert len(writes) == 1 and writes[0].startswith("INSERT INTO audit_events"), sqlite_trace


def audit_event(**changes):
    return {
        "actor_id": uuid.uuid4(),
        "actor_role": "therapist",
        "patient_id": uuid.uuid4(),
        "action": "list",
        "resource_type": "mood",
        "resource_id": None,
        "outcome": "allowed",
        "request_id": uuid.uuid4().hex,
        **changes,
    }


def lone_writes_while_the_turn_is_held(app, events, *, hold_seconds=0.5):
    """Each event written ALONE from a thread of its own while another process holds the
    writer turn: (the threads' outcomes, those that had returned before the turn came back,
    the statements the driver ran)."""
    import fcntl

    from api.audit.service import WRITE_EVENTS
    from api.connections import ALONE

    with app.app_context():
        engine = db.engine
        path = f"{engine.url.database}.writers"
    outcomes, returned_early, trace, held = {}, [], [], threading.Event()

    def write(number, event):
        with engine.connect() as connection:
            connection.connection.dbapi_connection.set_trace_callback(trace.append)
            try:
                connection.execute(WRITE_EVENTS, event, execution_options={ALONE: True})
                outcomes[number] = "written" if committed(path, event) else "returned before its commit"
                connection.commit()
            except Exception as error:
                outcomes[number] = error
            if held.is_set():
                returned_early.append(number)

    with open(path, "a") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        held.set()
        threads = [threading.Thread(target=write, args=pair) for pair in enumerate(events)]
        for thread in threads:
            thread.start()
        time.sleep(hold_seconds)
        held.clear()
        fcntl.flock(other_process, fcntl.LOCK_UN)
    for thread in threads:
        thread.join(10)
    return outcomes, returned_early, trace


def committed(turns_path, event):
    """Whether another connection to the database sees the event's row."""
    import sqlite3

    with sqlite3.connect(turns_path.removesuffix(".writers")) as other:
        found = other.execute("SELECT 1 FROM audit_events WHERE request_id = ?", (event["request_id"],))
        return found.fetchone() is not None


def written_events(app):
    with app.app_context():
        return [row[0] for row in db.session.execute(text("SELECT request_id FROM audit_events"))]


@on_sqlite
def test_lone_writes_that_wait_together_go_out_as_one_insert_and_each_returns_once_written(file_app):
    """Group commit: three reads' events waiting for the writer turn are written by one INSERT
    of three rows, one sync; none of the three returns before that INSERT has committed."""
    events = [audit_event() for _ in range(3)]
    outcomes, returned_early, trace = lone_writes_while_the_turn_is_held(file_app, events)
    assert outcomes == {0: "written", 1: "written", 2: "written"}
    assert returned_early == []
    inserts = [sql for sql in trace if sql.startswith("INSERT")]
    assert len(inserts) == 1 and inserts[0].count("), (") == 2, trace
    assert not any(sql.startswith(("BEGIN", "COMMIT")) for sql in trace), trace
    assert sorted(written_events(file_app)) == sorted(event["request_id"] for event in events)


@on_sqlite
def test_a_row_the_table_refuses_fails_only_its_own_write_in_a_batch(file_app):
    """One row the table refuses (an action outside its CHECK): the batch's INSERT fails, and each
    row is written again by itself, so the others are written and only that write fails, with
    the table's own error; the writes after it go on."""
    from sqlalchemy.exc import IntegrityError

    events = [audit_event(), audit_event(action="not an action"), audit_event()]
    outcomes, _, trace = lone_writes_while_the_turn_is_held(file_app, events)
    assert outcomes[0] == outcomes[2] == "written"
    assert isinstance(outcomes[1], IntegrityError), outcomes
    inserts = [sql for sql in trace if sql.startswith("INSERT")]
    assert [sql.count("), (") for sql in inserts] == [2, 0, 0, 0], trace  # the batch, then each row
    assert sorted(written_events(file_app)) == sorted([events[0]["request_id"], events[2]["request_id"]])

    after = [audit_event(), audit_event()]
    outcomes, _, _ = lone_writes_while_the_turn_is_held(file_app, after, hold_seconds=0.2)
    assert outcomes == {0: "written", 1: "written"}
    assert len(written_events(file_app)) == 4


@on_sqlite
def test_writes_that_come_while_a_batch_is_written_go_out_next_led_by_the_first_of_them(
    file_app, monkeypatch
):
    """The hand-over: the leader's INSERT is held up in the driver; two writes come meanwhile and
    wait; once it is done, the first of them leads the next batch, which carries both."""
    from api import connections
    from api.audit.service import WRITE_EVENTS
    from api.connections import ALONE

    with file_app.app_context():
        engine = db.engine
    writing, go_on, trace, outcomes = threading.Event(), threading.Event(), [], {}
    autocommit = connections._autocommit

    def held_first(cursor, statement, parameters):
        if not writing.is_set():
            writing.set()
            go_on.wait(5)
        autocommit(cursor, statement, parameters)

    monkeypatch.setattr(connections, "_autocommit", held_first)
    events = [audit_event() for _ in range(3)]

    def write(number):
        with engine.connect() as connection:
            connection.connection.dbapi_connection.set_trace_callback(trace.append)
            connection.execute(WRITE_EVENTS, events[number], execution_options={ALONE: True})
            connection.commit()
            outcomes[number] = "written"

    first = threading.Thread(target=write, args=(0,))
    first.start()
    assert writing.wait(5)
    others = [threading.Thread(target=write, args=(number,)) for number in (1, 2)]
    for thread in others:
        thread.start()
    time.sleep(0.3)  # both queued behind the write
    assert outcomes == {}
    go_on.set()
    for thread in [first, *others]:
        thread.join(10)
    assert outcomes == {0: "written", 1: "written", 2: "written"}
    inserts = [sql for sql in trace if sql.startswith("INSERT")]
    assert [sql.count("), (") for sql in inserts] == [0, 1], trace
    assert sorted(written_events(file_app)) == sorted(event["request_id"] for event in events)


@on_sqlite
def test_lone_writes_whose_turn_does_not_come_all_fail_and_the_next_write_goes_out(file_app, monkeypatch):
    """The turn held past the busy timeout: the leader and those waiting on it get "database is
    locked" (503), and nothing is left queued for the next write to wait behind."""
    from sqlalchemy.exc import OperationalError

    from api import connections

    monkeypatch.setattr(connections, "WRITER_TURN_TIMEOUT_SECONDS", 0.2)
    outcomes, _, _ = lone_writes_while_the_turn_is_held(file_app, [audit_event() for _ in range(3)])
    assert sorted(outcomes) == [0, 1, 2]
    assert all(
        isinstance(outcome, OperationalError) and "locked" in str(outcome) for outcome in outcomes.values()
    ), outcomes
    assert written_events(file_app) == []

    monkeypatch.setattr(connections, "WRITER_TURN_TIMEOUT_SECONDS", 5.0)
    event = audit_event()
    outcomes, _, _ = lone_writes_while_the_turn_is_held(file_app, [event], hold_seconds=0.1)
    assert outcomes == {0: "written"} and written_events(file_app) == [event["request_id"]]


def test_therapists_reading_at_once_each_leave_exactly_one_audit_event(app, client, patient, therapist, link):
    """Reads that race (and on SQLite share a batch) each log their own event, once."""
    link(patient, therapist)
    assert client.post("/v1/moods", headers=patient.headers, json={"mood": 5}).status_code == 201
    statuses, request_ids = [], []

    def read():
        response = app.test_client().get(f"/v1/patients/{patient.id}/moods", headers=therapist.headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=read) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 12
    log = client.get("/v1/me/access-log?limit=100", headers=patient.headers)
    assert log.status_code == 200, log.json
    request_ids = [item["request_id"] for item in log.json["items"] if item["action"] == "list"]
    assert len(request_ids) == 12 and len(set(request_ids)) == 12


@on_sqlite
def test_a_writer_turn_file_that_cannot_be_opened_is_a_503_and_writes_nothing(file_app):
    """A folder the server may not write in, or a file of another owner: no write can happen,
    as when the database itself cannot be written, and reads go on."""
    client = file_app.test_client()
    body = {"email": "folder@example.org", "password": "a long passphrase 42", "display_name": "F"}
    with file_app.app_context():
        path = f"{db.engine.url.database}.writers"
        db.engine.dispose()  # no pooled connection holds the file open
    Path(path).unlink(missing_ok=True)
    os.mkdir(path)  # what open(path, "a") cannot open, whoever runs the test (root too)
    try:
        refused = client.post("/v1/auth/register", json={**body, "role": "patient"})
        assert_problem(refused, 503, "service-unavailable")
        assert "Retry-After" in refused.headers
        assert client.get("/health/ready").status_code == 200
    finally:
        os.rmdir(path)
    with file_app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
    assert client.post("/v1/auth/register", json={**body, "role": "patient"}).status_code == 201


@on_sqlite
def test_a_write_that_waits_on_its_leader_too_long_gives_up_its_place_and_is_not_written(
    file_app, monkeypatch
):
    """A follower's wait is bounded: past it, a write still queued leaves the queue with "database
    is locked" (503) and its row is never written; the leader's own write goes on."""
    from sqlalchemy.exc import OperationalError

    from api import connections

    monkeypatch.setattr(connections, "FOLLOWER_TIMEOUT_SECONDS", 0.2)
    events = [audit_event() for _ in range(3)]
    outcomes, _, _ = lone_writes_while_the_turn_is_held(file_app, events, hold_seconds=0.8)
    written = [number for number, outcome in outcomes.items() if outcome == "written"]
    refused = [number for number, outcome in outcomes.items() if isinstance(outcome, OperationalError)]
    assert len(written) == 1 and len(refused) == 2, outcomes
    assert written_events(file_app) == [events[written[0]]["request_id"]]
