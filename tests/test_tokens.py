"""Token verification, refresh rotation with reuse detection, logout, and revocation that lasts."""

import base64
import json
import threading
import uuid
from datetime import timedelta

import jwt as pyjwt
import pytest
from sqlalchemy import select, update

from api.accounts.models import RefreshToken, TokenFamily
from api.app import create_app
from api.extensions import db
from api.models import utcnow
from tests.helpers import assert_problem, bearer


def claims_of(token):
    return pyjwt.decode(token, options={"verify_signature": False})


def sign(app, claims, *, key=None, algorithm="HS256"):
    return pyjwt.encode(claims, key or app.config["JWT_SECRET_KEY"], algorithm=algorithm)


def without(claims, name):
    return {key: value for key, value in claims.items() if key != name}


def tamper_payload(token, **changes):
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def unsigned(claims):
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."


def now_ts():
    return int(utcnow().timestamp())


FORGERIES = {
    "no jti": lambda app, a, r: sign(app, without(claims_of(a), "jti")),
    "jti not a uuid": lambda app, a, r: sign(app, {**claims_of(a), "jti": "1"}),
    "no family": lambda app, a, r: sign(app, without(claims_of(a), "fam")),
    "unknown family": lambda app, a, r: sign(app, {**claims_of(a), "fam": str(uuid.uuid4())}),
    "sub not a uuid": lambda app, a, r: sign(app, {**claims_of(a), "sub": "admin"}),
    "sub of someone else": lambda app, a, r: sign(app, {**claims_of(a), "sub": str(uuid.uuid4())}),
    "alg none": lambda app, a, r: unsigned(claims_of(a)),
    "alg HS512 with the right key": lambda app, a, r: sign(app, claims_of(a), algorithm="HS512"),
    "wrong key": lambda app, a, r: sign(app, claims_of(a), key="another-secret-that-is-long-enough-123456"),
    "tampered payload": lambda app, a, r: tamper_payload(a, sub=str(uuid.uuid4())),
    "tampered expiry": lambda app, a, r: tamper_payload(a, exp=now_ts() + 86400),
    "expired": lambda app, a, r: sign(
        app, {**claims_of(a), "iat": now_ts() - 2000, "nbf": now_ts() - 2000, "exp": now_ts() - 1000}
    ),
    "not yet valid": lambda app, a, r: sign(
        app, {**claims_of(a), "nbf": now_ts() + 600, "exp": now_ts() + 1200}
    ),
    "issued in the future": lambda app, a, r: sign(
        app, {**claims_of(a), "iat": now_ts() + 600, "nbf": now_ts(), "exp": now_ts() + 900}
    ),
    "wrong issuer": lambda app, a, r: sign(app, {**claims_of(a), "iss": "someone-else"}),
    "wrong audience": lambda app, a, r: sign(app, {**claims_of(a), "aud": "another-api"}),
    "refresh token used as access": lambda app, a, r: r,
    "garbage": lambda app, a, r: "not.a.jwt",
    "empty": lambda app, a, r: "",
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_and_wrong_tokens_are_401(app, client, patient, forgery):
    token = FORGERIES[forgery](app, patient.access_token, patient.refresh_token)
    response = client.get("/v1/me", headers=bearer(token))
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="integration-journal"')
    # the genuine token still works, so the 401 is about the forgery alone
    assert client.get("/v1/me", headers=patient.headers).status_code == 200


def test_expired_token_says_so(app, client, patient):
    expired = FORGERIES["expired"](app, patient.access_token, None)
    assert_problem(client.get("/v1/me", headers=bearer(expired)), 401, "token-expired")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "bearer"])
def test_malformed_authorization_headers_are_401(client, header):
    response = client.get("/v1/me", headers={"Authorization": header})
    assert_problem(response, 401)


def test_access_token_cannot_refresh(client, patient):
    assert_problem(client.post("/v1/auth/refresh", headers=patient.headers), 401, "invalid-token")


def test_refresh_rotates_the_pair(client, patient):
    response = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token))
    assert response.status_code == 200
    pair = response.json
    assert pair["refresh_token"] != patient.refresh_token
    assert claims_of(pair["refresh_token"])["fam"] == claims_of(patient.refresh_token)["fam"]
    assert claims_of(pair["access_token"])["fresh"] is False
    assert client.get("/v1/me", headers=bearer(pair["access_token"])).status_code == 200
    again = client.post("/v1/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert again.status_code == 200


def test_a_retry_within_the_grace_window_gets_the_same_child(client, patient):
    first = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token))
    retry = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token))
    assert first.status_code == retry.status_code == 200
    assert retry.json["refresh_token"] == first.json["refresh_token"]
    assert client.get("/v1/me", headers=bearer(retry.json["access_token"])).status_code == 200
    # the family is intact: the child rotates normally
    assert client.post("/v1/auth/refresh", headers=bearer(retry.json["refresh_token"])).status_code == 200


def test_two_simultaneous_refreshes_do_not_log_the_phone_out(app, patient):
    results = []
    barrier = threading.Barrier(2)

    def refresh():
        client = app.test_client()
        barrier.wait()
        results.append(client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)))

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [response.status_code for response in results] == [200, 200]
    assert results[0].json["refresh_token"] == results[1].json["refresh_token"]
    client = app.test_client()
    assert (
        client.post("/v1/auth/refresh", headers=bearer(results[0].json["refresh_token"])).status_code == 200
    )


def age_used_refresh_tokens(app, seconds):
    with app.app_context():
        db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.used_at.is_not(None))
            .values(used_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


def test_reuse_after_the_grace_window_revokes_the_whole_family(app, client, make_account):
    patient = make_account()
    other_login = client.post(
        "/v1/auth/login", json={"email": patient.email, "password": patient.password}
    ).json
    child = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)).json
    age_used_refresh_tokens(app, 31)

    # replaying the used token: 401, and every token of that login dies with it
    assert_problem(
        client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)), 401, "refresh-token-reused"
    )
    for token in (patient.access_token, child["access_token"]):
        assert_problem(client.get("/v1/me", headers=bearer(token)), 401, "token-revoked")
    assert_problem(
        client.post("/v1/auth/refresh", headers=bearer(child["refresh_token"])), 401, "token-revoked"
    )
    # another login of the same person is untouched
    assert client.get("/v1/me", headers=bearer(other_login["access_token"])).status_code == 200
    with app.app_context():
        reason = db.session.scalar(
            select(TokenFamily.revoked_reason).where(TokenFamily.revoked_at.is_not(None))
        )
    assert reason == "refresh_reuse"


def test_replaying_a_parent_after_its_child_was_used_is_reuse(client, patient):
    child = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)).json
    grandchild = client.post("/v1/auth/refresh", headers=bearer(child["refresh_token"])).json
    assert_problem(
        client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)), 401, "refresh-token-reused"
    )
    assert_problem(client.get("/v1/me", headers=bearer(grandchild["access_token"])), 401, "token-revoked")


def test_logout_revokes_that_logins_access_and_refresh_tokens(client, make_account):
    patient = make_account()
    other_login = client.post(
        "/v1/auth/login", json={"email": patient.email, "password": patient.password}
    ).json
    response = client.post("/v1/auth/logout", headers=patient.headers)
    assert response.status_code == 204 and response.data == b""
    assert_problem(client.get("/v1/me", headers=patient.headers), 401, "token-revoked")
    assert_problem(
        client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)), 401, "token-revoked"
    )
    assert client.get("/v1/me", headers=bearer(other_login["access_token"])).status_code == 200


def test_logout_holds_on_another_instance_and_after_a_restart(config_class, client, patient):
    client.post("/v1/auth/logout", headers=patient.headers)
    restarted = create_app(config_class).test_client()
    assert_problem(restarted.get("/v1/me", headers=patient.headers), 401, "token-revoked")
    assert_problem(
        restarted.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)), 401, "token-revoked"
    )


def test_tokens_survive_a_restart_until_revoked(config_class, patient):
    restarted = create_app(config_class).test_client()
    assert restarted.get("/v1/me", headers=patient.headers).status_code == 200
    assert restarted.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)).status_code == 200


def test_expired_refresh_token_is_401(app, client, patient):
    claims = claims_of(patient.refresh_token)
    expired = sign(app, {**claims, "exp": now_ts() - 1})
    assert_problem(client.post("/v1/auth/refresh", headers=bearer(expired)), 401, "token-expired")


def test_a_refresh_without_a_token_says_which_token_it_takes(client):
    response = client.post("/v1/auth/refresh")
    assert response.status_code == 401 and "Bearer <refresh token>" in response.json["detail"]
    assert "Bearer <access token>" in client.get("/v1/me").json["detail"]
