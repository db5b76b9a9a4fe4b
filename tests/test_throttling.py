"""Login throttling per e-mail (failures) and per IP; counters shared through Redis when set."""

import hashlib
import os
import threading
import uuid

import pytest
import redis

from api.app import create_app
from api.ratelimit import limiter_of
from api.ratelimit_storage import SQLiteFileStorage
from tests.helpers import PASSWORD, assert_problem, bearer


def attempt(client, email, password="wrong password!", ip="10.0.0.1"):
    return client.post(
        "/v1/auth/login", json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def test_repeated_failures_for_one_email_are_429_with_retry_after(client, patient):
    statuses = [attempt(client, patient.email).status_code for _ in range(5)]
    assert statuses == [401] * 5
    response = attempt(client, patient.email)
    problem = assert_problem(response, 429, "rate-limited")
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert "Retry-After" in problem["detail"]
    # even the right password waits for the window to pass
    assert attempt(client, patient.email, password=PASSWORD).status_code == 429


def test_the_limit_looks_the_same_whether_or_not_the_account_exists(client, patient):
    for _ in range(5):
        attempt(client, patient.email)
        attempt(client, "nobody-here@example.org")
    existing = attempt(client, patient.email)
    missing = attempt(client, "nobody-here@example.org")
    assert existing.status_code == missing.status_code == 429
    assert existing.json == missing.json
    # Each window started at its first attempt: the two may straddle a second boundary.
    assert abs(int(existing.headers["Retry-After"]) - int(missing.headers["Retry-After"])) <= 1


def test_the_email_counter_ignores_case_and_spaces(client, patient):
    for variant in (
        patient.email.upper(),
        f"  {patient.email} ",
        patient.email,
        patient.email.title(),
        patient.email,
    ):
        attempt(client, variant)
    assert attempt(client, patient.email).status_code == 429


def test_one_locked_email_does_not_lock_out_other_accounts(client, make_account):
    victim, other = make_account(), make_account()
    for _ in range(6):
        attempt(client, victim.email)
    assert attempt(client, other.email, password=PASSWORD).status_code == 200


def test_successful_logins_do_not_count_as_failures(client, patient):
    for _ in range(8):
        assert attempt(client, patient.email, password=PASSWORD).status_code == 200


def test_looser_per_ip_limit_covers_all_addresses(app, client, make_account, monkeypatch):
    accounts = [make_account() for _ in range(4)]
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_PER_IP", "3 per minute")
    statuses = [
        attempt(client, account.email, password=PASSWORD, ip="10.9.9.9").status_code for account in accounts
    ]
    assert statuses == [200, 200, 200, 429]
    # another address is not affected
    assert attempt(client, accounts[-1].email, password=PASSWORD, ip="10.9.9.10").status_code == 200


REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


def redis_for_tests(url):
    """`url` when a Redis answers there; else the test fails saying so (CI has Redis, so a missing
    one must not pass unnoticed), or is skipped when REDIS_TESTS_OPTIONAL=1 asks for that."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
        return url
    except (redis.exceptions.RedisError, OSError, ValueError) as error:
        message = (
            f"These tests need Redis at {url} (set REDIS_TEST_URL to use another one); it did not "
            f"answer: {type(error).__name__}: {str(error).rstrip('.')}. Start one with "
            "`redis-server --port 6379` (or `docker run --rm -p 6379:6379 redis:7`), or set "
            "REDIS_TESTS_OPTIONAL=1 to skip them."
        )
    if os.environ.get("REDIS_TESTS_OPTIONAL") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture
def redis_url():
    return redis_for_tests(os.environ.get("REDIS_TEST_URL") or REDIS_TEST_URL)


def test_counters_are_shared_by_every_instance_through_redis(config_class, patient, redis_url):
    shared = type(
        "Shared",
        (config_class,),
        {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"},
    )
    first, second = create_app(shared), create_app(shared)
    try:
        for client in (first.test_client(), second.test_client(), first.test_client()):
            for _ in range(2):
                attempt(client, patient.email)
        # five failures happened across two instances; the sixth is refused on either
        assert attempt(second.test_client(), patient.email).status_code == 429
        assert attempt(first.test_client(), patient.email).status_code == 429
    finally:
        limiter_of(first).reset()


def test_an_unreachable_redis_falls_back_to_in_memory_limits(config_class, patient):
    broken = type("BrokenRedis", (config_class,), {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0"})
    client = create_app(broken).test_client()
    assert client.get("/v1/me", headers=patient.headers).status_code == 200
    statuses = [attempt(client, patient.email).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # the limits on wrong passwords and unusable codes fall back too
    assert [
        wrong_password_change(client, f"Bearer {patient.access_token}").status_code for _ in range(6)
    ] == [403] * 5 + [429]
    codes = [
        client.post(
            "/v1/care-team", headers=patient.headers, json={"code": "AAAAA-BBBBB-CCCCC", "scopes": []}
        ).status_code
        for _ in range(11)
    ]
    assert codes == [422] * 10 + [429]


def wrong_password_change(client, authorization):
    body = {"current_password": "not my password", "new_password": "a brand new passphrase"}
    return client.post("/v1/me/password", headers={"Authorization": authorization}, json=body)


def test_password_checks_are_counted_per_account_however_the_header_is_spaced(client, patient):
    token = patient.access_token
    spellings = [
        f"Bearer {token}",
        f"Bearer  {token}",
        f" Bearer {token} ",
        f"Bearer\t{token}",
        f"Bearer {token}, Basic x",
    ]
    assert [wrong_password_change(client, spelling).status_code for spelling in spellings] == [403] * 5
    assert_problem(wrong_password_change(client, f"Bearer {token},"), 429, "rate-limited")
    # account erasure shares the count: it checks the same password
    erase = client.delete(
        "/v1/me", headers={"Authorization": f"Bearer {token}"}, json={"password": "not my password"}
    )
    assert_problem(erase, 429)


def test_password_checks_are_counted_per_account_across_sign_ins(client, patient):
    for _ in range(5):
        assert wrong_password_change(client, f"Bearer {patient.access_token}").status_code == 403
    fresh = client.post("/v1/auth/login", json={"email": patient.email, "password": PASSWORD}).json[
        "access_token"
    ]
    assert_problem(wrong_password_change(client, f"Bearer {fresh}"), 429)


def test_the_invitation_code_limit_survives_a_refresh_and_a_new_sign_in(app, client, patient, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_CODE_FAILURES_PER_ACCOUNT", "3 per hour")
    body = {"code": "AAAAA-BBBBB-CCCCC", "scopes": ["moods"]}
    for _ in range(2):
        assert (
            client.post("/v1/care-team", headers=bearer(patient.access_token), json=body).status_code == 422
        )
    refreshed = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)).json["access_token"]
    assert client.post("/v1/care-team", headers=bearer(refreshed), json=body).status_code == 422
    assert_problem(client.post("/v1/care-team", headers=bearer(refreshed), json=body), 429)
    signed_in = client.post("/v1/auth/login", json={"email": patient.email, "password": PASSWORD}).json[
        "access_token"
    ]
    assert_problem(client.post("/v1/care-team", headers=bearer(signed_in), json=body), 429)


def test_another_account_is_not_held_back_by_ones_limit(client, make_account):
    first, second = make_account(), make_account()
    for _ in range(6):
        wrong_password_change(client, f"Bearer {first.access_token}")
    assert wrong_password_change(client, f"Bearer {second.access_token}").status_code == 403


def test_without_redis_the_counters_live_in_a_file_every_worker_shares(config_class, patient, tmp_path):
    """Two apps stand for two worker processes of one instance: each its own limiter and
    connections, one counter file. (flask-limiter's memory storage would count per worker.)"""
    local = type(
        "Local", (config_class,), {"RATELIMIT_STORAGE_URI": f"sqlite-file://{tmp_path / 'limits.sqlite'}"}
    )
    first, second = create_app(local), create_app(local)
    statuses = [attempt(worker.test_client(), patient.email).status_code for worker in (first, second) * 3]
    assert statuses == [401] * 5 + [429]
    assert attempt(first.test_client(), patient.email).status_code == 429


def test_the_file_storage_counts_in_fixed_windows(tmp_path, monkeypatch):
    import types

    from api import ratelimit_storage

    clock = types.SimpleNamespace(now=1_000_000.0)
    monkeypatch.setattr(ratelimit_storage, "time", types.SimpleNamespace(time=lambda: clock.now))
    storage = SQLiteFileStorage(f"sqlite-file://{tmp_path / 'limits.sqlite'}")
    assert [storage.incr("k", expiry=60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3 and storage.get("other") == 0
    assert storage.get_expiry("k") == 1_000_060.0
    clock.now += 59
    assert storage.incr("k", expiry=60) == 4 and storage.get_expiry("k") == 1_000_060.0  # the same window
    clock.now += 1
    assert storage.get("k") == 0 and storage.get_expiry("k") == clock.now  # it has ended
    assert (
        storage.incr("k", expiry=60, amount=2) == 2 and storage.get_expiry("k") == clock.now + 60
    )  # a new one
    storage.clear("k")
    assert storage.get("k") == 0
    storage.incr("a", expiry=10)
    assert storage.reset() == 1 and storage.check()


def test_threads_that_first_count_in_a_new_file_at_once_all_count(tmp_path):
    """The first requests of a fresh instance open the file at the same moment, each in its own
    thread: SQLite refused all but one of them their switch to WAL at once ("database is
    locked", a few hits in a hundred), and those requests fell back to per-worker counting."""
    failures, counted = [], []
    for attempt in range(100):
        storage = SQLiteFileStorage(f"sqlite-file://{tmp_path / f'limits-{attempt}.sqlite'}")
        start = threading.Barrier(4)

        def first_hit():
            start.wait()
            try:
                storage.incr("k", expiry=60)
            except Exception as error:
                failures.append(error)

        threads = [threading.Thread(target=first_hit) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counted.append(storage.get("k"))
    assert failures == []
    assert counted == [4] * 100


def test_nobody_can_use_up_a_count_that_others_share(client, make_account):
    """An attacker's wrong passwords count against the attacker's own account, however the
    header is written; requests whose token does not verify count for nothing and are keyed by
    their address. So no one can make a stranger's request answer 429 instead of 401. (Headers
    the key function could not read once all fell into one shared bucket.)"""
    attacker = make_account()
    for _ in range(6):
        response = client.post(
            "/v1/me/password",
            headers={"Authorization": f"Bearer {attacker.access_token}, Basic x"},
            json={"current_password": "guess guess", "new_password": "a brand new passphrase"},
            environ_base={"REMOTE_ADDR": "10.6.6.6"},
        )
    assert_problem(response, 429)
    for authorization in ["Bearer not-a-token", "Bearer a.b.c", "", "Basic x"]:
        stranger = client.post(
            "/v1/me/password",
            headers={"Authorization": authorization},
            json={"current_password": "x" * 10, "new_password": "a brand new passphrase"},
            environ_base={"REMOTE_ADDR": "10.7.7.7"},
        )
        assert_problem(stranger, 401)
    # an expired token too
    expired = client.post(
        "/v1/me/password",
        headers=bearer(expired_token(client, attacker)),
        json={},
        environ_base={"REMOTE_ADDR": "10.7.7.7"},
    )
    assert_problem(expired, 401)


def expired_token(client, account):
    import datetime

    from flask_jwt_extended import create_access_token

    with client.application.app_context():
        return create_access_token(identity=account.id, expires_delta=datetime.timedelta(seconds=-1))


def test_a_failure_limit_whose_counter_fails_answers_503_not_500(
    config_class, patient, tmp_path, monkeypatch, caplog
):
    """The counter file busy past its timeout (or Redis gone between two checks): the attempt is
    refused with 503 and Retry-After, never let through uncounted, never a 500."""
    import sqlite3

    local = type(
        "Local", (config_class,), {"RATELIMIT_STORAGE_URI": f"sqlite-file://{tmp_path / 'limits.sqlite'}"}
    )
    app = create_app(local)
    counting = SQLiteFileStorage.incr

    def busy_for_password_checks(self, key, expiry, amount=1):
        if "password-check" in key:
            raise sqlite3.OperationalError("database is locked")
        return counting(self, key, expiry, amount)

    monkeypatch.setattr(SQLiteFileStorage, "incr", busy_for_password_checks)
    response = wrong_password_change(app.test_client(), f"Bearer {patient.access_token}")
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "5"
    assert "OperationalError" in caplog.text and "database is locked" not in caplog.text


def test_failed_sign_ins_are_counted_under_a_keyed_digest_of_the_address(app, client, patient):
    """Whoever reads the counters (Redis) finds neither the address nor a plain hash of it that
    a list of addresses would match."""
    assert (
        client.post("/v1/auth/login", json={"email": patient.email, "password": "wrong"}).status_code == 401
    )
    keys = " ".join(str(key) for key in limiter_of(app).storage.storage)
    assert "login-email:" in keys
    assert patient.email not in keys
    assert hashlib.sha256(patient.email.encode()).hexdigest()[:32] not in keys


def test_a_request_counts_each_limit_in_one_round_trip_and_its_headers_agree(
    config_class, patient, tmp_path, monkeypatch
):
    """The file storage's upsert returns the count and the window's end; flask-limiter's headers
    use them instead of reading the counter back (two more statements per request)."""
    local = type(
        "Local",
        (config_class,),
        {
            "RATELIMIT_STORAGE_URI": f"sqlite-file://{tmp_path / 'limits.sqlite'}",
            "RATELIMIT_DEFAULT": "5 per minute",
        },
    )
    app = create_app(local)
    client = app.test_client()
    storage = limiter_of(app).limiter.storage
    calls = []
    for name in ("incr", "get", "get_expiry"):
        original = getattr(storage, name)
        monkeypatch.setattr(
            storage, name, lambda *args, _f=original, _n=name, **kw: calls.append(_n) or _f(*args, **kw)
        )
    answers = [client.get("/v1/me", headers=patient.headers) for _ in range(6)]
    assert calls == ["incr"] * 6
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["4", "3", "2", "1", "0", "0"]
    assert {answer.headers["X-RateLimit-Limit"] for answer in answers} == {"5"}
    assert len({answer.headers["X-RateLimit-Reset"] for answer in answers}) == 1
    (reset,) = {answer.headers["X-RateLimit-Reset"] for answer in answers}
    (key,) = [key for (key,) in storage._connection().execute("SELECT key FROM counters")]
    assert int(reset) == int(storage.get_expiry(key) + 1)
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
