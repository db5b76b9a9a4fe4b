"""The spec is a product: committed, current, valid, and complete for client generators."""

import json
import re
import zoneinfo

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
        expected = {"429", "500", "503"}
        if method in {"put", "patch", "delete"}:
            expected.add("409")  # a write that loses a race to another writer of the same row
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
            if status in ("429", "503"):
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


# --- what a generated client can rely on --------------------------------------------------------

REF = "#/components/schemas/"


def schema_refs(node, found=None):
    """Names of the component schemas a node refers to, following nothing."""
    found = set() if found is None else found
    if isinstance(node, dict):
        if str(node.get("$ref", "")).startswith(REF):
            found.add(node["$ref"][len(REF) :])
        for value in node.values():
            schema_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            schema_refs(value, found)
    return found


def reachable(spec, roots):
    seen, todo = set(), set(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= schema_refs(spec["components"]["schemas"][name])
    return seen


def directions(spec):
    """(schemas reachable from request bodies and parameters, from 2xx responses)."""
    sent, received = set(), set()
    for _, _, operation in operations(spec):
        schema_refs(operation.get("requestBody", {}), sent)
        schema_refs(operation.get("parameters", []), sent)
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                schema_refs(response, received)
    return reachable(spec, sent), reachable(spec, received)


def validator_for(spec, schema):
    from openapi_schema_validator import OAS31Validator

    return OAS31Validator({**schema, "components": spec["components"]})


def test_response_schemas_require_every_property_they_always_send(spec):
    schemas = spec["components"]["schemas"]
    sent, received = directions(spec)
    assert not {name for name in sent & received if "properties" in schemas[name]}, (
        "an object schema travels both ways: split it into a request and a response schema"
    )
    for name in received:
        if "properties" in schemas[name]:
            assert schemas[name]["required"] == sorted(schemas[name]["properties"]), name
    assert schemas["TokenPair"]["required"] == ["access_token", "expires_in", "refresh_token", "token_type"]
    for name in ["User", "Mood", "Session", "Entry", "Contact", "Practice", "Assessment"]:
        assert {"id", "version", "created_at", "updated_at"} <= set(schemas[name]["required"]), name
    for name in ["MoodPage", "SyncPage", "MoodChange", "CareLink", "InvitationCreated", "PatientSummary"]:
        assert name in received and schemas[name]["required"], name
    assert {"items", "next_cursor"} <= set(schemas["AccessLogPage"]["required"])
    # nullable properties say so
    assert schemas["Mood"]["properties"]["note"]["type"] == ["string", "null"]
    assert schemas["Entry"]["properties"]["acknowledged_by"] == {
        "anyOf": [{"$ref": REF + "Person"}, {"type": "null"}],
        "description": "The linked therapist who marked this shared entry read; null until then.",
    }


def test_request_schemas_have_no_defaults_read_or_write_only(spec):
    schemas = spec["components"]["schemas"]
    sent, received = directions(spec)
    for name in sent - received:
        for prop_name, prop in schemas[name].get("properties", {}).items():
            assert not {"default", "readOnly", "writeOnly"} & prop.keys(), f"{name}.{prop_name}"
    assert "default" not in schemas["MoodCreate"]["properties"]["id"]
    assert "Default `UTC`" in schemas["Registration"]["properties"]["timezone"]["description"]
    for name in received:
        for prop_name, prop in schemas[name].get("properties", {}).items():
            assert not {"default", "readOnly", "writeOnly"} & prop.keys(), f"{name}.{prop_name}"


def test_the_sync_change_is_a_discriminated_union_of_typed_records(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["SyncPage"]["properties"]["changes"]["items"] == {"$ref": REF + "Change"}
    change = schemas["Change"]
    assert change["discriminator"]["propertyName"] == "type"
    assert [option["$ref"] for option in change["oneOf"]] == list(change["discriminator"]["mapping"].values())
    for sync_type, ref in change["discriminator"]["mapping"].items():
        variant = schemas[ref[len(REF) :]]
        assert variant["properties"]["type"] == {"type": "string", "const": sync_type}
        record = variant["properties"]["data"]["anyOf"]
        assert record[1] == {"type": "null"}
        assert ref == f"{REF}{record[0]['$ref'][len(REF) :]}Change"
        assert variant["properties"]["op"] == {"$ref": REF + "ChangeOp"}


def test_problems_are_typed_per_use(spec):
    schemas = spec["components"]["schemas"]
    assert "errors" in schemas["ValidationProblem"]["required"]
    assert "errors" not in schemas["Problem"]["properties"]
    field_errors = schemas["FieldErrors"]["additionalProperties"]["anyOf"]
    assert field_errors[1] == {"$ref": REF + "FieldErrors"}  # nested errors are typed, recursively
    checked = 0
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        if "422" in responses:
            assert resolve(spec, responses["422"])["content"]["application/problem+json"]["schema"] == {
                "$ref": REF + "ValidationProblem"
            }, f"{method} {path}"
        if "412" in responses:
            problem = responses["412"]["content"]["application/problem+json"]["schema"]["$ref"]
            record = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            current = schemas[problem[len(REF) :]]["properties"]["current"]["$ref"]
            assert current == record["$ref"] and "current" in schemas[problem[len(REF) :]]["required"]
            checked += 1
    assert checked >= 15


def test_every_header_the_server_sends_is_documented(spec):
    def headers_of(response):
        return resolve(spec, response).get("headers", {})

    for path, method, operation in operations(spec):
        responses = operation["responses"]
        ok = responses.get("200", {})
        schema = resolve(spec, ok).get("content", {}).get("application/json", {}).get("schema", {})
        if schema.get("$ref", "").endswith("Page") and not path.endswith("/sync"):
            assert "Link" in headers_of(ok), f"{method} {path}"
        if "304" in responses:
            assert "ETag" in headers_of(responses["304"]), f"{method} {path}"
        if "201" in responses:
            assert "Location" in headers_of(responses["201"]), f"{method} {path}"
            if path != "/v1/auth/register":
                assert "ETag" in headers_of(responses["201"]), f"{method} {path}"
    creates = [op for _, method, op in operations(spec) if op["operationId"] in {"createMood", "createEntry"}]
    for create in creates:
        assert "Idempotent-Replayed" in headers_of(create["responses"]["201"])
    acknowledge = spec["paths"]["/v1/patients/{patient_id}/entries/{entry_id}/acknowledgement"]["post"]
    assert "ETag" in headers_of(acknowledge["responses"]["200"])


def test_etag_parameters_describe_the_etag_form(spec):
    for name in ("IF_MATCH", "IF_NONE_MATCH"):
        schema = spec["components"]["parameters"][name]["schema"]
        check = validator_for(spec, schema)
        assert check.is_valid('"3"') and check.is_valid('W/"12"')
        assert not check.is_valid("") and not check.is_valid("3") and not check.is_valid('"abc"')


def test_refresh_takes_the_refresh_token_under_its_own_scheme(spec):
    refresh = spec["paths"]["/v1/auth/refresh"]["post"]
    assert refresh["security"] == [{"refreshToken": []}]
    scheme = spec["components"]["securitySchemes"]["refreshToken"]
    assert scheme["scheme"] == "bearer" and "refresh" in scheme["description"]
    assert "same new refresh token" in " ".join(refresh["description"].split())


def test_every_enum_is_a_named_string_component(spec):
    schemas = spec["components"]["schemas"]

    def inline_enums(node, where):
        if isinstance(node, dict):
            if "enum" in node:
                yield where
            for key, value in node.items():
                yield from inline_enums(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from inline_enums(value, f"{where}/{index}")

    named = {name for name, schema in schemas.items() if "enum" in schema}
    for name in named:
        assert schemas[name]["type"] == "string" and None not in schemas[name]["enum"], name
    elsewhere = [
        where for name, schema in schemas.items() if name not in named for where in inline_enums(schema, name)
    ]
    elsewhere += list(inline_enums(spec["paths"], "paths"))
    assert elsewhere == []
    assert {"Emotion", "EntryKind", "Route", "Scope", "Relationship", "Severity", "TimeZone"} <= named
    text = json.dumps(spec)
    assert text.count('"$ref": "#/components/schemas/Emotion"') >= 10


def test_time_zones_are_the_zone_names_the_server_accepts(client, spec):
    from api.fields import time_zone_names

    zones = spec["components"]["schemas"]["TimeZone"]["enum"]
    assert zones == list(time_zone_names()) and "Europe/Berlin" in zones and "UTC" in zones
    assert "localtime" not in zones  # a system file, not a zone name
    for zone in zones:
        zoneinfo.ZoneInfo(zone)  # every name the server accepts can be used
    body = {
        "email": "tz@example.org",
        "password": "a long passphrase",
        "display_name": "T",
        "role": "patient",
    }
    for zone, status in (("localtime", 422), ("Pacific/Chatham", 201)):
        response = client.post(
            "/v1/auth/register", json={**body, "email": f"{len(zone)}@x.org", "timezone": zone}
        )
        assert response.status_code == status, zone


def test_ranges_use_one_bound_each(spec):
    dose = spec["components"]["schemas"]["SessionCreate"]["properties"]["dose_mg"]
    assert dose["exclusiveMinimum"] == 0 and "minimum" not in dose

    def both(node):
        if isinstance(node, dict):
            if {"minimum", "exclusiveMinimum"} <= node.keys() or {
                "maximum",
                "exclusiveMaximum",
            } <= node.keys():
                yield node
            for value in node.values():
                yield from both(value)
        elif isinstance(node, list):
            for value in node:
                yield from both(value)

    assert list(both(spec)) == []


def test_a_server_entry_is_declared(spec):
    assert spec["servers"][0]["url"] == "/"


def test_every_body_and_success_response_has_an_example_that_fits_its_schema(spec):
    for path, method, operation in operations(spec):
        media = list(operation.get("requestBody", {}).get("content", {}).items())
        for status, response in operation["responses"].items():
            if status.startswith("2"):
                media += list(resolve(spec, response).get("content", {}).items())
        for media_type, content in media:
            assert "example" in content, f"{method} {path} {media_type}"
            errors = [
                error.message
                for error in validator_for(spec, content["schema"]).iter_errors(content["example"])
            ]
            assert errors == [], f"{method} {path}: {errors}"
    sync_example = spec["paths"]["/v1/sync"]["get"]["responses"]["200"]["content"]["application/json"][
        "example"
    ]
    assert [change["type"] for change in sync_example["changes"]] == [
        "session",
        "follow_up",
        "entry",
        "mood",
        "contact",
        "practice",
        "assessment",
        "safety_event",
    ]


def test_the_documented_cursors_are_ones_the_server_takes_back(client, patient, make_account, spec):
    """An example is not only schema-valid: a client copying a page's `next_cursor` from the docs
    gets the next page, not a 422."""
    therapist = make_account("therapist")
    tried = 0
    for path, method, operation in operations(spec):
        example = resolve(spec, operation["responses"].get("200", {})).get("content", {})
        cursor = example.get("application/json", {}).get("example", {})
        if method != "get" or "{" in path or not isinstance(cursor, dict) or not cursor.get("next_cursor"):
            continue
        caller = therapist if path in ("/v1/patients", "/v1/invitations", "/v1/safety-events") else patient
        response = client.get(path, headers=caller.headers, query_string={"cursor": cursor["next_cursor"]})
        assert response.status_code == 200, (path, response.json)
        tried += 1
    assert tried >= 11
