"""Helpers shared by the tests."""

import threading
from contextlib import contextmanager
from pathlib import PurePosixPath

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from api.extensions import db

PASSWORD = "correct horse battery staple"


TEST_DATABASE_RULE = (
    "a test database's name is `test`, starts with `test_` or ends with `_test` "
    "(e.g. test, test_helper, journal_test; lower case, as PostgreSQL stores unquoted names)"
)


def database_name_of(url):
    """The name the test-database rule looks at: the URL's database part (for a SQLite file, the
    file's name without its extension); None when the URL names no database or cannot be read."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.database:
        return None
    if parsed.get_backend_name() == "sqlite":
        return PurePosixPath(parsed.database).stem
    return parsed.database


def is_test_database(url):
    """True only when the URL names a database whose name follows TEST_DATABASE_RULE.

    The suite drops and recreates the `public` schema of TEST_DATABASE_URL, so it must never run
    against a database that may hold anything else: `journal`, `postgres`, a URL with no
    database name (the server would pick one), `testing`, `contest` or `test-1` are all refused.
    """
    name = database_name_of(url)
    return name is not None and (name == "test" or name.startswith("test_") or name.endswith("_test"))


def not_a_test_database_message(url):
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "an unreadable URL"
    return (
        f"Refusing to DROP SCHEMA public CASCADE on TEST_DATABASE_URL={shown} (database "
        f"{database_name_of(url)!r}): it does not look like a test database; {TEST_DATABASE_RULE}. "
        "Create one, e.g. psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE test_mine', and point "
        "TEST_DATABASE_URL at it."
    )


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


PROBLEM_TYPE_BASE = "https://integration-journal.org/problems/"


def assert_problem(response, status, type_suffix=None):
    """Every error is problem+json with type/title/status/detail: exactly `status` (so a 500, or any
    other code, fails), the problem media type, the same status in the body, and a `type` that is
    one of the API's problem URIs (ending in `/type_suffix` when one is given)."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    shown = response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json", (response.mimetype, shown)
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"].startswith(PROBLEM_TYPE_BASE), body["type"]
    assert body["type"] != PROBLEM_TYPE_BASE, body["type"]
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    if type_suffix:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body


@contextmanager
def meanwhile(app, when, then, *, at="before_cursor_execute", patience=None):
    """Within the block, the first time this thread sends a statement for which `when(statement)`
    holds, run `then()` in another thread (its own request, its own connection): before that
    statement goes out, or just after it with at="after_cursor_execute".

    By default this request waits for `then` to end. With `patience` (seconds), it goes on after
    that long: a `then` that must wait for a lock this request holds then finishes after it, one
    that need not finishes first. The block's value lists the thread; it is joined at the end."""
    this_thread, started = threading.get_ident(), []

    def hook(conn, cursor, statement, *rest):
        if threading.get_ident() == this_thread and not started and when(statement):
            other = threading.Thread(target=then)
            started.append(other)
            other.start()
            other.join(timeout=patience)

    with app.app_context():
        engine = db.engine
    event.listen(engine, at, hook)
    try:
        yield started
    finally:
        event.remove(engine, at, hook)
        for other in started:
            other.join(timeout=30)


def link_to(client, patient, therapist):
    """The patient's active link to this therapist, as GET /v1/care-team shows it."""
    (link,) = [
        item
        for item in client.get("/v1/care-team?limit=100", headers=patient.headers).json["items"]
        if item["therapist"]["id"] == therapist.id
    ]
    return link


def revoke(client, patient, link):
    """The patient revokes the link (its current version in If-Match); the response."""
    return client.delete(
        f"/v1/care-team/{link['id']}", headers={**patient.headers, "If-Match": f'"{link["version"]}"'}
    )


def rescope(client, patient, link, scopes):
    """The patient changes the link's scopes (its current version in If-Match); the response."""
    return client.patch(
        f"/v1/care-team/{link['id']}",
        headers={**patient.headers, "If-Match": f'"{link["version"]}"'},
        json={"scopes": list(scopes)},
    )
