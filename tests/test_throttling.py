"""Login throttling per e-mail (failures) and per IP; counters shared through Redis when set."""

import uuid

import pytest
import redis

from api import create_app
from api.ratelimit import limiter_of
from tests.helpers import PASSWORD, assert_problem


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
    assert existing.headers["Retry-After"] == missing.headers["Retry-After"]


def test_the_email_counter_ignores_case_and_spaces(client, patient):
    for variant in (patient.email.upper(), f"  {patient.email} ", patient.email, patient.email.title(), patient.email):
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
    statuses = [attempt(client, account.email, password=PASSWORD, ip="10.9.9.9").status_code for account in accounts]
    assert statuses == [200, 200, 200, 429]
    # another address is not affected
    assert attempt(client, accounts[-1].email, password=PASSWORD, ip="10.9.9.10").status_code == 200


@pytest.fixture
def redis_url():
    url = "redis://127.0.0.1:6379/15"
    redis.Redis.from_url(url).ping()
    return url


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
