"""The app as it is deployed: gunicorn with gunicorn.conf.py, two worker processes, production
configuration, no Redis. What only shows across processes and in the server's own logs."""

import base64
import json
import os
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

import pytest

from tests.helpers import PASSWORD
from tests.processes import ServerDidNotStart, start_gunicorn

MARKER = "Qx9MARKERv"


def wait_for(log, *texts, timeout=10):
    """The log's contents once every one of `texts` is in it. Each worker writes its access log
    line after its response, so a line can arrive after the next request's answer."""
    deadline = time.monotonic() + timeout
    while not all(text in (contents := log.read_text()) for text in texts) and time.monotonic() < deadline:
        time.sleep(0.05)
    return contents


@pytest.fixture(scope="module")
def server(config_class, tmp_path_factory):
    """gunicorn serving the test database with two workers; yields (base URL, its log file)."""
    folder = tmp_path_factory.mktemp("gunicorn")
    log = folder / "gunicorn.log"
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": config_class.SQLALCHEMY_DATABASE_URI,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        # the test app's key: both read and write the same database
        "DATA_ENCRYPTION_KEYS": config_class.DATA_ENCRYPTION_KEYS,
        "WEB_CONCURRENCY": "2",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
        "RATELIMIT_STORAGE_URI": f"sqlite-file://{folder / 'ratelimits.sqlite'}",
        # every request here comes from 127.0.0.1: keep the per-address limits out of the way
        # of the per-e-mail and per-account ones under test
        "RATELIMIT_LOGIN_PER_IP": "10000 per minute",
        "RATELIMIT_REGISTER_PER_IP": "10000 per hour",
        # the most the logs hold: what they must never hold is checked at this level
        "LOG_LEVEL": "DEBUG",
        "INSTANCE_NAME": "journal-a",
    }
    env.pop("REDIS_URL", None)
    env.pop("LOG_FORMAT", None)
    try:
        base, process, listener = start_gunicorn(env, log)
    except ServerDidNotStart as error:
        pytest.fail(str(error))
    yield base, log
    process.terminate()
    process.wait(20)
    listener.close()


def call(base, method, path, body=None, headers=None):
    """(status, parsed body) over a new connection each time, as a phone on a flaky network."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def sign_up(base):
    return sign_up_as(base, "patient")


def sign_up_as(base, role):
    email = f"server-{uuid.uuid4().hex[:10]}@example.org"
    status, _ = call(
        base,
        "POST",
        "/v1/auth/register",
        {"email": email, "password": PASSWORD, "display_name": "Server", "role": role},
    )
    assert status == 201
    status, tokens = call(base, "POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200
    return email, tokens


def test_a_documented_limit_holds_for_the_whole_instance_not_per_worker(server):
    """Five failed sign-ins per e-mail address, however the two workers share the requests.
    (With per-worker memory, two workers let up to ten through.)"""
    base, _ = server
    email, _ = sign_up(base)
    answered = [
        call(base, "POST", "/v1/auth/login", {"email": email, "password": "wrong password!"})[0]
        for _ in range(12)
    ]
    assert answered == [401] * 5 + [429] * 7


def test_password_checks_hold_across_workers_too(server):
    base, tokens = server[0], sign_up(server[0])[1]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    body = {"current_password": "not my password", "new_password": "a brand new passphrase"}
    answered = [call(base, "POST", "/v1/me/password", body, headers)[0] for _ in range(10)]
    assert answered == [403] * 5 + [429] * 5


def log_lines(text):
    """The server log as JSON objects: every line must be one (so no line can be forged)."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line of the server log is not JSON: {line!r}\n{text}")
    return lines


def wait_for_requests(log, client_request_id, count, timeout=10):
    """The request lines carrying `client_request_id`, once there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [
            line
            for line in log_lines(log.read_text())
            if line.get("event") == "request" and line.get("client_request_id") == client_request_id
        ]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def subject_of(access_token):
    """The token's `sub` (the user's id), read without verifying it."""
    payload = access_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


def test_each_request_is_one_json_line_with_its_route_never_its_path_query_or_text(server):
    base, log = server
    _, tokens = sign_up(base)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "X-Request-ID": "support-ticket-77"}
    status, entry = call(base, "POST", "/v1/entries", {"body": MARKER, "tags": [MARKER]}, headers)
    assert status == 201
    assert call(base, "GET", f"/v1/entries?tag={MARKER}&emotion=calm&limit=5", headers=headers)[0] == 200
    assert call(base, "GET", f"/v1/entries/{entry['id']}", headers=headers)[0] == 200
    assert call(base, "POST", "/v1/moods", {"mood": 99, "note": MARKER}, headers)[0] == 422
    assert call(base, "GET", f"/v1/moods?cursor={MARKER}", headers=headers)[0] == 422
    assert call(base, "GET", "/v1/me", headers={"X-Request-ID": "support-ticket-77"})[0] == 401
    assert call(base, "GET", f"/v1/{MARKER}", headers={"X-Request-ID": "support-ticket-77"})[0] == 404

    lines = wait_for_requests(log, "support-ticket-77", 7)
    # one line per request, in the order they were answered: gunicorn's access log is off
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/v1/entries", 201),
        ("GET", "/v1/entries", 200),
        ("GET", "/v1/entries/<uuid:entry_id>", 200),
        ("POST", "/v1/moods", 422),
        ("GET", "/v1/moods", 422),
        ("GET", "/v1/me", 401),
        ("GET", None, 404),
    ]
    user = subject_of(tokens["access_token"])
    assert [line["user_id"] for line in lines] == [user] * 5 + [None, None]
    for line in lines:
        assert line["level"] == "info" and line["instance"] == "journal-a"
        assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
        assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
        assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    assert len({line["request_id"] for line in lines}) == 7
    text = log.read_text()
    assert '"POST /v1/entries' not in text  # no access-log line beside the app's
    for secret in (MARKER, entry["id"], tokens["access_token"], tokens["refresh_token"], PASSWORD, "limit=5"):
        assert secret not in text, f"{secret!r} is in the server log:\n{text}"


def test_markers_in_headers_and_account_fields_reach_no_line_of_the_server_log(server):
    base, log = server
    marked = {"User-Agent": MARKER, "Cookie": f"session={MARKER}", "X-Request-ID": f"bad id {MARKER}"}
    email, password = f"{MARKER.lower()}@example.org", f"pass {MARKER}"
    account = {"email": email, "password": password, "display_name": MARKER, "role": "patient"}
    assert call(base, "POST", "/v1/auth/register", account, marked)[0] == 201
    assert call(base, "POST", "/v1/auth/register", account, marked)[0] == 409
    status, tokens = call(base, "POST", "/v1/auth/login", {"email": email, "password": password}, marked)
    assert status == 200
    headers = {**marked, "Authorization": f"Bearer {tokens['access_token']}"}
    created = {**headers, "Idempotency-Key": MARKER}
    status, mood = call(base, "POST", "/v1/moods", {"mood": 5, "note": MARKER}, created)
    assert status == 201
    stale = {**headers, "If-Match": MARKER}
    assert call(base, "PATCH", f"/v1/moods/{mood['id']}", {"note": MARKER}, stale)[0] == 422
    assert call(base, "GET", "/v1/me", headers={**marked, "Authorization": f"Bearer {MARKER}"})[0] == 401
    refresh = {**marked, "Authorization": f"Bearer {tokens['refresh_token']}"}
    assert call(base, "POST", "/v1/auth/refresh", headers=refresh)[0] == 200
    # Just over MAX_CONTENT_LENGTH (1 MiB): the server answers 413 without reading the rest, so a
    # much larger body could meet a closed socket before the client reads the answer.
    huge = {"email": email, "password": MARKER * (1024 * 1024 // len(MARKER) + 1)}
    assert call(base, "POST", "/v1/auth/login", huge, marked)[0] == 413
    wrong = [
        call(base, "POST", "/v1/auth/login", {"email": email, "password": MARKER}, marked)[0]
        for _ in range(6)
    ]
    assert wrong == [401] * 5 + [429]

    lines = [line for line in log_lines(wait_for(log, '"status": 429')) if line.get("event") == "request"]
    assert {429, 413, 401, 422, 409, 201} <= {line["status"] for line in lines}
    text = log.read_text()
    for secret in (MARKER, MARKER.lower(), tokens["access_token"], tokens["refresh_token"], mood["id"]):
        assert secret not in text, f"{secret!r} is in the server log:\n{text}"


def test_gunicorn_sends_no_version_in_its_server_header(server):
    base, _ = server
    with urllib.request.urlopen(f"{base}/health/live") as response:
        banner = response.headers.get("Server")
    # gunicorn (pinned) names itself without a version; a version number would tell an attacker
    # which known flaws to try
    assert banner in (None, "gunicorn"), banner


def chunked_post(base, path, body):
    """POST `body` with Transfer-Encoding: chunked over a raw socket; returns (status, problem)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
        )
        for start in range(0, len(body), 65536):
            chunk = body[start : start + 65536]
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.sendall(b"0\r\n\r\n")
        answer = b""
        while data := connection.recv(65536):
            answer += data
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload)


def test_a_chunked_body_over_the_limit_is_413_from_the_real_server(server):
    base, _ = server
    status, problem = chunked_post(
        base, "/v1/auth/login", b'{"email": "' + b"a" * 2_000_000 + b'", "password": "x"}'
    )
    assert status == 413 and problem["type"].endswith("/payload-too-large")
    status, problem = chunked_post(
        base, "/v1/auth/login", b'{"email": "nobody@example.org", "password": "wrong password"}'
    )
    assert status == 401


def burst(count, send):
    """`count` requests at once, each on its own connection; their (status, body) answers."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: send(), range(count)))


def statuses(answers):
    return sorted(status for status, _ in answers)


def test_a_burst_of_simultaneous_guesses_gets_no_more_through_than_the_limit(server):
    """40 wrong passwords at once, over both workers and all their threads. (Checking the count
    before the request and adding to it afterwards let 7 to 10 of them through.)"""
    base = server[0]
    email, tokens = sign_up(base)
    answers = burst(
        40, lambda: call(base, "POST", "/v1/auth/login", {"email": email, "password": "wrong password!"})
    )
    assert statuses(answers) == [401] * 5 + [429] * 35
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    body = {"current_password": "not my password", "new_password": "a brand new passphrase"}
    answers = burst(40, lambda: call(base, "POST", "/v1/me/password", body, headers))
    assert statuses(answers) == [403] * 5 + [429] * 35
    # and the right password still works once the window has room: a success is not a failure
    _, fresh = sign_up(base)
    ok = {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
    assert (
        call(base, "POST", "/v1/me/password", ok, {"Authorization": f"Bearer {fresh['access_token']}"})[0]
        == 204
    )


def raw_exchange(base, head, body):
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + b"\r\n\r\n" + body)
        answer = b""
        while data := connection.recv(65536):
            answer += data
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), head, payload


@pytest.mark.parametrize(
    "framing", [b"ZZ\r\n{}\r\n0\r\n\r\n", b"-5\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n"]
)
@pytest.mark.parametrize(
    "method, path", [("POST", "/v1/entries"), ("POST", "/v1/auth/logout"), ("POST", "/v1/auth/login")]
)
def test_broken_chunked_framing_is_a_400_problem(server, framing, method, path):
    base = server[0]
    _, tokens = sign_up(base)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        f"Authorization: Bearer {tokens['access_token']}\r\nTransfer-Encoding: chunked"
    ).encode()
    status, headers, payload = raw_exchange(base, head, framing)
    assert status == 400 and b"application/problem+json" in headers, (status, payload)
    assert (
        json.loads(payload)["detail"] == "The request body could not be read: its chunked encoding is broken."
    )


def test_requests_gunicorn_cannot_parse_leave_no_query_text_or_forged_lines_in_its_log(server):
    base, log = server
    _, tokens = sign_up(base)
    auth = f"Authorization: Bearer {tokens['access_token']}".encode()
    requests = [
        f"GET /v1/entries?tag={MARKER} thoughts HTTP/1.1".encode(),  # an unencoded space
        f"GET /v1/entries?tag=\u00e4{MARKER} HTTP/1.1".encode(),  # raw UTF-8 in the request line
        f"GET /v1/entries?tag={MARKER}\x01 HTTP/1.1".encode(),  # a control byte
        b"GET /v1/entries%0AFORGED-LINE%20200%20request_id=fake HTTP/1.1",  # a newline, decoded into the path
        b"GET /v1/moods/%0D%0AFORGED-LINE HTTP/1.1",
    ]
    for line in requests:
        raw_exchange(base, line + b"\r\nHost: x\r\nConnection: close\r\n" + auth, b"")
    raw_exchange(
        base,
        b"GET /v1/entries HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Note: "
        + MARKER.encode()
        + b"\x00\r\n"
        + auth,
        b"",
    )
    text = wait_for(log, '"event": "invalid_request"')
    assert MARKER not in text
    assert "FORGED" not in text  # the app logs route templates, not paths
    refused = [line for line in log_lines(text) if line["event"] == "invalid_request"]
    assert refused and {line["client"] for line in refused} == {"127.0.0.1"}


def test_a_body_shorter_than_its_content_length_is_refused(server):
    base = server[0]
    _, tokens = sign_up(base)
    host, port = base.removeprefix("http://").split(":")
    body = b'{"body": "cut short"}'
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            "POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 500\r\n"
            f"Authorization: Bearer {tokens['access_token']}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while data := connection.recv(65536):
            answer += data
    assert answer.split()[1] == b"400", answer[:200]
    assert (
        call(base, "GET", "/v1/entries", headers={"Authorization": f"Bearer {tokens['access_token']}"})[1][
            "items"
        ]
        == []
    )


def test_a_burst_of_right_passwords_locks_no_one_out(server):
    """More simultaneous sign-ins than the limit: some may be told to retry in a second while
    the others run, but none is a failure, so the next one works. (Refused attempts used to
    keep their slot: the account was locked for 15 minutes without one wrong password.)"""
    base = server[0]
    email, _ = sign_up(base)
    right = {"email": email, "password": PASSWORD}
    answers = burst(12, lambda: call(base, "POST", "/v1/auth/login", right))
    assert {status for status, _ in answers} <= {200, 429}
    assert [status for status, _ in answers].count(200) >= 5
    for status, body in answers:
        if status == 429:
            assert body["type"].endswith("/rate-limited")
            assert body["status"] == 429
    assert call(base, "POST", "/v1/auth/login", right)[0] == 200
    # two wrong, then a burst of right ones: still only two failures counted
    for _ in range(2):
        assert call(base, "POST", "/v1/auth/login", {"email": email, "password": "wrong password!"})[0] == 401
    burst(20, lambda: call(base, "POST", "/v1/auth/login", right))
    assert call(base, "POST", "/v1/auth/login", right)[0] == 200


def test_keyed_retries_of_linking_a_therapist_all_get_the_one_answer(server):
    """Sixteen copies of one keyed link, over both workers: the link once, and every answer is it
    or "still in progress" (on SQLite the late copies queue behind the first and used to find
    its code used up: 422, counted as a wrong code)."""
    base = server[0]
    for round_number in range(3):
        _, patient = sign_up(base)
        _, therapist = sign_up_as(base, "therapist")
        code = call(
            base, "POST", "/v1/invitations", headers={"Authorization": f"Bearer {therapist['access_token']}"}
        )[1]["code"]
        headers = {
            "Authorization": f"Bearer {patient['access_token']}",
            "Idempotency-Key": f"link-{round_number}",
        }
        answers = burst(
            16, lambda: call(base, "POST", "/v1/care-team", {"code": code, "scopes": ["moods"]}, headers)
        )
        linked = {body["id"] for status, body in answers if status == 201}
        assert len(linked) == 1, answers
        assert all(
            status == 201 or body["type"].endswith("/request-in-progress") for status, body in answers
        ), answers
        in_progress = [(status, body["status"]) for status, body in answers if status != 201]
        assert set(in_progress) <= {(409, 409)}, answers
        assert len(call(base, "GET", "/v1/care-team", headers=headers)[1]["items"]) == 1


def test_a_transfer_coding_other_than_chunked_is_refused(server):
    base = server[0]
    _, tokens = sign_up(base)
    for coding in (b"gzip, chunked", b"deflate, chunked"):
        head = (
            b"POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Authorization: Bearer " + tokens["access_token"].encode() + b"\r\nTransfer-Encoding: " + coding
        )
        status, headers, payload = raw_exchange(base, head, b'12\r\n{"body": "plain!"}\r\n0\r\n\r\n')
        assert status in (400, 501), (coding, status, payload)
        # gunicorn (pinned) passes gzip/deflate-then-chunked through; the app refuses the body
        assert status == 400 and b"application/problem+json" in headers, (coding, status, headers, payload)
        problem = json.loads(payload)
        assert problem["status"] == 400 and problem["type"].endswith("/bad-request"), problem
        assert problem["detail"] == "The only Transfer-Encoding accepted is chunked.", problem
    assert (
        call(base, "GET", "/v1/entries", headers={"Authorization": f"Bearer {tokens['access_token']}"})[1][
            "items"
        ]
        == []
    )


@pytest.mark.parametrize(("setting", "seconds"), [(None, 0.001), ("2.5", 0.0025)])
def test_each_worker_hands_the_gil_on_every_millisecond_or_as_configured(monkeypatch, setting, seconds):
    """gunicorn.conf.py's post_worker_init sets the GIL's switch interval (GIL_SWITCH_INTERVAL_MS,
    default 1 ms, not Python's 5 ms): a thread back from a COMMIT gets to pass SQLite's writer
    turn on sooner."""
    import runpy
    import sys
    from pathlib import Path

    if setting is None:
        monkeypatch.delenv("GIL_SWITCH_INTERVAL_MS", raising=False)
    else:
        monkeypatch.setenv("GIL_SWITCH_INTERVAL_MS", setting)
    config = runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
    before = sys.getswitchinterval()
    try:
        config["post_worker_init"](None)
        assert sys.getswitchinterval() == pytest.approx(seconds)
    finally:
        sys.setswitchinterval(before)


@pytest.mark.parametrize("setting", ["0", "-1", "fast", "nan", "1e-9", "5000"])
def test_a_gil_switch_interval_out_of_range_stops_the_server_saying_so(monkeypatch, setting):
    import runpy
    from pathlib import Path

    monkeypatch.setenv("GIL_SWITCH_INTERVAL_MS", setting)
    with pytest.raises(
        SystemExit, match="GIL_SWITCH_INTERVAL_MS must be a number of milliseconds from 0.01 to 1000"
    ):
        runpy.run_path(str(Path(__file__).resolve().parents[1] / "gunicorn.conf.py"))
