"""Connection pools and server-side timeouts: a slow or blocked query cannot hold a worker.

On PostgreSQL every connection the app opens carries DB_STATEMENT_TIMEOUT_MS and
DB_LOCK_TIMEOUT_MS; a request that passes one, or that finds every pooled connection in use for
DB_POOL_TIMEOUT seconds, is answered 503 problem+json with Retry-After, never a 500 and never a
wait without end.
"""

import os
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from api.app import create_app
from api.extensions import db
from config import engine_options
from tests.helpers import assert_problem

on_postgresql = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
    reason="PostgreSQL's own timeouts: runs in the PostgreSQL pass (TEST_DATABASE_URL=postgresql+psycopg://...)",
)

SETTINGS = {
    "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
    "DB_POOL_SIZE": 3,
    "DB_MAX_OVERFLOW": 1,
    "DB_POOL_TIMEOUT": 2.5,
    "DB_POOL_RECYCLE": 600,
    "DB_CONNECT_TIMEOUT": 4,
    "DB_STATEMENT_TIMEOUT_MS": 7000,
    "DB_LOCK_TIMEOUT_MS": 3000,
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": 0,
}


def test_postgresql_gets_a_sized_pool_and_timeouts_on_every_connection():
    options = engine_options({**SETTINGS, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/journal"})
    assert options == {
        "hide_parameters": True,
        "isolation_level": "AUTOCOMMIT",
        "pool_size": 3,
        "max_overflow": 1,
        "pool_timeout": 2.5,
        "pool_recycle": 600,
        "connect_args": {
            "connect_timeout": 4,
            "options": "-c statement_timeout=7000 -c lock_timeout=3000",
        },
    }


def test_timeouts_of_0_are_left_to_the_server_and_none_sends_no_startup_options():
    """Behind a PgBouncer in transaction mode, which refuses startup options, the timeouts are
    set on the database role instead (README, "Running it in production")."""
    zeros = {"DB_STATEMENT_TIMEOUT_MS": 0, "DB_LOCK_TIMEOUT_MS": 0}
    options = engine_options(
        {**SETTINGS, **zeros, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/journal"}
    )
    assert options["connect_args"] == {"connect_timeout": 4}


def test_sqlite_keeps_its_defaults():
    options = engine_options({**SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite:////tmp/journal.db"})
    assert options == {"hide_parameters": True}


def app_with(config_class, **settings):
    return create_app(type("Timeouts", (config_class,), settings))


@on_postgresql
def test_the_timeouts_reach_the_server(config_class):
    app = app_with(config_class, DB_STATEMENT_TIMEOUT_MS=4321, DB_LOCK_TIMEOUT_MS=1234)
    with app.app_context():
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == "4321ms"
        assert db.session.execute(text("SHOW lock_timeout")).scalar() == "1234ms"
        db.session.remove()
        db.engine.dispose()


class RowLock:
    """Another connection holds the rows a request needs, as a long transaction elsewhere would."""

    def __init__(self, url, statement):
        self.engine = create_engine(url)
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        self.connection.execute(text(statement))

    def release(self):
        if self.connection.closed:
            return
        self.transaction.rollback()
        self.connection.close()
        self.engine.dispose()


@pytest.fixture
def locked_token_families(config_class):
    lock = RowLock(config_class.SQLALCHEMY_DATABASE_URI, "SELECT id FROM token_families FOR UPDATE")
    yield lock
    lock.release()


@on_postgresql
@pytest.mark.parametrize(
    "timeouts",
    [
        {"DB_STATEMENT_TIMEOUT_MS": 300, "DB_LOCK_TIMEOUT_MS": 0},  # the statement timeout stops it
        {"DB_STATEMENT_TIMEOUT_MS": 10000, "DB_LOCK_TIMEOUT_MS": 300},  # the lock timeout does
    ],
)
def test_a_request_blocked_by_a_lock_is_answered_503_in_time(config_class, patient, timeouts, request):
    app = app_with(config_class, **timeouts)
    client = app.test_client()
    lock = request.getfixturevalue("locked_token_families")
    started = time.monotonic()
    # logging out updates the token family another transaction holds
    response = client.post("/v1/auth/logout", headers=patient.headers)
    elapsed = time.monotonic() - started
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["Retry-After"] == "2"
    assert elapsed < 3, elapsed
    # nothing was written; once the other transaction ends the same request goes through
    assert client.get("/v1/me", headers=patient.headers).status_code == 200
    lock.release()
    assert client.post("/v1/auth/logout", headers=patient.headers).status_code == 204
    with app.app_context():
        db.engine.dispose()


@on_postgresql
def test_a_request_finding_every_connection_in_use_is_answered_503(config_class, patient):
    app = app_with(config_class, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=0.3)
    client = app.test_client()
    with app.app_context():
        held = db.engine.connect()  # the pool's only connection, busy elsewhere
        try:
            started = time.monotonic()
            response = client.get("/v1/me", headers=patient.headers)
            assert time.monotonic() - started < 2
        finally:
            held.close()
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["Retry-After"] == "2"
    # the connection back in the pool, requests are served again
    assert client.get("/v1/me", headers=patient.headers).status_code == 200
    with app.app_context():
        db.engine.dispose()


@on_postgresql
def test_concurrent_requests_beyond_the_pool_wait_their_turn(config_class, patient):
    """A pool smaller than the concurrency is not an error while connections come back in time."""
    app = app_with(config_class, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0, DB_POOL_TIMEOUT=10)
    statuses = []

    def reader():
        statuses.append(app.test_client().get("/v1/me", headers=patient.headers).status_code)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    with app.app_context():
        db.engine.dispose()
