"""Health text never reaches a log: not through SQL parameters, exception messages, bodies,
query strings, tokens or passwords, whatever fails. Logs carry exception types, request ids and
route templates (API.md §1; STYLE.md "Bad input stops at the door")."""

import logging
import threading
import urllib.request

import pytest
from sqlalchemy import event
from werkzeug.serving import make_server

from api.extensions import db
from tests.helpers import PASSWORD

MARKER = "Zq7MARKERx"

# A marker in every free-text field of every resource (and the fields beside them).
BODIES = {
    "/v1/sessions": {
        "started_at": "2026-03-01T09:00:00Z",
        "provider": MARKER,
        "intention": MARKER,
        "notes": MARKER,
    },
    "/v1/entries": {"body": MARKER, "title": MARKER, "tags": [MARKER]},
    "/v1/moods": {"mood": 5, "note": MARKER},
    "/v1/contacts": {
        "name": MARKER,
        "relationship": "friend",
        "phone": "+1 555 0100",
        "email": f"{MARKER}@example.org",
        "notes": MARKER,
    },
    "/v1/practices": {"practice": "yoga", "performed_at": "2026-03-02T07:00:00Z", "notes": MARKER},
}


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


# The tables the requests below write their text into.
TEXT_TABLES = {"sessions", "entries", "moods", "contacts", "practices", "users"}


@pytest.fixture
def failing_writes(app):
    """Make every write of a record's own row fail with `error(statement, parameters)`, and
    keep the parameters each refused statement carried (to prove the marker was in them)."""
    installed, refused = [], []

    def install(error):
        def fail(conn, cursor, statement, parameters, context, executemany):
            words = statement.split()
            table = words[2] if words[0] == "INSERT" else words[1] if words[0] == "UPDATE" else None
            if table in TEXT_TABLES:
                refused.append(repr(parameters))
                raise error(statement, parameters)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", fail)
        installed.append((engine, fail))

    install.refused = refused
    yield install
    for engine, fail in installed:
        event.remove(engine, "before_cursor_execute", fail)


def driver_error(name):
    """The database driver's own exception class, raised as the driver would, carrying the data."""

    def make(statement, parameters):
        dbapi = db.engine.dialect.loaded_dbapi
        return getattr(dbapi, name)(f"failed on {parameters!r}")

    return make


def assert_clean(text, *secrets):
    for secret in (MARKER, *secrets):
        assert secret not in text, f"{secret!r} reached the log:\n{text}"


@pytest.mark.parametrize(
    "error, status",
    [
        (
            driver_error("DataError"),
            500,
        ),  # a value the database refuses: its message and the SQL parameters hold the data
        (driver_error("OperationalError"), 503),  # the database gone
        (driver_error("IntegrityError"), 409),  # a constraint
        (
            lambda statement, parameters: ValueError(f"cannot store {parameters!r}"),
            500,
        ),  # a bug quoting the data
    ],
)
def test_a_failed_write_logs_what_failed_and_where_never_the_data(
    app, client, patient, logs, failing_writes, error, status
):
    failing_writes(error)
    for path, body in BODIES.items():
        response = client.post(
            f"{path}?tag={MARKER}",
            headers={**patient.headers, "X-Request-ID": "support-ticket-42"},
            json=body,
        )
        assert response.status_code == status, (path, response.json)
        assert MARKER not in response.get_data(as_text=True)
    response = client.patch(
        "/v1/me", headers={**patient.headers, "If-Match": '"1"'}, json={"display_name": MARKER}
    )
    assert response.status_code == status
    # each refused statement carried the text (the journal's own encrypted, api/encryption.py), so
    # a log of its parameters or message would show it
    assert len(failing_writes.refused) == len(BODIES) + 1
    ciphertext = f"v1:{app.extensions['data_encryption'].newest.key_id}:"
    assert all(MARKER in parameters or ciphertext in parameters for parameters in failing_writes.refused)
    assert_clean(logs.text, patient.access_token, PASSWORD, ciphertext)
    if status != 409:
        # what an operator needs to find it: the kind of failure, the route, and the request ids
        assert "/v1/moods" in logs.text and "support-ticket-42" in logs.text
        with app.app_context():
            assert type(error(None, None)).__name__ in logs.text


def test_refused_input_and_sign_ins_log_no_text_passwords_or_tokens(client, patient, logs):
    client.post("/v1/auth/login", json={"email": patient.email, "password": MARKER})
    client.post("/v1/auth/login", json={"email": f"{MARKER}@example.org", "password": PASSWORD})
    client.post(
        "/v1/auth/register",
        json={"email": f"{MARKER}@x.org", "password": MARKER, "display_name": MARKER, "role": "x"},
    )
    client.post("/v1/moods", headers=patient.headers, json={"mood": 99, "note": MARKER, MARKER: 1})
    client.post(
        "/v1/moods",
        headers=patient.headers,
        data='{"note": "' + MARKER + '", ',
        content_type="application/json",
    )
    client.post("/v1/entries", headers=patient.headers, json={"body": MARKER + "\x00"})
    client.get(f"/v1/entries?tag={MARKER}&emotion={MARKER}", headers=patient.headers)
    client.get(f"/v1/moods?cursor={MARKER}", headers=patient.headers)
    client.post("/v1/auth/refresh", headers={"Authorization": f"Bearer {patient.refresh_token}"})
    client.post("/v1/auth/refresh", headers={"Authorization": f"Bearer {MARKER}"})
    assert_clean(logs.text, patient.access_token, patient.refresh_token, PASSWORD)


def test_the_development_server_logs_requests_without_query_strings(app, patient, logs):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.port}/v1/entries?tag={MARKER}&limit=5"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {patient.access_token}"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
    finally:
        server.shutdown()
    assert '"GET /v1/entries HTTP/1.1" 200' in logs.text
    assert_clean(logs.text, patient.access_token, "limit=5")
