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
        checked += 1
    assert checked >= 5


def test_the_allow_list_names_only_existing_routes(app):
    existing = set(routes(app))
    assert PUBLIC_ROUTES <= existing


@pytest.mark.parametrize("method, rule", sorted(PUBLIC_ROUTES))
def test_public_routes_answer_without_a_token(client, method, rule):
    path = rule.replace("<path:filename>", "docs/VERSIONS")
    response = client.open(path, method=method, json={})
    assert response.status_code != 401
