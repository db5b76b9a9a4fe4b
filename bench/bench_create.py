"""What one authenticated create costs, in process: the SQL statements a create of a mood and of
an entry sends (each printed), the time per create one after another, and the latency under
concurrent writers (threads, each with its own test client and connection).

    .venv/bin/python bench/bench_create.py                      # a temporary SQLite file
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test_write \\
        .venv/bin/python bench/bench_create.py                  # drops and recreates its schema

Options (environment): BENCH_CREATES (per kind, one after another; 500), BENCH_THREADS (16) and
BENCH_CONCURRENT (creates per thread; 50). Like the test suite, it refuses a PostgreSQL database
whose name does not look like a test database (test, test_*, *_test): it drops its schema.
"""

import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402

from api.app import create_app  # noqa: E402
from api.extensions import db  # noqa: E402
from config import TestingConfig, database_url  # noqa: E402
from tests.helpers import is_test_database, not_a_test_database_message  # noqa: E402

PASSWORD = "correct horse battery staple"
BODIES = {
    "moods": {"mood": 6, "energy": 5, "emotions": ["calm"], "note": "A quieter morning after the session."},
    "entries": {
        "body": "The integration circle helped; I noticed the old fear and let it pass.",
        "kind": "insight",
        "tags": ["circle"],
        "emotions": ["hopeful"],
    },
}


def bench_database_url():
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        return f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-create-')) / 'journal.db'}"
    url = database_url(url)
    if not is_test_database(url):
        sys.exit(not_a_test_database_message(url))
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def make_app(url):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        RATELIMIT_DEFAULT = "10000000 per minute"
        LOG_LEVEL = "WARNING"

    app = create_app(Config)
    with app.app_context():
        flask_migrate.upgrade()
    return app


def sign_in(client):
    email = f"bench-{uuid.uuid4().hex[:10]}@example.org"
    body = {"email": email, "password": PASSWORD, "display_name": "Bench", "role": "patient"}
    assert client.post("/v1/auth/register", json=body).status_code == 201
    tokens = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def statements_of(app, run):
    """The statements `run` sends on this thread (SQL text, first line)."""
    sent, this_thread = [], threading.get_ident()

    def count(conn, cursor, statement, *rest):
        if threading.get_ident() == this_thread:
            sent.append(" ".join(statement.split())[:110])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return sent


def create(client, headers, path, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    response = client.post(f"/v1/{path}", headers={**headers, **extra}, json=BODIES[path])
    assert response.status_code == 201, (response.status_code, response.get_data(as_text=True))
    return response


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main():
    url = bench_database_url()
    app = make_app(url)
    print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split('://')[0]}")
    creates = int(os.environ.get("BENCH_CREATES", 500))
    threads = int(os.environ.get("BENCH_THREADS", 16))
    per_thread = int(os.environ.get("BENCH_CONCURRENT", 50))
    client = app.test_client()
    headers = sign_in(client)

    for path in BODIES:
        create(client, headers, path)  # warm up
        for keyed in (False, True):
            key = uuid.uuid4().hex if keyed else None
            sent = statements_of(app, lambda: create(client, headers, path, key))  # noqa: B023
            print(f"\nPOST /v1/{path}{' with Idempotency-Key' if keyed else ''}: {len(sent)} statements")
            for statement in sent:
                print(f"  {statement}")

    print()
    for path in BODIES:
        timings = []
        for _ in range(creates):
            started = time.perf_counter()
            create(client, headers, path)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"POST /v1/{path} x{creates}, one after another: mean {statistics.mean(timings):.2f} ms, "
            f"p50 {percentile(timings, 0.5):.2f} ms, p99 {percentile(timings, 0.99):.2f} ms, "
            f"{1000 / statistics.mean(timings):.0f} creates/s"
        )

    for path in BODIES:
        timings, failures = [], []
        lock = threading.Lock()
        accounts = [sign_in(app.test_client()) for _ in range(threads)]

        def writer(account):
            own = app.test_client()
            mine = []
            for _ in range(per_thread):
                started = time.perf_counter()
                try:
                    create(own, account, path)  # noqa: B023
                except AssertionError as failure:
                    failures.append(str(failure)[:200])  # noqa: B023
                mine.append((time.perf_counter() - started) * 1000)
            with lock:  # noqa: B023
                timings.extend(mine)  # noqa: B023

        started = time.perf_counter()
        workers = [threading.Thread(target=writer, args=(account,)) for account in accounts]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        print(
            f"POST /v1/{path}, {threads} threads x{per_thread}: {len(timings) / elapsed:.0f} creates/s, "
            f"p50 {percentile(timings, 0.5):.1f} ms, p99 {percentile(timings, 0.99):.1f} ms, "
            f"max {max(timings):.1f} ms, {len(failures)} failed"
        )
        for failure in failures[:3]:
            print(f"  {failure}")


if __name__ == "__main__":
    main()
