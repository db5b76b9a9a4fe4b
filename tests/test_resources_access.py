"""Every journal resource, the same contract: CRUD for the owner, 404 for anyone else's record
(byte-identical to a missing one), 403 for therapists, 401 for anonymous callers."""

import uuid

import pytest

from tests.helpers import assert_problem
from tests.resources import RESOURCES, as_read


@pytest.fixture(params=sorted(RESOURCES))
def resource(request):
    path = request.param
    body, change = RESOURCES[path]
    return f"/v1/{path}", body, change


def test_owner_crud(client, patient, resource):
    base, body, change = resource
    created = client.post(base, headers=patient.headers, json=body)
    assert created.status_code == 201, created.json
    record = as_read(base.removeprefix("/v1/"), created.json)
    url = f"{base}/{record['id']}"
    assert created.headers["Location"] == url and created.headers["ETag"] == '"1"'
    assert {"id", "version", "created_at", "updated_at"} <= record.keys()
    assert client.get(url, headers=patient.headers).json == record
    assert [item["id"] for item in client.get(base, headers=patient.headers).json["items"]] == [record["id"]]
    version = 1
    if change is not None:
        updated = client.patch(url, headers={**patient.headers, "If-Match": '"1"'}, json=change)
        assert updated.status_code == 200, updated.json
        assert all(updated.json[name] == value for name, value in change.items())
        version = 2
    else:
        assert_problem(client.patch(url, headers={**patient.headers, "If-Match": '"1"'}, json={}), 405)
    assert client.delete(url, headers={**patient.headers, "If-Match": f'"{version}"'}).status_code == 204
    assert_problem(client.get(url, headers=patient.headers), 404)
    assert client.get(base, headers=patient.headers).json["items"] == []


def test_if_match_rules(client, patient, resource):
    base, body, change = resource
    record = as_read(base.removeprefix("/v1/"), client.post(base, headers=patient.headers, json=body).json)
    url = f"{base}/{record['id']}"
    assert_problem(client.delete(url, headers=patient.headers), 428)
    stale = client.delete(url, headers={**patient.headers, "If-Match": '"5"'})
    assert assert_problem(stale, 412)["current"] == record
    assert client.get(url, headers={**patient.headers, "If-None-Match": '"1"'}).status_code == 304


def test_other_patients_records_are_404_like_missing_ones(client, make_account, resource):
    base, body, change = resource
    owner, other = make_account(), make_account()
    record = as_read(base.removeprefix("/v1/"), client.post(base, headers=owner.headers, json=body).json)
    url, missing = f"{base}/{record['id']}", f"{base}/{uuid.uuid4()}"
    headers = {**other.headers, "If-Match": '"1"'}
    for method in ("get", "patch", "delete"):
        # assessments have no PATCH: 405 for both, the same way
        body = (change or {}) if method == "patch" else None
        theirs = client.open(url, method=method, headers=headers, json=body)
        nothing = client.open(missing, method=method, headers=headers, json=body)
        assert (
            theirs.status_code
            == nothing.status_code
            == (405 if method == "patch" and change is None else 404)
        )
        assert theirs.get_data() == nothing.get_data()
    assert client.get(base, headers=other.headers).json["items"] == []
    assert client.get(url, headers=owner.headers).json == record


def test_therapists_get_403_and_anonymous_401(client, make_account, resource):
    base, body, change = resource
    owner, therapist = make_account(), make_account("therapist")
    url = f"{base}/{client.post(base, headers=owner.headers, json=body).json['id']}"
    for method, path in (("get", base), ("post", base), ("get", url), ("delete", url)):
        assert_problem(
            client.open(path, method=method, headers={**therapist.headers, "If-Match": '"1"'}, json=body), 403
        )
        assert_problem(client.open(path, method=method, json=body), 401)


def test_unknown_query_parameters_are_422(client, patient, resource):
    base, _, _ = resource
    assert (
        "colour" in assert_problem(client.get(f"{base}?colour=blue", headers=patient.headers), 422)["errors"]
    )


def test_creates_are_idempotent(client, patient, resource):
    base, body, _ = resource
    headers = {**patient.headers, "Idempotency-Key": f"{base}-once"}
    ids = {client.post(base, headers=headers, json=body).json["id"] for _ in range(3)}
    assert len(ids) == 1 and len(client.get(base, headers=patient.headers).json["items"]) == 1


def test_changes_reach_the_sync_feed(client, patient, resource):
    base, body, _ = resource
    record = as_read(base.removeprefix("/v1/"), client.post(base, headers=patient.headers, json=body).json)
    client.delete(f"{base}/{record['id']}", headers={**patient.headers, "If-Match": '"1"'})
    changes = client.get("/v1/sync", headers=patient.headers).json["changes"]
    # A session's follow-ups went with it (tests/test_plans.py): here, only the record's own change.
    own = [change for change in changes if change["type"] != "follow_up"]
    assert [(change["id"], change["op"], change["data"]) for change in own] == [
        (record["id"], "delete", None)
    ]
