"""Rate limits on Redis shared by two instances, and what happens when that Redis goes away.

Two apps stand for two instances: each its own limiter and its own counter file, one Redis (a
redis-server of this test's own, stopped and started again mid-test). While Redis is down no
request fails for it: limits hold per instance (each in its file), one warning says so, and once
Redis answers again they are shared again, with one info line.
"""

import logging
import time
import uuid

import pytest

from api.app import create_app
from api.ratelimit import limiter_of
from api.ratelimit_storage import FailoverStorage
from tests.helpers import PASSWORD, assert_problem
from tests.processes import RedisServer
from tests.test_throttling import attempt

RETRY_SECONDS = 0.2
DEGRADED = "Redis unreachable"
RECOVERED = "Redis answers again"


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def instances(config_class, own_redis, tmp_path):
    """Instances A and B on the test database and one Redis, each with its own fallback file."""

    prefix = f"failover-{uuid.uuid4().hex}"

    def instance(name):
        options = {
            "primary": own_redis.url,
            "fallback": f"sqlite-file://{tmp_path / f'{name}.sqlite'}",
            "retry_seconds": RETRY_SECONDS,
        }
        settings = {
            "RATELIMIT_STORAGE_URI": "redis-failover://",
            "RATELIMIT_STORAGE_OPTIONS": options,
            "RATELIMIT_KEY_PREFIX": prefix,
        }
        return create_app(type(f"Instance{name}", (config_class,), settings))

    return instance("A"), instance("B")


def failures_until_refused(clients, email, count):
    """Wrong passwords for `email`, round-robin over `clients`: their statuses."""
    return [attempt(clients[index % len(clients)], email).status_code for index in range(count)]


def new_email():
    return f"failover-{uuid.uuid4().hex[:10]}@example.org"


def log_lines(caplog, text):
    return [record for record in caplog.records if text in record.getMessage()]


def test_limits_are_shared_through_redis_then_per_instance_while_it_is_down_then_shared_again(
    instances, own_redis, patient, caplog
):
    caplog.set_level(logging.INFO, logger="api.ratelimit_storage")
    a, b = (instance.test_client() for instance in instances)
    storage_a, storage_b = (limiter_of(instance).limiter.storage for instance in instances)
    assert isinstance(storage_a, FailoverStorage)

    # Redis up: five failures across A and B use the e-mail's limit up on both
    email = new_email()
    assert failures_until_refused([a, b], email, 5) == [401] * 5
    assert_problem(attempt(a, email), 429, "rate-limited")
    assert_problem(attempt(b, email), 429, "rate-limited")

    own_redis.stop()
    # Redis down: no 500 on any kind of request
    assert a.get("/health/live").status_code == 200
    assert a.get("/v1/me", headers=patient.headers).status_code == 200
    assert b.post("/v1/moods", headers=patient.headers, json={"mood": 6}).status_code == 201
    assert attempt(a, patient.email, password=PASSWORD).status_code == 200
    # each instance counts failures in its own file: five on A, then five more on B
    email = new_email()
    assert failures_until_refused([a], email, 6) == [401] * 5 + [429]
    assert failures_until_refused([b], email, 6) == [401] * 5 + [429]
    assert storage_a.degraded and storage_b.degraded
    # one warning per instance, however many requests it counted meanwhile
    assert len(log_lines(caplog, DEGRADED)) == 2
    assert all(record.levelno == logging.WARNING for record in log_lines(caplog, DEGRADED))
    assert "redis://" not in caplog.text  # a Redis URL may hold its password

    own_redis.start()
    time.sleep(RETRY_SECONDS * 2)
    # Redis back (empty, as after a restart): shared again, by itself
    email = new_email()
    assert failures_until_refused([a, b], email, 5) == [401] * 5
    assert_problem(attempt(b, email), 429, "rate-limited")
    assert_problem(attempt(a, email), 429, "rate-limited")
    assert not storage_a.degraded and not storage_b.degraded
    assert len(log_lines(caplog, RECOVERED)) == 2
    assert len(log_lines(caplog, DEGRADED)) == 2


def test_a_revoked_token_stays_refused_on_the_other_instance_while_redis_is_down(
    instances, own_redis, patient
):
    a, b = (instance.test_client() for instance in instances)
    own_redis.stop()
    assert a.post("/v1/auth/logout", headers=patient.headers).status_code == 204
    assert_problem(b.get("/v1/me", headers=patient.headers), 401)


def test_the_workers_of_one_instance_say_once_that_redis_is_gone_and_once_that_it_is_back(
    own_redis, tmp_path, caplog
):
    """Workers of one instance share its counter file, and through it one warning per outage,
    however many of them meet it; a flag an earlier run left raised silences nothing."""
    caplog.set_level(logging.INFO, logger="api.ratelimit_storage")
    fallback = f"sqlite-file://{tmp_path / 'instance.sqlite'}"

    def worker():
        return FailoverStorage(primary=own_redis.url, fallback=fallback, retry_seconds=RETRY_SECONDS)

    FailoverStorage(primary="redis://127.0.0.1:9/0", fallback=fallback).incr("x", 60)  # a run that died down
    workers = [worker() for _ in range(3)]
    for each in workers:
        each.incr("hits", 60)  # Redis answers: the old flag is lowered
    caplog.clear()

    own_redis.stop()
    for each in workers * 2:
        each.incr("hits", 60)
    assert all(each.degraded for each in workers)
    assert len(log_lines(caplog, DEGRADED)) == 1

    own_redis.start()
    time.sleep(RETRY_SECONDS * 2)
    for each in workers:
        each.incr("hits", 60)
    assert not any(each.degraded for each in workers)
    assert len(log_lines(caplog, RECOVERED)) == 1
    assert len(log_lines(caplog, DEGRADED)) == 1
