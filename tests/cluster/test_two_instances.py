"""Two instances behind nginx on one PostgreSQL and one Redis behave as one (API.md §6).

Requests go to instance A or B directly (their own ports) to show what one instance knows of the
other, and through nginx to show what the front door does. The tests run in this order; the
last one stops the instances.
"""

import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.helpers import PASSWORD

A, B = "app-1", "app-2"
PROBLEM = "application/problem+json"


def call(base, method, path, body=None, headers=None, timeout=10):
    """(status, headers, parsed body) over a new connection."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def assert_problem(answer, status):
    code, headers, body = answer
    assert code == status, answer
    assert headers["Content-Type"] == PROBLEM, headers["Content-Type"]
    assert body["status"] == status and body["type"].startswith("https://integration-journal.org/problems/")
    return body


def new_email():
    return f"cluster-{uuid.uuid4().hex[:10]}@example.org"


def sign_up(base):
    email = new_email()
    body = {"email": email, "password": PASSWORD, "display_name": "Cluster", "role": "patient"}
    assert call(base, "POST", "/v1/auth/register", body)[0] == 201
    status, _, tokens = call(base, "POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200
    return email, tokens


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def wrong_password(base, email):
    return call(base, "POST", "/v1/auth/login", {"email": email, "password": "not the password"})[0]


def test_a_logout_on_one_instance_refuses_the_token_on_the_other_at_once(cluster):
    a, b = cluster.instance_url(A), cluster.instance_url(B)
    _, tokens = sign_up(a)
    assert call(b, "GET", "/v1/me", headers=bearer(tokens["access_token"]))[0] == 200
    assert call(a, "POST", "/v1/auth/logout", headers=bearer(tokens["access_token"]))[0] == 204
    assert_problem(call(b, "GET", "/v1/me", headers=bearer(tokens["access_token"])), 401)
    assert_problem(call(b, "POST", "/v1/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)


def test_a_sign_in_failure_limit_spent_on_one_instance_holds_on_the_other(cluster):
    a, b = cluster.instance_url(A), cluster.instance_url(B)
    email, _ = sign_up(a)
    assert [wrong_password(a, email) for _ in range(5)] == [401] * 5
    assert_problem(call(b, "POST", "/v1/auth/login", {"email": email, "password": "not the password"}), 429)
    # the right password waits too, on either instance
    assert call(b, "POST", "/v1/auth/login", {"email": email, "password": PASSWORD})[0] == 429


def test_a_forged_x_forwarded_for_does_not_change_the_address_limits_key_on(cluster):
    """nginx overwrites X-Forwarded-For with the address it saw, and the instances trust one hop
    (PROXY_FIX_X_FOR=1): whatever a client claims, its requests share one per-address count."""
    remaining = []
    for number in range(6):
        _, headers, _ = call(
            cluster.url, "GET", "/health/live", headers={"X-Forwarded-For": f"10.1.2.{number}"}
        )
        remaining.append(int(headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(remaining[0], remaining[0] - 6, -1)), remaining


def test_slow_clients_wait_in_nginx_while_the_instances_keep_answering(cluster):
    """24 connections send their request headers a byte at a time. nginx reads them (it buffers
    whole requests before passing them on), so no gunicorn thread waits on one, and
    /health/live through nginx answers at once. Straight at an instance, 12 such connections
    already hold all of its 2 workers x 4 threads: /health/live did not answer within 5 s in
    3 tries of 3 (measured when this test was written, not repeated here as it only costs time),
    while through nginx with 24 it answered in 10-20 ms."""
    request = b"GET /health/live HTTP/1.1\r\nHost: journal\r\nX-Slow: " + b"x" * 200 + b"\r\n\r\n"
    host, port = cluster.url.removeprefix("http://").split(":")
    slow = [socket.create_connection((host, int(port))) for _ in range(24)]
    stop = threading.Event()

    def dribble():
        position = 0
        while not stop.is_set() and position < len(request) - 4:
            for connection in slow:
                connection.sendall(request[position : position + 1])
            position += 1
            time.sleep(0.05)

    dribbler = threading.Thread(target=dribble)
    dribbler.start()
    try:
        time.sleep(0.5)  # every slow connection is open and part-way through its headers
        for _ in range(10):
            started = time.monotonic()
            assert call(cluster.url, "GET", "/health/live", timeout=5)[0] == 200
            assert time.monotonic() - started < 1
    finally:
        stop.set()
        dribbler.join()
        for connection in slow:
            connection.close()


def test_errors_nginx_answers_itself_are_problem_json(cluster):
    too_large = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    request = urllib.request.Request(
        f"{cluster.url}/v1/auth/login",
        data=too_large,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("a body over MAX_CONTENT_LENGTH was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 413 and error.headers["Content-Type"] == PROBLEM
        assert json.loads(error.read())["status"] == 413
        # with the headers the app gives its own errors
        assert error.headers["X-Content-Type-Options"] == "nosniff"
        assert error.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert error.headers["X-Frame-Options"] == "DENY" and error.headers["Cache-Control"] == "no-store"
    assert_problem(call(cluster.url, "GET", "/v1/me", headers={"X-Large": "x" * 20000}), 431)
    assert_problem(call(cluster.url, "GET", "/" + "a" * 20000), 414)
    assert_problem(call(cluster.url, "GET", "/_proxy_problems/502"), 404)
    # a request line nginx cannot read
    host, port = cluster.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = connection.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 400") and f"Content-Type: {PROBLEM}" in answer
    # the app's own errors pass through as they are
    assert_problem(call(cluster.url, "GET", "/v1/no-such-route"), 404)


def raw_request(cluster, data):
    """The status line and headers nginx answers a request written byte for byte."""
    host, port = cluster.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n\r\n")[0].decode()


@pytest.mark.parametrize(
    "data, status",
    [
        (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"POST /v1/moods HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        # one byte past what gunicorn reads (limit_request_line): nginx answers first
        (b"GET /v1/moods?x=" + b"a" * (4095 - 25) + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ],
    ids=["TRACE", "unknown transfer coding", "HTTP/2.0 request line", "request line of 4095 bytes"],
)
def test_what_nginx_refuses_it_answers_as_problem_json_with_the_apps_headers(cluster, data, status):
    head = raw_request(cluster, data)
    assert head.startswith(f"HTTP/1.1 {status}"), head
    assert f"Content-Type: {PROBLEM}" in head and "X-Content-Type-Options: nosniff" in head


def test_headers_gunicorn_would_refuse_in_html_never_reach_it(cluster):
    """A client's X-Forwarded-Ssl/-Protocol would contradict nginx's X-Forwarded-Proto (gunicorn's
    HTML 400); 150 header lines are more than gunicorn's default count (its HTML 431)."""
    forged = b"X-Forwarded-Ssl: on\r\nX-Forwarded-Protocol: ssl\r\n"
    head = raw_request(cluster, b"GET /health/live HTTP/1.1\r\nHost: x\r\n" + forged + b"\r\n")
    assert head.startswith("HTTP/1.1 200") and "Strict-Transport-Security" not in head, head
    many = b"".join(b"X-H%d: v\r\n" % number for number in range(150))
    head = raw_request(cluster, b"GET /health/live HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert head.startswith("HTTP/1.1 200"), head


def test_one_address_holds_at_most_256_connections_and_hears_429_past_them(cluster):
    host, port = cluster.url.removeprefix("http://").split(":")
    slow = b"POST /v1/moods HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    slow += b"Content-Length: 100\r\n\r\n{"
    connections = []
    try:
        for _ in range(300):
            connection = socket.create_connection((host, int(port)), timeout=10)
            connection.sendall(slow)  # headers whole, the body never finished
            connections.append(connection)
        time.sleep(1)
        refused = 0
        for connection in connections:
            connection.setblocking(False)
            try:
                answer = connection.recv(4096).decode()
            except BlockingIOError:
                continue
            assert answer.startswith("HTTP/1.1 429") and f"Content-Type: {PROBLEM}" in answer, answer
            refused += 1
        assert refused == 300 - 256
    finally:
        for connection in connections:
            connection.close()
    assert urllib.request.urlopen(f"{cluster.url}/health/live", timeout=5).status == 200


def redis_warnings(cluster, name):
    """The pids of the worker processes that logged the fallback warning, one entry per line."""
    lines = [
        line
        for line in cluster.instances[name]["log"].read_text().splitlines()
        if "Redis unreachable" in line
    ]
    return [line.rsplit("pid ", 1)[1].rstrip(")") for line in lines]


def test_a_redis_outage_costs_no_request_and_lets_no_revoked_token_in(cluster):
    a, b = cluster.instance_url(A), cluster.instance_url(B)
    email, tokens = sign_up(cluster.url)
    _, revoked = sign_up(cluster.url)
    cluster.redis.stop()

    # a mix of requests, through nginx and on each instance: none is a 5xx
    statuses = []
    for base in (cluster.url, a, b) * 3:
        statuses.append(call(base, "GET", "/health/live")[0])
        statuses.append(call(base, "GET", "/v1/me", headers=bearer(tokens["access_token"]))[0])
        mood = {"mood": 6, "note": "steady"}
        statuses.append(call(base, "POST", "/v1/moods", mood, headers=bearer(tokens["access_token"]))[0])
        statuses.append(call(base, "GET", "/v1/moods", headers=bearer(tokens["access_token"]))[0])
        statuses.append(call(base, "POST", "/v1/auth/login", {"email": email, "password": PASSWORD})[0])
    assert set(statuses) <= {200, 201}, statuses

    # logged out on A while Redis is down: refused on B (the database decides, not Redis)
    assert call(a, "POST", "/v1/auth/logout", headers=bearer(revoked["access_token"]))[0] == 204
    assert_problem(call(b, "GET", "/v1/me", headers=bearer(revoked["access_token"])), 401)

    # limits still hold, per instance: five failures on A, then five more on B
    target = new_email()
    assert [wrong_password(a, target) for _ in range(6)] == [401] * 5 + [429]
    assert [wrong_password(b, target) for _ in range(6)] == [401] * 5 + [429]

    # one warning per instance, however many of its workers and requests met the outage
    for name in (A, B):
        assert len(redis_warnings(cluster, name)) == 1, redis_warnings(cluster, name)

    cluster.redis.start()
    time.sleep(3 * 0.5)  # RATELIMIT_REDIS_RETRY_SECONDS in the cluster
    # Redis is back (empty, as after a restart): the count is shared again
    target = new_email()
    for _ in range(4):  # every worker process meets Redis again
        call(a, "GET", "/health/live"), call(b, "GET", "/health/live")
    assert [wrong_password(base, target) for base in (a, b, a, b, a)] == [401] * 5
    assert wrong_password(b, target) == 429
    assert wrong_password(a, target) == 429


def test_with_one_instance_down_nginx_serves_from_the_other_and_with_both_down_answers_502(cluster):
    _, tokens = sign_up(cluster.url)
    os.kill(cluster.instances[A]["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(
                ("127.0.0.1", int(cluster.instance_url(A).rsplit(":", 1)[1])), timeout=1
            ).close()
            time.sleep(0.2)
        except OSError:
            break
    statuses = []
    for number in range(10):
        statuses.append(call(cluster.url, "GET", "/v1/me", headers=bearer(tokens["access_token"]))[0])
        mood = {"mood": 5, "note": f"one instance down {number}"}
        statuses.append(
            call(cluster.url, "POST", "/v1/moods", mood, headers=bearer(tokens["access_token"]))[0]
        )
    assert statuses == [200, 201] * 10
    _, _, moods = call(cluster.url, "GET", "/v1/moods?limit=100", headers=bearer(tokens["access_token"]))
    assert len(moods["items"]) == 10  # each create made once

    os.kill(cluster.instances[B]["pid"], signal.SIGTERM)
    deadline = time.monotonic() + 30
    while (answer := call(cluster.url, "GET", "/health/live"))[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_problem(answer, 502)
    assert answer[1]["Retry-After"] == "5"
