"""The spec is a product: committed, current, valid, and complete for client generators."""

import json
import re

import pytest
from openapi_spec_validator import validate

from api.spec import render
from config import BASE_DIR

COMMITTED = BASE_DIR / "openapi" / "openapi.json"
METHODS = {"get", "post", "put", "patch", "delete"}


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(spec, node):
    while "$ref" in node:
        name = node["$ref"].split("/")[-1]
        kind = node["$ref"].split("/")[-2]
        node = spec["components"][kind][name]
    return node


def test_committed_spec_is_current(app, spec):
    committed = json.loads(COMMITTED.read_text())
    assert committed == spec, "openapi/openapi.json is stale: run `make spec` and commit it"
    assert COMMITTED.read_text() == render(app), "run `make spec` to rewrite openapi/openapi.json"


def test_spec_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_bearer_security_is_global(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert spec["security"] == [{"bearerAuth": []}]


def test_every_operation_has_a_unique_camel_case_operation_id_and_summary(spec):
    seen = set()
    for path, method, operation in operations(spec):
        operation_id = operation.get("operationId", "")
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]+", operation_id), (
            f"{method} {path}: operationId {operation_id!r}"
        )
        assert operation_id not in seen, f"duplicate operationId {operation_id}"
        seen.add(operation_id)
        assert operation.get("summary", "").strip(), f"{method} {path} has no summary"


def test_every_operation_documents_its_errors_as_problem_json(spec):
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        expected = {"429", "500"}
        if operation.get("security") != []:
            expected.add("401")
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "413", "415", "422"}
        assert expected <= responses.keys(), f"{method} {path} lacks {expected - responses.keys()}"
        for status, response in responses.items():
            if status == "default" or int(status) >= 400:
                content = resolve(spec, response)["content"]
                assert list(content) == ["application/problem+json"], f"{method} {path} {status}"


def test_every_response_documents_request_id_and_rate_limit_headers(spec):
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            headers = resolve(spec, response).get("headers", {})
            if status != "default":
                assert {"X-Request-ID", "X-RateLimit-Limit"} <= headers.keys(), f"{method} {path} {status}"
            if status == "429":
                assert "Retry-After" in headers


def test_public_operations_are_exactly_the_allow_list(spec):
    public = {
        (method.upper(), path)
        for path, method, operation in operations(spec)
        if operation.get("security") == []
    }
    assert public == {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("POST", "/v1/auth/register"),
        ("POST", "/v1/auth/login"),
    }


@pytest.mark.parametrize(
    "page, asset",
    [
        ("/docs", "/static/docs/swagger-ui/swagger-ui-bundle.js"),
        ("/redoc", "/static/docs/redoc/redoc.standalone.js"),
    ],
)
def test_docs_pages_load_with_no_internet(client, page, asset):
    html = client.get(page)
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert asset in text
    assert not re.search(r'(src|href)="https?://', text), "docs must not load assets from the internet"
    script = client.get(asset)
    assert script.status_code == 200 and len(script.data) > 100_000
    assert client.get("/openapi.json").status_code == 200


def test_swagger_ui_stylesheet_and_preset_are_served(client):
    for name in ("swagger-ui.css", "swagger-ui-standalone-preset.js"):
        assert client.get(f"/static/docs/swagger-ui/{name}").status_code == 200


def test_problem_bodies_match_the_documented_schema(client, patient, spec):
    from openapi_schema_validator import OAS31Validator

    def validator(name):
        return OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]})

    bad_vitals = {
        "started_at": "2026-03-01T09:00:00Z",
        "vitals": [{"taken_at": "x", "systolic": "high"}],
        "tags": 1,
    }
    responses = [
        client.post("/v1/sessions", headers=patient.headers, json=bad_vitals),
        client.post("/v1/entries", headers=patient.headers, json={"body": "x", "tags": ["", "ok"]}),
        client.get("/v1/moods?limit=0", headers=patient.headers),
        client.get("/v1/moods"),
        client.delete(f"/v1/moods/{patient.id}", headers=patient.headers),
        # a closed vocabulary names where to look, rather than listing every choice
        client.get("/v1/entries?emotion=meh", headers=patient.headers),
        client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "emotions": ["meh"]}),
        client.post("/v1/care-team", headers=patient.headers, json={"code": "nope", "scopes": ["moods"]}),
    ]
    assert responses[0].json["errors"]["vitals"] == {
        "0": {"taken_at": ["Not a valid datetime."], "systolic": ["Not a valid integer."]}
    }
    for response in responses:
        validator("ValidationProblem" if response.status_code == 422 else "Problem").validate(response.json)
        assert ("errors" in response.json) == (response.status_code == 422)
