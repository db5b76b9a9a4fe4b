"""/v1/moods: create, read, list, update, delete, validation at every edge, and who may see what."""

import uuid

import pytest
from sqlalchemy import func, select

from api.extensions import db
from api.moods.models import Mood
from tests.helpers import assert_problem


def create(client, account, **fields):
    response = client.post("/v1/moods", headers=account.headers, json={"mood": 5, **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_create_returns_the_record_with_location_and_etag(client, patient):
    response = client.post(
        "/v1/moods",
        headers=patient.headers,
        json={
            "mood": 7,
            "energy": 4,
            "anxiety": 2,
            "sleep_hours": 7.5,
            "emotions": ["calm", "hopeful"],
            "note": "slept well",
            "recorded_at": "2026-03-01T21:30:00-05:00",
            "timezone": "America/New_York",
        },
    )
    assert response.status_code == 201
    mood = response.json
    assert response.headers["Location"] == f"/v1/moods/{mood['id']}"
    assert response.headers["ETag"] == '"1"'
    assert mood["recorded_at"] == "2026-03-02T02:30:00+00:00"
    assert (mood["mood"], mood["energy"], mood["anxiety"], mood["sleep_hours"]) == (7, 4, 2, 7.5)
    assert mood["emotions"] == ["calm", "hopeful"] and mood["version"] == 1


def test_defaults(client, patient):
    mood = create(client, patient)
    assert mood["emotions"] == [] and mood["energy"] is None and mood["timezone"] is None
    assert mood["recorded_at"]


def test_client_chosen_id(client, make_account):
    patient, other = make_account(), make_account()
    chosen = str(uuid.uuid4())
    assert create(client, patient, id=chosen)["id"] == chosen
    # taken, by anyone: 409 that reveals nothing about the other record
    mine = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "id": chosen})
    theirs = client.post("/v1/moods", headers=other.headers, json={"mood": 5, "id": chosen})
    assert_problem(mine, 409, "conflict")
    assert_problem(theirs, 409, "conflict")
    assert mine.json == theirs.json


@pytest.mark.parametrize("field", ["mood", "energy", "anxiety"])
@pytest.mark.parametrize(
    "value, ok", [(0, False), (1, True), (10, True), (11, False), (5.5, False), ("5", False)]
)
def test_score_ranges(client, patient, field, value, ok):
    body = {"mood": 5, field: value}
    response = client.post("/v1/moods", headers=patient.headers, json=body)
    if ok:
        assert response.status_code == 201 and response.json[field] == value
    else:
        assert field in assert_problem(response, 422, "validation-error")["errors"]


@pytest.mark.parametrize("value, ok", [(-0.1, False), (0, True), (24, True), (24.1, False), (8.25, True)])
def test_sleep_hours_range(client, patient, value, ok):
    response = client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "sleep_hours": value})
    assert (response.status_code == 201) is ok


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "mood"),
        ({"mood": 5, "emotions": ["calm", "not-a-feeling"]}, "emotions"),
        ({"mood": 5, "emotions": ["calm"] * 21}, "emotions"),
        ({"mood": 5, "recorded_at": "2026-03-01T21:30:00"}, "recorded_at"),
        ({"mood": 5, "recorded_at": "yesterday"}, "recorded_at"),
        ({"mood": 5, "timezone": "Moon/Base"}, "timezone"),
        ({"mood": 5, "note": "x" * 2001}, "note"),
        ({"mood": 5, "id": "not-a-uuid"}, "id"),
        ({"mood": 5, "owner_id": str(uuid.uuid4())}, "owner_id"),
        ({"mood": 5, "version": 3}, "version"),
    ],
)
def test_invalid_moods_are_422_and_create_nothing(client, patient, body, field):
    assert (
        field in assert_problem(client.post("/v1/moods", headers=patient.headers, json=body), 422)["errors"]
    )
    assert client.get("/v1/moods", headers=patient.headers).json["items"] == []


def test_read_update_delete(client, patient):
    mood = create(client, patient, note="first")
    url = f"/v1/moods/{mood['id']}"
    assert client.get(url, headers=patient.headers).json == mood
    assert client.get(url, headers={**patient.headers, "If-None-Match": '"1"'}).status_code == 304
    # missing If-Match -> 428, stale -> 412 with the current record, right -> 200
    assert_problem(client.patch(url, headers=patient.headers, json={"mood": 8}), 428)
    stale = client.patch(url, headers={**patient.headers, "If-Match": '"4"'}, json={"mood": 8})
    assert assert_problem(stale, 412)["current"] == mood
    updated = client.patch(
        url, headers={**patient.headers, "If-Match": '"1"'}, json={"mood": 8, "note": None}
    )
    assert updated.status_code == 200 and updated.json["mood"] == 8 and updated.json["note"] is None
    assert updated.json["version"] == 2 and updated.headers["ETag"] == '"2"'
    # delete needs the current ETag too
    assert_problem(client.delete(url, headers=patient.headers), 428)
    assert_problem(client.delete(url, headers={**patient.headers, "If-Match": '"1"'}), 412)
    assert client.delete(url, headers={**patient.headers, "If-Match": '"2"'}).status_code == 204
    assert_problem(client.get(url, headers=patient.headers), 404)
    assert client.get("/v1/moods", headers=patient.headers).json["items"] == []


def test_invalid_patch_changes_nothing(client, patient):
    mood = create(client, patient)
    url = f"/v1/moods/{mood['id']}"
    assert_problem(client.patch(url, headers={**patient.headers, "If-Match": '"1"'}, json={"mood": 0}), 422)
    assert client.get(url, headers=patient.headers).json == mood


def test_filters(client, patient):
    create(client, patient, recorded_at="2026-01-01T12:00:00+00:00", emotions=["calm"])
    create(client, patient, recorded_at="2026-02-01T12:00:00+00:00", emotions=["anxious"])
    create(client, patient, recorded_at="2026-03-01T12:00:00+00:00", emotions=["calm", "tired"])

    def moods(query):
        response = client.get(f"/v1/moods?{query}", headers=patient.headers)
        assert response.status_code == 200, response.json
        return [item["recorded_at"][:7] for item in response.json["items"]]

    assert moods("") == ["2026-03", "2026-02", "2026-01"]
    assert moods("from=2026-02-01T12:00:00%2B00:00") == ["2026-03", "2026-02"]
    assert moods("to=2026-02-01T12:00:00Z") == ["2026-01"]
    assert moods("emotion=calm") == ["2026-03", "2026-01"]
    assert_problem(client.get("/v1/moods?emotion=zen", headers=patient.headers), 422)
    assert_problem(client.get("/v1/moods?from=2026-01-01", headers=patient.headers), 422)
    assert_problem(client.get("/v1/moods?sort=asc", headers=patient.headers), 422)


def test_access_matrix(client, make_account):
    owner, other, therapist = make_account("patient"), make_account("patient"), make_account("therapist")
    mood = create(client, owner)
    url = f"/v1/moods/{mood['id']}"
    missing = f"/v1/moods/{uuid.uuid4()}"
    if_match = {"If-Match": '"1"'}

    # another patient: every verb is the same 404 as a record that never existed
    for method, body in (("get", None), ("patch", {"mood": 1}), ("delete", None)):
        theirs = client.open(url, method=method, headers={**other.headers, **if_match}, json=body)
        nothing = client.open(missing, method=method, headers={**other.headers, **if_match}, json=body)
        assert_problem(theirs, 404)
        assert theirs.get_data() == nothing.get_data()
    assert client.get("/v1/moods", headers=other.headers).json["items"] == []

    # a therapist does not use the patient endpoints
    for method, path in (
        ("get", "/v1/moods"),
        ("post", "/v1/moods"),
        ("get", url),
        ("patch", url),
        ("delete", url),
    ):
        assert_problem(
            client.open(path, method=method, headers={**therapist.headers, **if_match}, json={"mood": 1}),
            403,
            "forbidden",
        )

    # anonymous
    for method, path in (
        ("get", "/v1/moods"),
        ("post", "/v1/moods"),
        ("get", url),
        ("patch", url),
        ("delete", url),
    ):
        assert_problem(client.open(path, method=method, json={"mood": 1}), 401)

    # the owner's record is unchanged by all of it
    assert client.get(url, headers=owner.headers).json == mood


def test_erasing_the_account_removes_its_moods(app, client, patient):
    create(client, patient)
    client.delete("/v1/me", headers=patient.headers, json={"password": patient.password})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Mood)) == 0
