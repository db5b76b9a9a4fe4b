"""Registration and sign-in (API.md §2)."""

import jwt as pyjwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from api.accounts.models import User
from api.extensions import db
from tests.helpers import PASSWORD, assert_problem


def registration(**overrides):
    body = {"email": "ana@example.org", "password": PASSWORD, "display_name": "Ana", "role": "patient"}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def user_count(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("role", ["patient", "therapist"])
def test_register_creates_an_account(client, role):
    response = client.post(
        "/v1/auth/register", json=registration(role=role, timezone="Europe/Berlin", country="de")
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/v1/me"
    body = response.json
    assert body["role"] == role and body["email"] == "ana@example.org"
    assert body["timezone"] == "Europe/Berlin" and body["country"] == "DE"
    assert body["version"] == 1 and body["created_at"].endswith("+00:00")
    assert "password" not in body and "password_hash" not in body


def test_defaults_are_utc_and_no_country(client):
    body = client.post("/v1/auth/register", json=registration()).json
    assert body["timezone"] == "UTC" and body["country"] is None


def test_email_is_normalised_and_unique_regardless_of_case(client, app):
    assert (
        client.post("/v1/auth/register", json=registration(email="  Ana@Example.ORG ")).json["email"]
        == "ana@example.org"
    )
    response = client.post("/v1/auth/register", json=registration(email="ANA@example.org", role="therapist"))
    assert_problem(response, 409, "conflict")
    assert user_count(app) == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("role", "admin"),
        ("role", "PATIENT"),
        ("role", ...),
        ("email", "not-an-email"),
        ("email", "a" * 250 + "@x.org"),
        ("password", "9chars!!!"),
        ("password", "x" * 1025),
        ("display_name", ""),
        ("display_name", "   "),
        ("display_name", "n" * 101),
        ("timezone", "Mars/Olympus_Mons"),
        ("timezone", "../../etc/passwd"),
        ("country", "XX"),
        ("country", "USA"),
        ("country", "1"),
    ],
)
def test_invalid_registration_is_422_and_creates_nothing(client, app, field, value):
    problem = assert_problem(
        client.post("/v1/auth/register", json=registration(**{field: value})), 422, "validation-error"
    )
    assert field in problem["errors"]
    assert user_count(app) == 0


def test_password_of_exactly_ten_characters_is_accepted(client):
    assert client.post("/v1/auth/register", json=registration(password="0123456789")).status_code == 201


def test_passwords_are_stored_as_argon2id(client, app):
    client.post("/v1/auth/register", json=registration())
    with app.app_context():
        stored = db.session.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_login_returns_a_bearer_token_pair(client, app):
    user = client.post("/v1/auth/register", json=registration()).json
    response = client.post("/v1/auth/login", json={"email": "ANA@example.org", "password": PASSWORD})
    assert response.status_code == 200
    pair = response.json
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    secret = app.config["JWT_SECRET_KEY"]
    options = {
        "audience": "integration-journal-api",
        "issuer": "integration-journal",
        "algorithms": ["HS256"],
    }
    access = pyjwt.decode(pair["access_token"], secret, **options)
    refresh = pyjwt.decode(pair["refresh_token"], secret, **options)
    assert access["sub"] == refresh["sub"] == user["id"]
    assert access["type"] == "access" and refresh["type"] == "refresh"
    assert access["fresh"] is True and access["jti"] and access["fam"] == refresh["fam"]
    assert access["exp"] - access["iat"] == 900
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600


def test_unknown_email_and_wrong_password_look_identical(client):
    client.post("/v1/auth/register", json=registration())
    unknown = client.post("/v1/auth/login", json={"email": "nobody@example.org", "password": PASSWORD})
    wrong = client.post("/v1/auth/login", json={"email": "ana@example.org", "password": "wrong password!"})
    assert_problem(unknown, 401, "invalid-credentials")
    assert unknown.json == wrong.json
    assert unknown.headers["WWW-Authenticate"] == wrong.headers["WWW-Authenticate"]


def test_login_rehashes_when_the_argon2_parameters_changed(client, app):
    client.post("/v1/auth/register", json=registration())
    old_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2).hash(PASSWORD)
    with app.app_context():
        db.session.execute(User.__table__.update().values(password_hash=old_hash))
        db.session.commit()
    assert (
        client.post("/v1/auth/login", json={"email": "ana@example.org", "password": PASSWORD}).status_code
        == 200
    )
    with app.app_context():
        new_hash = db.session.scalar(select(User.password_hash))
    assert new_hash != old_hash and new_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert (
        client.post("/v1/auth/login", json={"email": "ana@example.org", "password": PASSWORD}).status_code
        == 200
    )
