"""The caller's own account: profile with ETags, password change, erasure."""

from sqlalchemy import func, select

from api.accounts.models import RefreshToken, TokenFamily, User
from api.extensions import db
from tests.helpers import assert_problem, bearer


def test_read_profile_with_etag(client, patient):
    response = client.get("/v1/me", headers=patient.headers)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    assert set(response.json) == {
        "id",
        "email",
        "display_name",
        "role",
        "timezone",
        "country",
        "version",
        "created_at",
        "updated_at",
    }
    assert response.json["id"] == patient.id


def test_if_none_match_gives_304(client, patient):
    response = client.get("/v1/me", headers={**patient.headers, "If-None-Match": '"1"'})
    assert response.status_code == 304 and response.data == b""
    assert response.headers["ETag"] == '"1"'
    assert client.get("/v1/me", headers={**patient.headers, "If-None-Match": '"7"'}).status_code == 200


def test_patch_needs_if_match(client, patient):
    response = client.patch("/v1/me", headers=patient.headers, json={"display_name": "New"})
    assert_problem(response, 428, "precondition-required")
    assert client.get("/v1/me", headers=patient.headers).json["display_name"] == "Test patient"


def test_patch_with_a_stale_etag_is_412_with_the_current_profile(client, patient):
    response = client.patch(
        "/v1/me", headers={**patient.headers, "If-Match": '"9"'}, json={"display_name": "New"}
    )
    problem = assert_problem(response, 412, "precondition-failed")
    assert problem["current"]["display_name"] == "Test patient"
    assert problem["current"]["version"] == 1


def test_patch_updates_and_bumps_the_version(client, patient):
    response = client.patch(
        "/v1/me",
        headers={**patient.headers, "If-Match": '"1"'},
        json={"display_name": " Ana M. ", "timezone": "America/New_York", "country": "us"},
    )
    assert response.status_code == 200
    assert response.json["display_name"] == "Ana M."
    assert response.json["timezone"] == "America/New_York" and response.json["country"] == "US"
    assert response.json["version"] == 2 and response.headers["ETag"] == '"2"'
    # the old ETag is now stale
    stale = client.patch("/v1/me", headers={**patient.headers, "If-Match": '"1"'}, json={"country": None})
    assert_problem(stale, 412)
    cleared = client.patch("/v1/me", headers={**patient.headers, "If-Match": '"2"'}, json={"country": None})
    assert cleared.json["country"] is None


def test_patch_rejects_bad_and_read_only_fields_and_changes_nothing(client, patient):
    for body in (
        {"timezone": "Nowhere/Place"},
        {"role": "therapist"},
        {"email": "x@y.org"},
        {"version": 5},
        {"display_name": ""},
    ):
        response = client.patch("/v1/me", headers={**patient.headers, "If-Match": '"1"'}, json=body)
        assert_problem(response, 422, "validation-error")
    profile = client.get("/v1/me", headers=patient.headers).json
    assert profile["version"] == 1 and profile["role"] == "patient"


def refreshed_access_token(client, account):
    return client.post("/v1/auth/refresh", headers=bearer(account.refresh_token)).json["access_token"]


def test_password_change_needs_a_fresh_token(client, patient):
    token = refreshed_access_token(client, patient)
    body = {"current_password": patient.password, "new_password": "a brand new passphrase"}
    assert_problem(
        client.post("/v1/me/password", headers=bearer(token), json=body), 401, "fresh-login-required"
    )


def test_password_change_with_the_wrong_current_password_is_403(client, patient):
    body = {"current_password": "not my password", "new_password": "a brand new passphrase"}
    assert_problem(client.post("/v1/me/password", headers=patient.headers, json=body), 403, "wrong-password")
    assert (
        client.post("/v1/auth/login", json={"email": patient.email, "password": patient.password}).status_code
        == 200
    )


def test_password_change_rejects_a_short_new_password(client, patient):
    body = {"current_password": patient.password, "new_password": "short"}
    problem = assert_problem(client.post("/v1/me/password", headers=patient.headers, json=body), 422)
    assert "new_password" in problem["errors"]


def test_password_change_signs_out_every_other_login(client, patient):
    other = client.post("/v1/auth/login", json={"email": patient.email, "password": patient.password}).json
    body = {"current_password": patient.password, "new_password": "a brand new passphrase"}
    assert client.post("/v1/me/password", headers=patient.headers, json=body).status_code == 204
    # this login goes on
    assert client.get("/v1/me", headers=patient.headers).status_code == 200
    assert client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)).status_code == 200
    # the other login is gone, access and refresh
    assert_problem(client.get("/v1/me", headers=bearer(other["access_token"])), 401)
    assert_problem(client.post("/v1/auth/refresh", headers=bearer(other["refresh_token"])), 401)
    # only the new password signs in
    assert (
        client.post("/v1/auth/login", json={"email": patient.email, "password": patient.password}).status_code
        == 401
    )
    assert (
        client.post(
            "/v1/auth/login", json={"email": patient.email, "password": "a brand new passphrase"}
        ).status_code
        == 200
    )


def test_password_checks_are_throttled(client, patient):
    body = {"current_password": "not my password", "new_password": "a brand new passphrase"}
    statuses = [
        client.post("/v1/me/password", headers=patient.headers, json=body).status_code for _ in range(6)
    ]
    assert statuses == [403] * 5 + [429]


def count(app, model, **where):
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session.scalar(query)


def test_erasure_needs_a_fresh_token_and_the_password(app, client, patient):
    token = refreshed_access_token(client, patient)
    assert_problem(
        client.delete("/v1/me", headers=bearer(token), json={"password": patient.password}),
        401,
        "fresh-login-required",
    )
    assert_problem(
        client.delete("/v1/me", headers=patient.headers, json={"password": "wrong one!"}),
        403,
        "wrong-password",
    )
    assert_problem(client.delete("/v1/me", headers=patient.headers, json={}), 422)
    assert count(app, User) == 1


def test_erasure_removes_the_account_and_its_tokens(app, client, make_account):
    patient, bystander = make_account(), make_account()
    response = client.delete("/v1/me", headers=patient.headers, json={"password": patient.password})
    assert response.status_code == 204
    assert_problem(client.get("/v1/me", headers=patient.headers), 401)
    assert_problem(client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)), 401)
    assert (
        client.post("/v1/auth/login", json={"email": patient.email, "password": patient.password}).status_code
        == 401
    )
    with app.app_context():
        assert db.session.get(User, __import__("uuid").UUID(patient.id)) is None
    assert count(app, User) == 1 and count(app, TokenFamily) == 1 and count(app, RefreshToken) == 1
    # the address is free again, and the bystander is untouched
    again = client.post(
        "/v1/auth/register",
        json={
            "email": patient.email,
            "password": "another good password",
            "display_name": "New",
            "role": "patient",
        },
    )
    assert again.status_code == 201 and again.json["id"] != patient.id
    assert client.get("/v1/me", headers=bystander.headers).status_code == 200
