"""One error shape for everything: problem+json, request ids, no-store, body limits."""

import flask
import pytest

from api.app import create_app
from tests.helpers import assert_problem


def test_unknown_path_is_a_problem_404(client):
    first = assert_problem(client.get("/v1/no-such-thing"), 404, "not-found")
    second = assert_problem(client.get("/nothing/here"), 404, "not-found")
    assert first == second


def test_wrong_method_is_405_with_allow(client):
    response = client.delete("/health/live")
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}


def test_body_over_max_content_length_is_413(client, app):
    too_big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/v1/auth/login", data=too_big, content_type="application/json")
    assert_problem(response, 413, "payload-too-large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_is_415(client, content_type):
    response = client.post("/v1/auth/login", data="email=a&password=b", content_type=content_type)
    assert_problem(response, 415, "unsupported-media-type")


def test_malformed_json_is_400(client):
    response = client.post("/v1/auth/login", data='{"email": ', content_type="application/json")
    assert_problem(response, 400, "bad-request")


def test_unknown_body_fields_are_422_with_field_errors(client):
    body = {"email": "a@example.org", "password": "whatever-long", "remember_me": True}
    problem = assert_problem(client.post("/v1/auth/login", json=body), 422, "validation-error")
    assert problem["errors"] == {"remember_me": ["Unknown field."]}


def test_missing_fields_are_each_reported(client):
    problem = assert_problem(client.post("/v1/auth/register", json={}), 422, "validation-error")
    assert set(problem["errors"]) == {"email", "password", "display_name", "role"}


@pytest.mark.parametrize("body", [[], "text", 42, None])
def test_a_json_body_that_is_not_an_object_is_422(client, body):
    assert_problem(client.post("/v1/auth/login", json=body), 422, "validation-error")


def test_a_missing_body_is_422_before_anything_else_is_checked(client, patient):
    problem = assert_problem(client.patch("/v1/me", headers={**patient.headers, "If-Match": '"9"'}), 422)
    assert problem["errors"] == {"_schema": ["This request needs a JSON object body."]}
    assert_problem(client.post("/v1/auth/login"), 422)


def test_an_unexpected_exception_is_a_500_problem_without_traceback(config_class):
    app = create_app(config_class)

    @app.route("/explode")
    def explode():
        raise RuntimeError("secret internals: SELECT * FROM users")

    response = app.test_client().get("/explode", headers={"X-Request-ID": "trace-me-1"})
    problem = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text and "secret" not in text
    assert response.headers["X-Request-ID"] == "trace-me-1"
    assert "X-Request-ID" in problem["detail"]


def test_request_id_is_echoed_when_given(client):
    response = client.get("/health/live", headers={"X-Request-ID": "app-1234.abc"})
    assert response.headers["X-Request-ID"] == "app-1234.abc"


@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 129, "<script>"])
def test_request_id_is_generated_when_missing_or_unsafe(client, given):
    headers = {"X-Request-ID": given} if given is not None else {}
    response = client.get("/health/live", headers=headers)
    request_id = response.headers["X-Request-ID"]
    assert request_id and request_id != given and len(request_id) <= 128


def test_errors_carry_request_id_too(client):
    assert client.get("/v1/me").headers["X-Request-ID"]
    assert client.get("/nope").headers["X-Request-ID"]


def test_authenticated_responses_are_not_stored(client, patient):
    assert client.get("/v1/me", headers=patient.headers).headers["Cache-Control"] == "no-store"
    assert client.get("/v1/me").headers["Cache-Control"] == "no-store"


def test_cors_allows_only_configured_origins(client, patient):
    allowed = client.get("/v1/me", headers={**patient.headers, "Origin": "https://therapist.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://therapist.example"
    assert "ETag" in allowed.headers["Access-Control-Expose-Headers"]
    other = client.get("/v1/me", headers={**patient.headers, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_problem_type_is_stable_per_kind(client):
    first = client.post("/v1/auth/login", json={"x": 1}).get_json()["type"]
    second = client.post("/v1/auth/register", json={"y": 2}).get_json()["type"]
    assert first == second == "https://integration-journal.org/problems/validation-error"


def test_flask_abort_is_a_problem_too(config_class):
    app = create_app(config_class)

    @app.route("/teapot")
    def teapot():
        flask.abort(418)

    response = app.test_client().get("/teapot")
    assert_problem(response, 418)
