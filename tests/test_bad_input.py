"""No input gives a 500: bad input stops at the edge as a 400, 413 or 422 problem, and changes nothing.

The operations come from the spec, so an operation added later is covered without being named here.
"""

import io
import json
import re
import uuid

import pytest

from api.errors import MAX_LISTED_ERRORS
from tests.helpers import assert_problem, bearer
from tests.test_sync import drain

NOT_TEXT = "Text may not contain NUL characters or unpaired UTF-16 surrogates."
WRITES = {"post", "put", "patch", "delete"}


def operations(spec, *, with_body):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in WRITES and ("requestBody" in operation) == with_body:
                yield method, path, operation


def concrete(path):
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


@pytest.fixture
def callers(make_account):
    """Headers for each operation: none for public ones, else the first role it does not refuse (403)."""
    patient, therapist = make_account(), make_account("therapist")

    def send(client, method, path, operation, **kwargs):
        if operation.get("security") == []:
            return client.open(path, method=method, **kwargs)
        for account in (patient, therapist):
            # refreshTokens takes the refresh token; every other operation the access token
            token = (
                account.refresh_token if operation["operationId"] == "refreshTokens" else account.access_token
            )
            response = client.open(
                path, method=method, headers={**bearer(token), "If-Match": '"1"'}, **kwargs
            )
            if response.status_code != 403:
                return response
        raise AssertionError(f"{method} {path} refuses both roles")

    send.patient, send.therapist = patient, therapist
    return send


def raw(text):
    return {"data": text, "content_type": "application/json"}


BAD_BODIES = {
    # name: (body text, status, what the problem says)
    "nested 100,000 levels": ("[" * 100_000 + "]" * 100_000, 400, "nested more than"),
    "nested 11 levels in a field": ('{"note": ' + "[" * 11 + "]" * 11 + "}", 400, "nested more than"),
    "an integer of 5,000 digits": ('{"mood": ' + "9" * 5000 + "}", 400, "integer of more than"),
    "NaN": ('{"mood": NaN}', 400, "NaN"),
    "-Infinity": ('{"mood": -Infinity}', 400, "Infinity"),
    "not UTF-8": ('{"note": "\xff"}'.encode("latin-1"), 400, "not UTF-8"),
    "a lone surrogate": ('{"note": "a\\ud800b"}', 422, NOT_TEXT),
    "a NUL": ('{"note": "a\\u0000b"}', 422, NOT_TEXT),
    "a surrogate in a field name": ('{"\\udfff": 1}', 422, NOT_TEXT),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_every_json_operation_refuses_a_bad_body_without_a_500(client, spec, callers, name):
    body, status, says = BAD_BODIES[name]
    checked = 0
    for method, path, operation in operations(spec, with_body=True):
        problem = assert_problem(callers(client, method, concrete(path), operation, **raw(body)), status)
        assert says in json.dumps(problem), (method, path, problem)
        checked += 1
    assert checked >= 15
    # nothing was made or changed by any of them
    assert drain(client, callers.patient)[0] == []
    assert client.get("/v1/invitations", headers=callers.therapist.headers).json["items"] == []
    for account in (callers.patient, callers.therapist):
        assert client.get("/v1/me", headers=account.headers).json["version"] == 1


def test_a_surrogate_in_the_login_email_is_a_422_not_a_500_in_the_rate_limit_key(client, patient):
    response = client.post(
        "/v1/auth/login", **raw('{"email": "\\ud800@example.org", "password": "whatever it is"}')
    )
    assert assert_problem(response, 422)["errors"] == {"email": [NOT_TEXT]}
    # a well-formed pair of surrogates is a character like any other
    response = client.post(
        "/v1/auth/login", **raw('{"email": "\\ud83d\\ude00@example.org", "password": "whatever it is"}')
    )
    assert_problem(response, 401)


@pytest.mark.parametrize(
    "method, path, body, where",
    [
        ("post", "/v1/moods", {"mood": 5, "note": "a\x00b"}, {"note": [NOT_TEXT]}),
        ("post", "/v1/entries", {"body": "ok", "tags": ["fine", "a\x00b"]}, {"tags": {"1": [NOT_TEXT]}}),
        (
            "post",
            "/v1/sessions",
            {"started_at": "2026-03-01T09:00:00Z", "vitals": [{"taken_at": "2026-03-01T09:10:00Z\x00"}]},
            {"vitals": {"0": {"taken_at": [NOT_TEXT]}}},
        ),
        ("patch", "/v1/me", {"display_name": "a\x00b"}, {"display_name": [NOT_TEXT]}),
        (
            "post",
            "/v1/auth/register",
            {
                "email": "n@example.org",
                "password": "long enough pw",
                "display_name": "\x00",
                "role": "patient",
            },
            {"display_name": [NOT_TEXT]},
        ),
    ],
)
def test_nul_in_any_text_is_a_422_naming_the_field_on_every_database(
    client, patient, method, path, body, where
):
    response = client.open(path, method=method, headers={**patient.headers, "If-Match": '"1"'}, json=body)
    assert assert_problem(response, 422)["errors"] == where
    assert drain(client, patient)[0] == []
    assert client.get("/v1/me", headers=patient.headers).json["display_name"] == "Test patient"


@pytest.mark.parametrize("query", ["tag=a%00b", "emotion=%00", "kind=general%00", "cursor=%00"])
def test_nul_in_a_query_value_is_a_422_naming_it(client, patient, query):
    name = query.split("=")[0]
    assert assert_problem(client.get(f"/v1/entries?{query}", headers=patient.headers), 422)["errors"] == {
        name: [NOT_TEXT]
    }


@pytest.mark.parametrize("header", ["a\x00b", "ключ", "tab\there", ""])
def test_an_idempotency_key_outside_printable_ascii_is_a_422(client, patient, header):
    response = client.post(
        "/v1/moods", headers={**patient.headers, "Idempotency-Key": header}, json={"mood": 5}
    )
    assert "Idempotency-Key" in assert_problem(response, 422)["errors"]
    assert drain(client, patient)[0] == []


OUT_OF_RANGE = ["Must be from 1900-01-01T00:00:00Z to 2199-12-31T23:59:59Z."]


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1899-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
        "1900-01-01T00:00:00+14:00",
        "2199-12-31T23:59:59-14:00",
    ],  # 1899 and 2200 in UTC
)
def test_timestamps_outside_1900_to_2199_utc_are_422_in_bodies_and_filters(client, patient, moment):
    created = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": moment})
    assert assert_problem(created, 422)["errors"] == {"recorded_at": OUT_OF_RANGE}
    vitals = {"started_at": "2026-03-01T09:00:00Z", "vitals": [{"taken_at": moment}]}
    assert (
        "vitals"
        in assert_problem(client.post("/v1/sessions", headers=patient.headers, json=vitals), 422)["errors"]
    )
    for name in ("from", "to"):
        listed = client.get("/v1/moods", headers=patient.headers, query_string={name: moment})
        assert assert_problem(listed, 422)["errors"] == {name: OUT_OF_RANGE}
    assert drain(client, patient)[0] == []


def test_timestamps_at_the_ends_of_the_range_are_kept_and_can_be_sent_back(client, patient):
    for moment, stored in (
        ("1900-01-01T13:00:00+13:00", "1900-01-01T00:00:00+00:00"),
        ("2199-12-31T23:59:59Z", "2199-12-31T23:59:59+00:00"),
    ):
        created = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": moment})
        assert created.status_code == 201, created.json
        assert created.json["recorded_at"] == stored
        # what the API returns, it accepts: as a filter and in a change
        assert (
            client.get("/v1/moods", headers=patient.headers, query_string={"from": stored}).status_code == 200
        )
        changed = client.patch(
            created.headers["Location"],
            headers={**patient.headers, "If-Match": '"1"'},
            json={"recorded_at": stored},
        )
        assert changed.status_code == 200, changed.json
    assert len(client.get("/v1/moods?from=1900-01-01T00:00:00Z", headers=patient.headers).json["items"]) == 2
    # and a page cursor made from such a time still works
    page = client.get("/v1/moods?limit=1", headers=patient.headers).json
    assert (
        len(
            client.get(f"/v1/moods?limit=1&cursor={page['next_cursor']}", headers=patient.headers).json[
                "items"
            ]
        )
        == 1
    )


def test_the_documented_years_are_all_accepted_whatever_the_offset(client, patient):
    import re

    from api.fields import YEAR_PATTERN

    for moment in ("1901-01-01T00:00:00+14:00", "2198-12-31T23:59:59-14:00"):
        assert re.match(YEAR_PATTERN, moment)
        assert (
            client.post(
                "/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": moment}
            ).status_code
            == 201
        )
    for moment in ("1900-06-01T00:00:00Z", "2199-06-01T00:00:00Z"):
        assert not re.match(YEAR_PATTERN, moment)  # accepted, but not promised


def cursor(value):
    import base64

    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "value",
    [
        ["2026-01-01T00:00:00+00:00", 1],
        [1, str(uuid.uuid4())],
        ["0001-01-01T00:00:00+14:00", str(uuid.uuid4())],
        ["9999-12-31T23:59:59-14:00", str(uuid.uuid4())],
        ["2026-01-01T00:00:00+00:00", [1]],
        {"seq": 1},
        [None, None],
    ],
)
def test_tampered_list_cursors_are_422(client, patient, value):
    response = client.get(f"/v1/moods?cursor={cursor(value)}", headers=patient.headers)
    assert assert_problem(response, 422)["errors"] == {"cursor": ["Not a cursor from this list."]}


def array_fields(spec, schema, prefix=()):
    """(path, maxItems) of every array property in a request schema, nested objects included."""
    schema = resolve(spec, schema)
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(spec, prop)
        if "array" in (prop.get("type") if isinstance(prop.get("type"), list) else [prop.get("type")]):
            yield (*prefix, name), prop["maxItems"]


def resolve(spec, node):
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].split("/")[-1]]
    return node


def test_a_flood_of_bad_array_items_is_one_error_per_array(client, spec, callers):
    """200,000 bad items in a 600 KB body: the length is checked before any item, so the answer
    is one short message per array, not 200,000 of them."""
    checked = 0
    for method, path, operation in operations(spec, with_body=True):
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        for (name,), max_items in array_fields(spec, schema):
            body = f'{{"{name}": [{",".join(["{}"] * 200_000)}]}}'
            response = callers(client, method, concrete(path), operation, **raw(body))
            problem = assert_problem(response, 422)
            assert problem["errors"][name] == [f"Longer than maximum length {max_items}."], (
                method,
                path,
                name,
            )
            assert len(response.data) < 2000
            checked += 1
    assert checked >= 10


def test_error_listings_are_capped_and_counted(client, patient):
    body = "{" + ",".join(f'"field{index}": 1' for index in range(50_000)) + ', "mood": 5}'
    response = client.post("/v1/moods", headers=patient.headers, **raw(body))
    problem = assert_problem(response, 422)
    assert sum(len(messages) for messages in problem["errors"].values()) == MAX_LISTED_ERRORS
    assert problem["error_count"] == 50_000
    assert f"first {MAX_LISTED_ERRORS} of 50000" in problem["detail"]
    assert len(response.data) < 3000
    assert drain(client, patient)[0] == []


def test_a_short_listing_has_no_count(client, patient):
    problem = assert_problem(
        client.post("/v1/moods", headers=patient.headers, json={"mood": 11, "energy": 0}), 422
    )
    assert set(problem["errors"]) == {"mood", "energy"} and "error_count" not in problem


def chunked(body):
    """A chunked request body, as a WSGI server that de-chunks it hands it over."""
    return {
        "input_stream": io.BytesIO(body),
        "headers": {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        "environ_overrides": {"wsgi.input_terminated": True},
    }


def test_a_chunked_body_over_max_content_length_is_413(app, client, patient):
    too_big = b'{"email": "' + b"a" * app.config["MAX_CONTENT_LENGTH"] + b'", "password": "x"}'
    assert_problem(client.post("/v1/auth/login", **chunked(too_big)), 413, "payload-too-large")
    request = chunked(b'{"mood": 5, "note": "' + b"a" * app.config["MAX_CONTENT_LENGTH"] + b'"}')
    request["headers"].update(patient.headers)
    assert_problem(client.post("/v1/moods", **request), 413, "payload-too-large")
    assert drain(client, patient)[0] == []


def test_a_chunked_body_within_the_limit_is_read(client, patient):
    request = chunked(json.dumps({"mood": 7}).encode())
    request["headers"].update(patient.headers)
    assert client.post("/v1/moods", **request).status_code == 201


def test_every_write_without_a_request_body_refuses_one(client, spec, callers):
    checked = 0
    for method, path, operation in operations(spec, with_body=False):
        response = callers(client, method, concrete(path), operation, json={"unexpected": True})
        assert assert_problem(response, 422)["errors"] == {
            "_schema": ["This operation takes no request body."]
        }, (method, path)
        checked += 1
    assert checked >= 10


def test_a_body_refused_by_a_bodiless_operation_changes_nothing(client, callers, link):
    patient, therapist = callers.patient, callers.therapist
    # sign-out with a body: still signed in
    assert_problem(client.post("/v1/auth/logout", headers=patient.headers, json={}), 422)
    assert client.get("/v1/me", headers=patient.headers).status_code == 200
    # an invitation with a body: none made
    assert_problem(client.post("/v1/invitations", headers=therapist.headers, json={"note": "x"}), 422)
    assert client.get("/v1/invitations", headers=therapist.headers).json["items"] == []
    # an acknowledgement with a body: not acknowledged
    link(patient, therapist)
    entry = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "x", "visibility": "care_team"}
    ).json
    url = f"/v1/patients/{patient.id}/entries/{entry['id']}/acknowledgement"
    assert_problem(client.post(url, headers=therapist.headers, json={"seen": True}), 422)
    assert client.get(f"/v1/entries/{entry['id']}", headers=patient.headers).json["acknowledged_at"] is None
    # a delete with a body: still there
    assert_problem(
        client.delete(f"/v1/entries/{entry['id']}", headers={**patient.headers, "If-Match": '"1"'}, json={}),
        422,
    )
    assert client.get(f"/v1/entries/{entry['id']}", headers=patient.headers).status_code == 200


def test_a_capped_listing_shows_the_first_problems(client, patient):
    tags = ",".join('"\\u0000"' for _ in range(25))
    response = client.post(
        "/v1/entries", headers=patient.headers, **raw('{"body": "x", "tags": [' + tags + "]}")
    )
    problem = assert_problem(response, 422)
    assert sorted(problem["errors"]["tags"], key=int) == [str(index) for index in range(20)]
    assert problem["error_count"] == 25


def test_a_whole_number_may_be_written_with_a_zero_fraction_but_nothing_else_passes_as_one(client, patient):
    """JSON Schema counts 7.0 as an integer, and some clients write every number that way."""
    created = client.post("/v1/moods", headers=patient.headers, json={"mood": 7.0, "energy": 6.0})
    assert created.status_code == 201 and created.json["mood"] == 7 and created.json["energy"] == 6
    practice = {"practice": "yoga", "performed_at": "2026-03-01T09:00:00Z", "duration_minutes": 30.0}
    assert client.post("/v1/practices", headers=patient.headers, json=practice).json["duration_minutes"] == 30
    for bad in ("7", 7.5, True, None):
        response = client.post("/v1/moods", headers=patient.headers, json={"mood": bad})
        assert response.status_code == 422 and "mood" in response.json["errors"], bad


def test_a_boolean_is_true_or_false_and_nothing_that_looks_like_one(client, patient):
    contact = {"name": "Sam", "relationship": "friend"}
    for bad in (0, 1, "yes", "true", None):
        response = client.post(
            "/v1/contacts", headers=patient.headers, json={**contact, "is_session_support": bad}
        )
        assert response.status_code == 422 and "is_session_support" in response.json["errors"], bad
    created = client.post(
        "/v1/contacts", headers=patient.headers, json={**contact, "is_emergency_contact": True}
    )
    assert created.status_code == 201 and created.json["is_emergency_contact"] is True


def test_a_country_is_an_assigned_iso_code_and_the_spec_lists_exactly_those(client, patient, spec):
    from api.fields import country_codes

    assert spec["components"]["schemas"]["Country"]["enum"] == list(country_codes())
    for unassigned in ("AA", "XF", "YU", "ZZ"):
        assert unassigned not in country_codes()
        response = client.get(f"/v1/reference/crisis-resources?country={unassigned}", headers=patient.headers)
        assert response.status_code == 422, unassigned
    for given, stored in (("nz", "NZ"), ("UK", "GB"), ("IE", "IE")):
        response = client.patch(
            "/v1/me",
            headers={**patient.headers, "If-Match": '"' + str(patient_version(client, patient)) + '"'},
            json={"country": given},
        )
        assert response.status_code == 200 and response.json["country"] == stored, given


def patient_version(client, patient):
    return client.get("/v1/me", headers=patient.headers).json["version"]


def test_a_number_is_a_json_number_and_minus_zero_reads_back_the_same(client, patient):
    for bad in ("7", "1_0", "\u0661\u0660", True):
        response = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "sleep_hours": bad})
        assert response.status_code == 422 and "sleep_hours" in response.json["errors"], bad
    session = {"started_at": "2026-01-01T09:00:00Z", "dose_mg": "35"}
    assert client.post("/v1/sessions", headers=patient.headers, json=session).status_code == 422
    created = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "sleep_hours": -0.0})
    read = client.get(f"/v1/moods/{created.json['id']}", headers=patient.headers)
    assert created.get_data(as_text=True).count('"sleep_hours":0.0') == 1
    assert created.json["sleep_hours"] == read.json["sleep_hours"] == 0.0


@pytest.mark.parametrize("limit", ["+5", " 5", "1_0", "\u0665", "5.0", "0x5"])
def test_a_query_limit_is_ascii_digits(client, patient, limit):
    for path in ("/v1/moods", "/v1/sync"):
        response = client.get(path, headers=patient.headers, query_string={"limit": limit})
        assert response.status_code == 422 and "limit" in response.json["errors"], (path, limit)


@pytest.mark.parametrize(
    "value",
    [
        "urn:uuid:6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d",
        "{6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d}",
        "6f1c2a9e7b4d4e2a9c1f5d6e7a8b9c0d",
        " 6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d",
    ],
)
def test_a_uuid_is_in_its_usual_form(client, patient, value):
    response = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "id": value})
    assert response.status_code == 422 and "id" in response.json["errors"]
    response = client.get("/v1/entries", headers=patient.headers, query_string={"session_id": value})
    assert response.status_code == 422 and "session_id" in response.json["errors"]


def test_a_uuid_in_upper_case_is_the_same_uuid(client, patient):
    created = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 5, "id": "6F1C2A9E-7B4D-4E2A-9C1F-5D6E7A8B9C0D"}
    )
    assert created.status_code == 201 and created.json["id"] == "6f1c2a9e-7b4d-4e2a-9c1f-5d6e7a8b9c0d"


@pytest.mark.parametrize(
    "moment",
    [
        "2026-W01-1T00:00:00Z",  # week date
        "20260101T000000Z",  # basic form
        "2026-01-01T00:00Z",  # no seconds
        "2026-01-01 00:00:00Z",  # space for T
        "2026-01-01T00:00:00,5Z",  # comma fraction
        "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00+0100",
        "2026-01-01T00:00:00+01",
        "2026-01-01T00:00:00+00:00:30",  # an offset with seconds
    ],
)
def test_a_timestamp_is_rfc_3339_and_nothing_else_fromisoformat_takes(client, patient, moment):
    response = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": moment})
    assert response.status_code == 422 and "recorded_at" in response.json["errors"], moment


def test_rfc_3339_letters_may_be_lower_case(client, patient):
    created = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": "2026-01-01t09:00:00.25z"}
    )
    assert created.status_code == 201 and created.json["recorded_at"] == "2026-01-01T09:00:00.250000+00:00"


def test_text_that_is_only_white_space_is_refused_and_the_spec_says_so(client, patient, spec):
    """A required text is trimmed; white space alone (as Python's strip sees it, \\x1e included)
    trims to nothing, which the spec's `\\S` pattern marks invalid too."""
    from openapi_schema_validator import OAS31Validator

    body = spec["components"]["schemas"]["EntryCreate"]["properties"]["body"]
    for blank in ("   ", "\x1e", "\x1d\x1c", "\x85", "\u3000\n"):
        assert not OAS31Validator(body).is_valid(blank)
        response = client.post("/v1/entries", headers=patient.headers, json={"body": blank})
        assert response.status_code == 422 and "body" in response.json["errors"], repr(blank)
        response = client.get("/v1/entries", headers=patient.headers, query_string={"tag": blank})
        assert response.status_code == 422 and "tag" in response.json["errors"], repr(blank)
    assert OAS31Validator(body).is_valid(" a ")
