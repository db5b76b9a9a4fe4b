"""What a create costs the database: the statements it sends, pinned so they cannot creep back,
and, on SQLite, a write transaction that takes the write lock with its first statement."""

import threading
import time
import uuid

import pytest
from sqlalchemy import event

from api.extensions import db
from tests.helpers import assert_problem

BODIES = {
    "/v1/moods": {"mood": 6, "note": "quiet morning", "emotions": ["calm"]},
    "/v1/entries": {"body": "the circle helped", "kind": "insight", "tags": ["circle"]},
}


def statements_sent(app, run):
    """Every statement `run` sends from this thread, as sent."""
    sent, this_thread = [], threading.get_ident()

    def note(conn, cursor, statement, *rest):
        if threading.get_ident() == this_thread:
            sent.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        result = run()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return result, sent


@pytest.mark.parametrize("path", list(BODIES))
def test_a_create_is_four_statements(app, client, patient, path):
    """The token check (which loads the user), the sync clock's UPDATE ... RETURNING, the INSERT
    and the look for an open follow-up whose window holds the record: no SELECT of the id before
    it, no read of the record after it."""
    response, sent = statements_sent(
        app, lambda: client.post(path, headers=patient.headers, json=BODIES[path])
    )
    assert response.status_code == 201, response.json
    table = path.rsplit("/", 1)[1]
    assert len(sent) == 4, sent
    assert sent[0].startswith("SELECT users.id")
    assert sent[1].startswith("UPDATE sync_clocks") and "RETURNING" in sent[1]
    assert sent[2].startswith(f"INSERT INTO {table} ")
    assert sent[3].startswith("SELECT follow_ups.") and "LIMIT" in sent[3]


@pytest.mark.parametrize("path", list(BODIES))
def test_a_keyed_create_looks_for_its_answer_once(app, client, patient, path):
    """With an Idempotency-Key: the hold (PostgreSQL's advisory lock), one look for an answer,
    the create and its look for a follow-up, clearing the caller's expired answers and storing
    this one."""
    headers = {**patient.headers, "Idempotency-Key": uuid.uuid4().hex}
    response, sent = statements_sent(app, lambda: client.post(path, headers=headers, json=BODIES[path]))
    assert response.status_code == 201, response.json
    looks = [statement for statement in sent if statement.startswith("SELECT idempotency_keys")]
    assert len(looks) == 1, sent
    with app.app_context():
        advisory = 1 if db.engine.dialect.name == "postgresql" else 0
    assert len(sent) == 7 + advisory, sent

    replayed = client.post(path, headers=headers, json=BODIES[path])
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == response.json


def test_a_taken_id_is_refused_by_the_insert(app, client, make_account):
    """A client-chosen id someone else took (and deleted) is the same 409 as ever, answered by
    the primary key: the INSERT is the only statement that touches the table."""
    other, patient = make_account(), make_account()
    taken = client.post("/v1/moods", headers=other.headers, json={"mood": 3}).json
    deleted = client.delete(f"/v1/moods/{taken['id']}", headers={**other.headers, "If-Match": '"1"'})
    assert deleted.status_code == 204
    response, sent = statements_sent(
        app, lambda: client.post("/v1/moods", headers=patient.headers, json={"mood": 4, "id": taken["id"]})
    )
    assert_problem(response, 409, "conflict")
    assert [statement for statement in sent if " moods" in statement and "INSERT" not in statement] == []
    assert client.get("/v1/moods", headers=patient.headers).json["items"] == []


def test_sqlite_write_transactions_begin_immediate(app, client, patient):
    """The write lock is taken by BEGIN IMMEDIATE right before the first write, and not before:
    the token check runs outside the transaction."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own transactions: runs in the SQLite pass")
    traced, connections = [], set()

    def trace(conn, cursor, statement, *rest):
        connections.add(cursor.connection)
        cursor.connection.set_trace_callback(traced.append)

    event.listen(engine, "before_cursor_execute", trace)
    try:
        response = client.post("/v1/moods", headers=patient.headers, json={"mood": 5})
    finally:
        event.remove(engine, "before_cursor_execute", trace)
        for connection in connections:
            connection.set_trace_callback(None)
    assert response.status_code == 201
    begins = [index for index, statement in enumerate(traced) if statement.startswith("BEGIN")]
    assert len(begins) == 1 and traced[begins[0]] == "BEGIN IMMEDIATE", traced
    assert traced[begins[0] + 1].startswith("UPDATE sync_clocks"), traced
    assert traced[begins[0] - 1].startswith("SELECT users.id"), traced


def test_a_sqlite_writer_is_not_held_up_by_a_connection_kept_after_its_commit(config_class, tmp_path):
    """A streamed export commits its audit event, then keeps its connection while the client
    reads: no writer waits for that connection to be returned."""
    if not config_class.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        pytest.skip("SQLite's writers only")
    from api.app import create_app

    app = create_app(
        type("File", (config_class,), {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'w.db'}"})
    )
    with app.app_context():
        with db.engine.connect() as setup:
            setup.exec_driver_sql("CREATE TABLE notes (n INTEGER)")
            setup.commit()
        kept = db.engine.connect()
        kept.exec_driver_sql("INSERT INTO notes VALUES (1)")
        kept.commit()  # and the connection stays out of the pool, as a stream's would
        took, engine = [], db.engine

        def other_writer():
            started = time.monotonic()
            with engine.connect() as connection:
                connection.exec_driver_sql("INSERT INTO notes VALUES (2)")
                connection.commit()
            took.append(time.monotonic() - started)

        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(10)
        kept.close()
        db.engine.dispose()
    assert took and took[0] < 1, took
