"""The checker behind every test's responses (tests/spec_validation.py) catches what it should."""

import pytest
from flask import Flask, jsonify, make_response
from flask.testing import FlaskClient

from tests.spec_validation import NOTE, SpecChecker, failing

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "checker", "version": "1"},
    "paths": {
        "/things/{thing_id}": {
            "get": {
                "parameters": [
                    {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "OK",
                        "headers": {
                            "X-Count": {"schema": {"type": "integer", "maximum": 10}},
                            "X-Must": {"required": True, "schema": {"type": "string"}},
                        },
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    },
                    "202": {"description": "Accepted, no content"},
                    "default": {"$ref": "#/components/responses/Error"},
                },
            }
        }
    },
    "components": {
        "responses": {
            "Error": {
                "description": "Any error",
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        },
        "schemas": {
            "Thing": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "note": {"type": ["string", "null"]},
                    "parts": {"type": "array", "items": {"$ref": "#/components/schemas/Part"}},
                },
            },
            "Part": {"type": "object", "required": ["size"], "properties": {"size": {"type": "integer"}}},
            "Problem": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "integer"}},
            },
        },
    },
}
GOOD = {"id": "1", "name": "a", "note": None, "parts": [{"size": 1}]}
HEADERS = {"X-Count": "3", "X-Must": "yes"}
PROBLEM = {"status": 409}

CASES = {
    "good": (GOOD, 200, HEADERS, []),
    "missing field": ({"id": "1"}, 200, HEADERS, ["body: Thing at (root): 'name' is a required property"]),
    "null": ({**GOOD, "name": None}, 200, HEADERS, ["body: Thing at .name: None is not of type 'string'"]),
    "nested": ({**GOOD, "parts": [{"size": 1}, {}]}, 200, HEADERS, ["body: Part at .parts[1]:"]),
    "unknown field": ({**GOOD, "x": 1}, 200, HEADERS, ["body: Thing at (root): Additional properties"]),
    "header too big": (
        GOOD,
        200,
        {**HEADERS, "X-Count": "11"},
        ["header: header X-Count: 11: 11 is greater"],
    ),
    "header not a number": (GOOD, 200, {**HEADERS, "X-Count": "many"}, ["header: header X-Count: 'many'"]),
    "required header": (GOOD, 200, {"X-Count": "1"}, ["header: required header X-Must is missing"]),
    "extra header": (GOOD, 200, {**HEADERS, "X-Extra": "1"}, ["undocumented-header: header X-Extra"]),
    "undocumented 2xx": (GOOD, 203, {}, ["status: status 203 is not documented"]),
    "unexpected body": ("surprise", 202, {}, ["body: a body (text/html) where the spec documents none"]),
    "error via default": (PROBLEM, 409, {}, []),
    "error not problem": ("<p>no</p>", 409, {}, ["body: content type 'text/html' is not documented"]),
}


@pytest.fixture(scope="module")
def checker():
    return SpecChecker(SPEC)


@pytest.fixture(scope="module")
def client():
    app = Flask(__name__)
    app.test_client_class = FlaskClient  # these answers are checked here, against SPEC only

    @app.get("/things/<thing_id>")
    def thing(thing_id):
        body, status, headers, _ = CASES[thing_id]
        response = make_response(jsonify(body) if isinstance(body, dict) else body, status, headers)
        if body is PROBLEM:
            response.mimetype = "application/problem+json"
        return response

    @app.get("/elsewhere")
    def elsewhere():
        return "<p>gone</p>", 410

    return app.test_client()


def shown(found):
    return [f"{m.kind}: {m.detail}" for m in found]


@pytest.mark.parametrize("case", CASES)
def test_each_kind_of_mismatch_is_found(checker, client, case):
    response = client.get(f"/things/{case}")
    found = checker.check(response.request, response)
    expected = CASES[case][3]
    reported = shown(m for m in found if m.kind != NOTE)
    assert len(reported) == len(expected), reported
    for text, wanted in zip(reported, expected, strict=True):
        assert text.startswith(wanted), (text, wanted)
    assert {m.template for m in found} <= {"/things/{thing_id}"}


def test_an_error_status_only_default_covers_is_a_note_that_fails_nothing(checker, client):
    response = client.get("/things/error via default")
    found = checker.check(response.request, response)
    assert [m.kind for m in found] == [NOTE] and failing([found]) == []


def test_requests_no_operation_matches_are_only_checked_for_problem_json(checker, client):
    gone = client.get("/elsewhere")
    assert shown(checker.check(gone.request, gone)) == [
        "not-a-problem: error answered as 'text/html', not application/problem+json"
    ]
    head, options = client.head("/things/good"), client.options("/things/good")
    assert (head.status_code, options.status_code) == (200, 200)
    assert checker.check(head.request, head) == checker.check(options.request, options) == []
