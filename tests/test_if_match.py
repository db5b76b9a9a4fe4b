"""Every write to a versioned record needs If-Match: 428 without it, 412 when it is stale, and a
write that forgets to check it fails instead of overwriting another device's change."""

import pytest

from tests.helpers import assert_problem
from tests.resources import RESOURCES

# Writes that change a record without its ETag, each for a stated reason.
NOT_VERSIONED = {
    ("delete", "/v1/me"): "erasure asks for the password instead",
}


def writes(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("put", "patch", "delete"):
                yield method, path, operation


def needs_if_match(operation):
    refs = {parameter.get("$ref") for parameter in operation.get("parameters", [])}
    return "#/components/parameters/IF_MATCH" in refs and {"412", "428"} <= operation["responses"].keys()


def test_every_put_patch_and_delete_documents_if_match_unless_listed(spec):
    for method, path, operation in writes(spec):
        assert needs_if_match(operation) != ((method, path) in NOT_VERSIONED), (method, path)


@pytest.fixture
def target(client, patient, make_account, link, invite):
    """(path, body) of an existing record for every versioned write in the spec."""

    def make(method, path):
        if path == "/v1/me":
            return "/v1/me", {"display_name": "Someone else"}, patient.headers
        if path.startswith("/v1/care-team/"):
            made = link(patient, make_account("therapist"))
            return (
                f"/v1/care-team/{made['id']}",
                {"scopes": ["moods"]} if method == "patch" else None,
                patient.headers,
            )
        if path == "/v1/me/integration-plan":
            return path, {"steps": []}, patient.headers
        if path == "/v1/patients/{patient_id}/integration-plan":
            therapist = make_account("therapist")
            link(patient, therapist, ["plan"])
            return f"/v1/patients/{patient.id}/integration-plan", {"steps": []}, therapist.headers
        if path.startswith("/v1/follow-ups/"):
            session = client.post(
                "/v1/sessions", headers=patient.headers, json={"started_at": "2026-05-01T10:00:00Z"}
            )
            follow_up = client.get(f"/v1/follow-ups?session_id={session.json['id']}", headers=patient.headers)
            return f"/v1/follow-ups/{follow_up.json['items'][0]['id']}", {"dismissed": True}, patient.headers
        if path.startswith("/v1/invitations/"):
            therapist = make_account("therapist")
            return f"/v1/invitations/{invite(therapist)['id']}", None, therapist.headers
        name = path.split("/")[2]
        body, change = RESOURCES[name]
        created = client.post(f"/v1/{name}", headers=patient.headers, json=body)
        assert created.status_code == 201, created.json
        return f"/v1/{name}/{created.json['id']}", change if method == "patch" else None, patient.headers

    return make


def test_every_versioned_write_refuses_a_missing_or_stale_if_match_and_changes_nothing(client, spec, target):
    checked = 0
    for method, path, operation in writes(spec):
        if not needs_if_match(operation):
            continue
        concrete, body, headers = target(method, path)
        before = client.get(concrete, headers=headers)
        assert before.status_code == 200, (method, concrete)
        sent = {} if body is None else {"json": body}
        missing = client.open(concrete, method=method.upper(), headers=headers, **sent)
        assert_problem(missing, 428)
        stale = client.open(concrete, method=method.upper(), headers={**headers, "If-Match": '"999"'}, **sent)
        assert_problem(stale, 412)
        assert stale.json["current"]["version"] == before.json["version"], (method, concrete)
        assert client.get(concrete, headers=headers).json == before.json, (method, concrete)
        checked += 1
    assert checked == 18


def test_a_write_that_forgets_to_check_if_match_fails_and_changes_nothing(client, patient, monkeypatch):
    """As if a view left out require_if_match: the write is refused (500) and rolled back."""
    created = client.post("/v1/moods", headers=patient.headers, json={"mood": 4}).json
    monkeypatch.setattr("api.resources.require_if_match", lambda record, schema: None)
    url, headers = f"/v1/moods/{created['id']}", {**patient.headers, "If-Match": '"1"'}
    assert_problem(client.patch(url, headers=headers, json={"mood": 9}), 500)
    assert_problem(client.delete(url, headers=headers), 500)
    monkeypatch.undo()
    assert client.get(url, headers=patient.headers).json == created


@pytest.mark.parametrize(
    "value", ["", "*", '"1", "2"', '"abc"', "1", '"0"', '"1" ', '"' + "9" * 11 + '"', "W/1"]
)
def test_a_conditional_header_not_in_etag_form_is_refused(client, patient, spec, value):
    """The spec gives If-Match and If-None-Match the ETag form; a value outside it is a 422, not a
    condition quietly met (`*` would skip the lost-update guard) or ignored."""
    mood = client.post("/v1/moods", headers=patient.headers, json={"mood": 5}).json
    url = f"/v1/moods/{mood['id']}"
    for method, name in (("get", "If-None-Match"), ("patch", "If-Match"), ("delete", "If-Match")):
        response = client.open(url, method=method, headers={**patient.headers, name: value}, json=None)
        assert_problem(response, 422)
        assert list(response.json["errors"]) == [name]
        assert "422" in spec["paths"]["/v1/moods/{mood_id}"][method]["responses"]
    assert client.get(url, headers=patient.headers).json == mood  # nothing changed


def test_a_weak_etag_is_a_well_formed_condition(client, patient):
    mood = client.post("/v1/moods", headers=patient.headers, json={"mood": 5}).json
    url = f"/v1/moods/{mood['id']}"
    assert client.get(url, headers={**patient.headers, "If-None-Match": 'W/"1"'}).status_code == 304
    # If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches
    assert_problem(client.patch(url, headers={**patient.headers, "If-Match": 'W/"1"'}, json={"mood": 6}), 412)
