"""The browser hardening headers on every response, the docs pages' Content-Security-Policy, HSTS
only over TLS, and CORS only for the origins configured (api/security_headers.py, api/app.py).
That /docs and /redoc render under their policy is checked in a real browser: `make check-docs`."""

import re
import uuid

import pytest

from api.app import create_app

HARDENING = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def directives(policy):
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


@pytest.fixture(scope="module")
def app_with(config_class):
    """An app of the test configuration with some settings changed."""

    def make(**settings):
        return create_app(type("Changed", (config_class,), settings))

    return make


def test_every_response_carries_the_hardening_headers_and_the_api_policy(client, patient):
    responses = [
        client.get("/v1/me", headers=patient.headers),  # 200
        client.get("/v1/me"),  # 401
        client.get(f"/v1/entries/{uuid.uuid4()}", headers=patient.headers),  # 404 of a route
        client.get("/no/such/route"),  # 404 of no route
        client.post("/v1/moods", headers=patient.headers, json={"mood": 99}),  # 422
        client.get("/openapi.json"),
        client.get("/static/docs/redoc/redoc.standalone.js"),
        client.options("/v1/me"),
    ]
    for response in responses:
        for name, value in HARDENING.items():
            assert response.headers.get(name) == value, (response.request.path, name)
        assert response.headers["Content-Security-Policy"] == API_POLICY, response.request.path
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_hsts_only_over_tls(client):
    assert "Strict-Transport-Security" not in client.get("/health/live").headers
    secure = client.get("/health/live", base_url="https://api.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


def test_behind_the_proxy_hsts_follows_the_trusted_x_forwarded_proto(app_with):
    proxied = app_with(PROXY_FIX_X_FOR=1).test_client()
    https = proxied.get("/health/live", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert "Strict-Transport-Security" not in proxied.get("/health/live").headers
    http = proxied.get("/health/live", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in http.headers
    # with no proxy configured, a client's own X-Forwarded-Proto is not believed
    direct = app_with(PROXY_FIX_X_FOR=0).test_client()
    forged = direct.get("/health/live", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


def test_swagger_ui_runs_only_its_own_files_and_the_inline_script_with_this_requests_nonce(client):
    pages = [client.get("/docs"), client.get("/docs")]
    nonces = []
    for page in pages:
        assert page.status_code == 200
        policy = directives(page.headers["Content-Security-Policy"])
        (nonce,) = [source for source in policy["script-src"] if source.startswith("'nonce-")]
        assert policy["script-src"] == ["'self'", nonce]
        html = page.get_data(as_text=True)
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
        assert inline == [f' nonce="{nonce[7:-1]}"'], inline  # the one inline script has the nonce
        assert policy["style-src"] == ["'self'"]
        assert policy["connect-src"] == ["'self'"] and policy["img-src"] == ["'self'", "data:"]
        for directive, value in (
            ("object-src", "'none'"),
            ("base-uri", "'none'"),
            ("frame-ancestors", "'none'"),
        ):
            assert policy[directive] == [value]
        assert "'unsafe-eval'" not in page.headers["Content-Security-Policy"]
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # one per response


def test_redoc_allows_inline_styles_only(client):
    page = client.get("/redoc")
    policy = directives(page.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["worker-src"] == ["blob:"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert "<script>" not in page.get_data(as_text=True)  # no inline script to allow
    assert "'unsafe-eval'" not in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize("origin", ["https://therapist.example", "https://evil.example", "null"])
def test_without_configured_origins_no_cors_header_is_sent(app_with, patient, origin):
    closed = app_with(CORS_ALLOWED_ORIGINS=[]).test_client()
    answers = [
        closed.get("/v1/me", headers={**patient.headers, "Origin": origin}),
        closed.open(
            "/v1/me",
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "Authorization, If-Match",
            },
        ),
    ]
    for answer in answers:
        assert not [name for name in answer.headers.keys() if name.lower().startswith("access-control-")]


def test_with_configured_origins_only_those_get_cors_headers_preflight_included(client):
    preflight = {"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "If-Match"}
    allowed = client.open(
        "/v1/me", method="OPTIONS", headers={"Origin": "https://therapist.example", **preflight}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://therapist.example"
    assert "PATCH" in allowed.headers["Access-Control-Allow-Methods"]
    assert "if-match" in allowed.headers["Access-Control-Allow-Headers"].lower()
    refused = client.open("/v1/me", method="OPTIONS", headers={"Origin": "https://evil.example", **preflight})
    assert not [name for name in refused.headers.keys() if name.lower().startswith("access-control-")]
