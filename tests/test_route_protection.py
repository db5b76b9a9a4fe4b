"""Every route demands a token unless it is on this short allow-list."""

import re
import uuid

import pytest

from tests.helpers import assert_problem

PUBLIC_ROUTES = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("POST", "/v1/auth/register"),
    ("POST", "/v1/auth/login"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
    ("GET", "/static/<path:filename>"),
}


# What each public route answers, without a token, to `{}` as its body: (status, media type, and
# what the body shows). Register and sign-in read the body and find its fields missing.
def healthy(response):
    return response.json == {"status": "ok"}


def names_the_missing_fields(response):
    return {"email", "password"} <= response.json["errors"].keys()


def is_the_spec(response):
    return response.json["openapi"].startswith("3.") and "/v1/me" in response.json["paths"]


def is_a_page(response):
    return b"<html" in response.data.lower()


def is_the_versions_file(response):
    return response.data.startswith(b"swagger-ui-dist ")


PUBLIC_ANSWERS = {
    ("GET", "/health/live"): (200, "application/json", healthy),
    ("GET", "/health/ready"): (200, "application/json", healthy),
    ("POST", "/v1/auth/register"): (422, "application/problem+json", names_the_missing_fields),
    ("POST", "/v1/auth/login"): (422, "application/problem+json", names_the_missing_fields),
    ("GET", "/openapi.json"): (200, "application/json", is_the_spec),
    ("GET", "/docs"): (200, "text/html", is_a_page),
    ("GET", "/redoc"): (200, "text/html", is_a_page),
    ("GET", "/static/<path:filename>"): (200, None, is_the_versions_file),
}


def concrete_path(rule):
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda match: str(uuid.uuid4()), rule)


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def test_every_route_outside_the_allow_list_answers_401_without_a_token(app, client):
    checked = 0
    for method, rule in routes(app):
        if (method, rule) in PUBLIC_ROUTES:
            continue
        response = client.open(concrete_path(rule), method=method, json={})
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        # the token is missing, not bad: the challenge names no error (RFC 6750 3.1)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="integration-journal"', (method, rule)
        assert_problem(response, 401, "unauthorized")
        checked += 1
    assert checked >= 5


def test_the_allow_list_names_only_existing_routes(app):
    existing = set(routes(app))
    assert PUBLIC_ROUTES <= existing
    assert set(PUBLIC_ANSWERS) == PUBLIC_ROUTES


def test_a_missing_token_is_401_problem_json(client):
    response = client.get("/v1/me")
    problem = assert_problem(response, 401, "unauthorized")
    assert "token" in problem["detail"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="integration-journal"'


@pytest.mark.parametrize("method, rule", sorted(PUBLIC_ROUTES))
def test_public_routes_answer_without_a_token(client, method, rule):
    path = rule.replace("<path:filename>", "docs/VERSIONS")
    response = client.open(path, method=method, json={})
    status, media_type, shows = PUBLIC_ANSWERS[(method, rule)]
    assert response.status_code == status, (method, path, response.get_data(as_text=True)[:500])
    if status >= 400:
        assert_problem(response, status, "validation-error")
    if media_type is not None:
        assert response.mimetype == media_type, (method, path, response.mimetype)
    assert shows(response), (method, path, response.get_data(as_text=True)[:500])
    assert "WWW-Authenticate" not in response.headers
