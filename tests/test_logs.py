"""Health text never reaches a log: not through SQL parameters, exception messages, bodies,
query strings, tokens or passwords, whatever fails. Logs carry exception types, request ids and
route templates (API.md §1; STYLE.md "Bad input stops at the door")."""

import io
import json
import logging
import os
import re
import threading
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from werkzeug.serving import make_server

from api.extensions import db
from api.logs import JsonFormatter
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


class Markers:
    """A distinct marker per field a client can send, all sharing one prefix to grep for."""

    PREFIX = "Zq7plant"

    def __init__(self):
        self.planted = []

    def __call__(self, field):
        marker = f"{self.PREFIX}{field}x"
        self.planted.append(marker)
        return marker


@dataclass
class Caller:
    id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def every_log(caplog):
    """Every logger at DEBUG (SQLAlchemy's engine, which logs statements and rows, included), and
    the same records as the production handler writes them (api.logs.JsonFormatter)."""
    for name in (None, "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "werkzeug", "flask_limiter"):
        caplog.set_level(logging.DEBUG, logger=name)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    yield caplog, stream
    logging.getLogger().removeHandler(handler)


def test_planted_markers_in_every_field_reach_no_log_while_each_request_has_its_line(
    app, client, make_account, invite, every_log, failing_writes, monkeypatch
):
    caplog, stream = every_log
    mark = Markers()
    browser = {"User-Agent": mark("useragent"), "Cookie": f"session={mark('cookie')}"}
    sent = []  # (method, route template, status, user id) of every request, in order

    def send(method, path, route, status, *, account=None, headers=None, **kwargs):
        all_headers = {**browser, **(account.headers if account else {}), **(headers or {})}
        response = client.open(path, method=method, headers=all_headers, **kwargs)
        response.get_data()
        response.close()  # a streamed response (the export) ends, and logs its line, here
        assert response.status_code == status, (method, path, response.get_data(as_text=True)[:300])
        # the user is known once the token is verified: not on a 401, nor on a path no route takes
        verified = account is not None and route is not None and status != 401
        sent.append((method, route, status, account.id if verified else None))
        return response

    # accounts: e-mail, password and display name, on success and on failure
    email, password = f"{mark('email')}@example.org", f"pass {mark('password')}"
    register = {"email": email, "password": password, "display_name": mark("name"), "role": "patient"}
    registered = send("POST", "/v1/auth/register", "/v1/auth/register", 201, json=register).json
    send("POST", "/v1/auth/register", "/v1/auth/register", 409, json=register)
    send("POST", "/v1/auth/register", "/v1/auth/register", 422, json={**register, "role": mark("role")})
    tokens = send(
        "POST", "/v1/auth/login", "/v1/auth/login", 200, json={"email": email, "password": password}
    )
    patient = Caller(registered["id"], tokens.json["access_token"], tokens.json["refresh_token"])
    therapist = make_account("therapist")
    sent += [("POST", "/v1/auth/register", 201, None), ("POST", "/v1/auth/login", 200, None)]
    send("POST", "/v1/auth/login", "/v1/auth/login", 401, json={"email": email, "password": mark("wrongpw")})
    send(
        "PATCH",
        "/v1/me",
        "/v1/me",
        200,
        account=patient,
        headers={"If-Match": '"1"'},
        json={"display_name": mark("newname")},
    )

    # journal text of every kind, with an Idempotency-Key, a client-chosen id and a bad X-Request-ID
    bodies = {
        "/v1/sessions": {
            "started_at": "2026-03-01T09:00:00Z",
            "provider": mark("provider"),
            "intention": mark("intention"),
            "notes": mark("sessionnotes"),
        },
        "/v1/entries": {"title": mark("title"), "body": mark("body"), "tags": [mark("tag")]},
        "/v1/moods": {"mood": 5, "note": mark("moodnote")},
        "/v1/contacts": {
            "name": mark("contactname"),
            "relationship": "friend",
            "phone": "+1 555 0100",
            "email": f"{mark('contactemail')}@example.org",
            "notes": mark("contactnotes"),
        },
        "/v1/practices": {
            "practice": "yoga",
            "performed_at": "2026-03-02T07:00:00Z",
            "notes": mark("practicenotes"),
        },
    }
    created = {}
    for path, body in bodies.items():
        headers = {"Idempotency-Key": mark(f"key{path[4:]}"), "X-Request-ID": f"not valid {mark('xrid')}"}
        created[path] = send("POST", path, path, 201, account=patient, headers=headers, json=body).json
    answers = [3, 3, 3, 3, 3, 3, 3, 0, 1]  # PHQ-9 with item 9 above 0: a safety event
    send(
        "POST",
        "/v1/assessments",
        "/v1/assessments",
        201,
        account=patient,
        json={"instrument": "phq9", "answers": answers},
    )

    # filters, cursors and ids in query strings and paths; If-Match; refused bodies
    send("GET", f"/v1/entries?tag={mark('qtag')}&emotion=calm", "/v1/entries", 200, account=patient)
    send("GET", f"/v1/entries?emotion={mark('qemotion')}", "/v1/entries", 422, account=patient)
    send("GET", f"/v1/moods?cursor={mark('cursor')}", "/v1/moods", 422, account=patient)
    send("GET", f"/v1/sync?since={mark('since')}", "/v1/sync", 422, account=patient)
    send("GET", f"/v1/entries/{mark('pathid')}", None, 404, account=patient)
    send("GET", f"/v1/{mark('pathsegment')}/x", None, 404, account=patient)
    entry = created["/v1/entries"]
    item = f"/v1/entries/{entry['id']}"
    send("GET", item, "/v1/entries/<uuid:entry_id>", 200, account=patient)
    send("GET", f"/v1/entries/{uuid.uuid4()}", "/v1/entries/<uuid:entry_id>", 404, account=patient)
    send(
        "PATCH",
        item,
        "/v1/entries/<uuid:entry_id>",
        412,
        account=patient,
        headers={"If-Match": '"9"'},
        json={"body": mark("stalebody")},
    )
    send(
        "PATCH",
        item,
        "/v1/entries/<uuid:entry_id>",
        422,
        account=patient,
        headers={"If-Match": mark("ifmatch")},
        json={"body": mark("badetagbody")},
    )
    send(
        "PATCH",
        item,
        "/v1/entries/<uuid:entry_id>",
        200,
        account=patient,
        headers={"If-Match": '"1"'},
        json={"body": mark("newbody")},
    )
    send("POST", "/v1/moods", "/v1/moods", 422, account=patient, json={"mood": 99, "note": mark("badmood")})
    send(
        "POST",
        "/v1/entries",
        "/v1/entries",
        413,
        account=patient,
        json={"body": mark("hugebody") + "x" * app.config["MAX_CONTENT_LENGTH"]},
    )

    # tokens: a made-up bearer, a refresh token used and replayed, a password change
    send("GET", "/v1/me", "/v1/me", 401, headers={"Authorization": f"Bearer {mark('bearer')}"})
    refresh = {"Authorization": f"Bearer {patient.refresh_token}"}
    send("POST", "/v1/auth/refresh", "/v1/auth/refresh", 200, headers=refresh)
    sent[-1] = (*sent[-1][:3], patient.id)
    change = {"current_password": mark("currentpw"), "new_password": f"new {mark('newpw')}"}
    send("POST", "/v1/me/password", "/v1/me/password", 403, account=patient, json=change)
    change = {"current_password": password, "new_password": f"new {mark('newpw2')}"}
    send("POST", "/v1/me/password", "/v1/me/password", 204, account=patient, json=change)
    fresh = client.post("/v1/auth/login", json={"email": email, "password": change["new_password"]}).json
    sent.append(("POST", "/v1/auth/login", 200, None))
    patient.access_token = fresh["access_token"]

    # the care team: an invitation code (used, and made up), a therapist's reads and a note
    code = invite(therapist)["code"]
    sent.append(("POST", "/v1/invitations", 201, therapist.id))
    send(
        "POST",
        "/v1/care-team",
        "/v1/care-team",
        422,
        account=patient,
        json={"code": mark("code").upper()[:15], "scopes": ["entries"]},
    )
    send(
        "POST",
        "/v1/care-team",
        "/v1/care-team",
        201,
        account=patient,
        json={"code": code, "scopes": ["entries", "moods", "assessments", "practices", "sessions"]},
    )
    patients = f"/v1/patients/{patient.id}"
    send("GET", f"{patients}/moods", "/v1/patients/<uuid:patient_id>/moods", 200, account=therapist)
    event_id = send("GET", "/v1/safety-events", "/v1/safety-events", 200, account=therapist).json["items"][0][
        "id"
    ]
    send(
        "POST",
        f"/v1/safety-events/{event_id}/acknowledgement",
        "/v1/safety-events/<uuid:event_id>/acknowledgement",
        201,
        account=therapist,
        json={"note": mark("acknote")},
    )
    send("GET", "/v1/me/export", "/v1/me/export", 200, account=patient)

    # too many failed sign-ins for one address (one failed above): 429
    for _ in range(4):
        send(
            "POST", "/v1/auth/login", "/v1/auth/login", 401, json={"email": email, "password": mark("guess")}
        )
    send("POST", "/v1/auth/login", "/v1/auth/login", 429, json={"email": email, "password": mark("guess")})

    # a bug whose exception message quotes the data: 500
    def broken(*, user, changes):
        raise RuntimeError(f"cannot save {changes!r} for {user.email}")

    monkeypatch.setattr("api.accounts.service.update_profile", broken)
    etag = send("GET", "/v1/me", "/v1/me", 200, account=patient).headers["ETag"]
    send(
        "PATCH",
        "/v1/me",
        "/v1/me",
        500,
        account=patient,
        headers={"If-Match": etag},
        json={"display_name": mark("crashname")},
    )
    # a database error quoting the row it refused: 409
    failing_writes(driver_error("IntegrityError"))
    send(
        "POST", "/v1/moods", "/v1/moods", 409, account=patient, json={"mood": 4, "note": mark("refusednote")}
    )

    output = stream.getvalue()
    everything = caplog.text + output
    assert "Row (" not in everything  # the engine's row lines are dropped, statements kept
    assert "INSERT INTO entries" in everything  # (so the engine's DEBUG output was captured)
    secrets = [Markers.PREFIX, code, password, change["new_password"], tokens.json["refresh_token"]]
    secrets += [tokens.json["access_token"], fresh["access_token"], fresh["refresh_token"]]
    for secret in secrets:
        at = everything.find(secret)
        assert at < 0, f"{secret!r} reached the log: ...{everything[max(at - 300, 0) : at + 100]}..."

    # every line the production handler wrote is one JSON object; one request line per request
    lines = [json.loads(line) for line in output.splitlines()]
    requests = [line for line in lines if line["event"] == "request"]
    got = [(line["method"], line["route"], line["status"]) for line in requests]
    assert got == [(method, route, status) for method, route, status, _ in sent]
    expected_users = [user for *_, user in sent]
    assert [line["user_id"] for line in requests] == expected_users
    for line in requests:
        assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"]) and line["client_request_id"] is None
        assert line["duration_ms"] >= 0 and line["instance"] and line["level"] == "info"
        assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    (error,) = [line for line in lines if line["event"] == "error"]
    assert error["exception"] == "builtins.RuntimeError" and error["route"] == "/v1/me"
    (crashed,) = [line for line in requests if line["status"] == 500]
    assert error["request_id"] == crashed["request_id"]
    assert any(location.endswith(":broken") for location in error["locations"])
    # the database's error carried the row: the note, encrypted (api/encryption.py), which the
    # log does not hold either
    ciphertext = f"v1:{app.extensions['data_encryption'].newest.key_id}:"
    assert any(ciphertext in parameters for parameters in failing_writes.refused)
    assert ciphertext not in everything


def test_a_process_is_named_by_its_host_and_its_own_pid_also_after_a_fork():
    """Without INSTANCE_NAME, a line names host:pid; the name is kept per process, so a worker
    forked after its parent has named itself still gives its own pid."""
    import multiprocessing
    import socket

    from api.logs import instance_name

    assert instance_name() == f"{socket.gethostname()}:{os.getpid()}"
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child_pid, child_name = pool.apply(_name_in_child)
    assert child_pid != os.getpid() and child_name == f"{socket.gethostname()}:{child_pid}"


def _name_in_child():
    from api.logs import instance_name

    return os.getpid(), instance_name()
