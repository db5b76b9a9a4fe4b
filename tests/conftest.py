"""Fixtures: an app on SQLite or PostgreSQL (TEST_DATABASE_URL), schema built by the migrations."""

import os
import uuid
from dataclasses import dataclass, field

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from api.app import create_app
from api.extensions import db
from api.ratelimit import limiter_of
from config import TestingConfig, database_url
from tests import spec_validation
from tests.helpers import PASSWORD, bearer, is_test_database, not_a_test_database_message


def test_database_url(tmp_path_factory):
    """The database the suite runs on: a new SQLite file, or TEST_DATABASE_URL with its `public`
    schema dropped and recreated.

    That drop is refused (the run stops with pytest's usage-error exit code, before any
    connection is made) unless the database's name looks like a test database: exactly `test`,
    or starting with `test_`, or ending with `_test` (see tests.helpers.is_test_database).
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'journal-test.db'}"
    url = database_url(url)
    if not is_test_database(url):
        pytest.exit(not_a_test_database_message(url), returncode=pytest.ExitCode.USAGE_ERROR)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


test_database_url.__test__ = False


@pytest.fixture(scope="session")
def config_class(tmp_path_factory):
    url = test_database_url(tmp_path_factory)

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url

    return Config


@pytest.fixture(scope="session")
def app(config_class):
    app = create_app(config_class)
    with app.app_context():
        flask_migrate.upgrade()
    return app


@pytest.fixture(autouse=True)
def clean_state(app):
    """Each test starts with empty tables and fresh rate-limit counters."""
    yield
    with app.app_context():
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        limiter_of(app).reset()


@pytest.fixture(scope="session")
def spec(app):
    """The OpenAPI document the app serves."""
    return app.test_client().get("/openapi.json").get_json()


@pytest.fixture(scope="session", autouse=True)
def responses_checked_against_spec(spec):
    """Every Flask app's test client (the session app's and those tests build with create_app)
    checks each response against the served spec; see tests/spec_validation.py."""
    if spec_validation.MODE == "off":
        yield
        return
    spec_validation.checker = spec_validation.SpecChecker(spec)
    Flask.test_client_class = spec_validation.SpecCheckingClient
    yield
    Flask.test_client_class = None
    spec_validation.checker = None


def settle_spec_mismatches(item, when, fail):
    responses = spec_validation.end()
    spec_validation.log(item.nodeid, responses)
    failing = spec_validation.failing(responses)
    if not failing:
        return
    message = spec_validation.failure_message(failing)
    if fail and spec_validation.MODE == "on":
        pytest.fail(message, pytrace=False)
    item.add_report_section(when, "spec", message)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Responses from the test's fixtures count as the test's own."""
    spec_validation.begin()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test fails when a response it (or its fixtures) received does not match the spec."""
    try:
        result = yield
    except BaseException:
        settle_spec_mismatches(item, "call", fail=False)  # the test's own failure comes first
        raise
    settle_spec_mismatches(item, "call", fail=True)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    spec_validation.begin()
    result = yield
    settle_spec_mismatches(item, "teardown", fail=True)
    return result


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def database_rows(app):
    """A function returning every committed row of every table, to show a request changed nothing."""

    def rows():
        with app.app_context():
            try:
                return {
                    table.name: sorted(repr(tuple(row)) for row in db.session.execute(table.select()).all())
                    for table in db.metadata.sorted_tables
                }
            finally:
                db.session.remove()

    return rows


@dataclass
class Account:
    id: str
    email: str
    password: str
    role: str
    access_token: str
    refresh_token: str
    profile: dict = field(default_factory=dict)

    @property
    def headers(self):
        return bearer(self.access_token)


@pytest.fixture
def make_account(client):
    """Register and sign in an account; returns its tokens and profile."""

    def make(role="patient", email=None, password=PASSWORD, **fields):
        email = email or f"{role}-{uuid.uuid4().hex[:10]}@example.org"
        body = {"email": email, "password": password, "display_name": f"Test {role}", "role": role, **fields}
        registered = client.post("/v1/auth/register", json=body)
        assert registered.status_code == 201, registered.json
        tokens = client.post("/v1/auth/login", json={"email": email, "password": password})
        assert tokens.status_code == 200, tokens.json
        return Account(
            id=registered.json["id"],
            email=registered.json["email"],
            password=password,
            role=role,
            access_token=tokens.json["access_token"],
            refresh_token=tokens.json["refresh_token"],
            profile=registered.json,
        )

    return make


@pytest.fixture
def patient(make_account):
    return make_account("patient")


@pytest.fixture
def therapist(make_account):
    return make_account("therapist")


@pytest.fixture
def invite(client):
    """A therapist's new invitation (its body, with the code)."""

    def make(therapist):
        created = client.post("/v1/invitations", headers=therapist.headers)
        assert created.status_code == 201, created.json
        return created.json

    return make


@pytest.fixture
def link(client, invite):
    """Link a patient to a therapist with the given scopes; returns the link."""

    def make(patient, therapist, scopes=("entries", "moods", "assessments", "practices", "sessions")):
        code = invite(therapist)["code"]
        linked = client.post(
            "/v1/care-team", headers=patient.headers, json={"code": code, "scopes": list(scopes)}
        )
        assert linked.status_code == 201, linked.json
        return linked.json

    return make
