"""Behaviour every journal resource shares: keyset paging, idempotent creates, query checks."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from api import records
from api.extensions import db
from api.idempotency import IdempotencyKey
from api.models import utcnow
from tests.helpers import assert_problem


def test_paging_through_250_records_returns_each_exactly_once(client, patient):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    created = set()
    for index in range(250):
        # groups of five share a timestamp, so the id breaks ties
        moment = (start + timedelta(minutes=index // 5)).isoformat()
        created.add(
            client.post("/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": moment}).json[
                "id"
            ]
        )
    seen, pages, url = [], 0, "/v1/moods?limit=23"
    while url:
        response = client.get(url, headers=patient.headers)
        assert response.status_code == 200
        items = response.json["items"]
        seen.extend(item["id"] for item in items)
        pages += 1
        keys = [(item["recorded_at"], item["id"]) for item in items]
        assert keys == sorted(keys, reverse=True), "newest first, then id"
        if response.json["next_cursor"]:
            assert response.headers["Link"].endswith('>; rel="next"')
            url = response.headers["Link"][1 : response.headers["Link"].index(">")]
        else:
            assert "Link" not in response.headers
            url = None
    assert len(seen) == 250 and set(seen) == created
    assert pages == 11


def test_limit_bounds_and_default(client, patient):
    for _ in range(25):
        client.post("/v1/moods", headers=patient.headers, json={"mood": 5})
    assert len(client.get("/v1/moods", headers=patient.headers).json["items"]) == 20
    assert len(client.get("/v1/moods?limit=1", headers=patient.headers).json["items"]) == 1
    assert len(client.get("/v1/moods?limit=100", headers=patient.headers).json["items"]) == 25
    for bad in ("0", "101", "-1", "ten"):
        assert (
            "limit"
            in assert_problem(client.get(f"/v1/moods?limit={bad}", headers=patient.headers), 422)["errors"]
        )


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjogMX0", "W10", "WyJub3QgYSB0aW1lIiwgIngiXQ"])
def test_a_foreign_cursor_is_422(client, patient, cursor):
    problem = assert_problem(client.get(f"/v1/moods?cursor={cursor}", headers=patient.headers), 422)
    assert "cursor" in problem["errors"]


def test_an_idempotency_key_retried_five_times_creates_one_record(client, patient):
    headers = {**patient.headers, "Idempotency-Key": "mood-2026-03-01-0001"}
    responses = [
        client.post("/v1/moods", headers=headers, json={"mood": 6, "note": "retry me"}) for _ in range(5)
    ]
    assert [response.status_code for response in responses] == [201] * 5
    assert len({response.get_data() for response in responses}) == 1
    assert "Idempotent-Replayed" not in responses[0].headers
    assert all(response.headers["Idempotent-Replayed"] == "true" for response in responses[1:])
    assert {response.headers["Location"] for response in responses} == {responses[0].headers["Location"]}
    assert len(client.get("/v1/moods", headers=patient.headers).json["items"]) == 1


def test_the_same_key_with_another_body_is_422(client, patient):
    headers = {**patient.headers, "Idempotency-Key": "k-1"}
    client.post("/v1/moods", headers=headers, json={"mood": 6})
    assert_problem(client.post("/v1/moods", headers=headers, json={"mood": 7}), 422, "idempotency-key-reused")
    assert len(client.get("/v1/moods", headers=patient.headers).json["items"]) == 1


def test_keys_are_per_user(client, make_account):
    first, second = make_account(), make_account()
    for account in (first, second):
        response = client.post(
            "/v1/moods", headers={**account.headers, "Idempotency-Key": "same"}, json={"mood": 6}
        )
        assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_key_order_in_the_body_does_not_matter(client, patient):
    headers = {**patient.headers, "Idempotency-Key": "k-order", "Content-Type": "application/json"}
    first = client.post("/v1/moods", headers=headers, data='{"mood": 6, "note": "a"}')
    again = client.post("/v1/moods", headers=headers, data='{"note": "a",   "mood": 6}')
    assert again.headers["Idempotent-Replayed"] == "true" and again.json["id"] == first.json["id"]


def test_a_failed_create_frees_the_key(client, patient):
    headers = {**patient.headers, "Idempotency-Key": "k-fail"}
    assert_problem(client.post("/v1/moods", headers=headers, json={"mood": 0}), 422)
    assert client.post("/v1/moods", headers=headers, json={"mood": 3}).status_code == 201


def test_a_request_still_in_flight_is_409(app, client, patient):
    entered, release = threading.Event(), threading.Event()
    original = records.create_owned

    def slow_create(*args, **kwargs):
        entered.set()
        release.wait(10)
        return original(*args, **kwargs)

    records.create_owned = slow_create
    headers = {**patient.headers, "Idempotency-Key": "k-flight"}
    results = []
    worker = threading.Thread(
        target=lambda: results.append(app.test_client().post("/v1/moods", headers=headers, json={"mood": 4}))
    )
    try:
        worker.start()
        assert entered.wait(10)
        assert_problem(
            client.post("/v1/moods", headers=headers, json={"mood": 4}), 409, "request-in-progress"
        )
    finally:
        release.set()
        worker.join()
        records.create_owned = original
    assert results[0].status_code == 201
    assert (
        client.post("/v1/moods", headers=headers, json={"mood": 4}).headers["Idempotent-Replayed"] == "true"
    )


def test_keys_expire_after_24_hours(app, client, patient):
    headers = {**patient.headers, "Idempotency-Key": "k-old"}
    client.post("/v1/moods", headers=headers, json={"mood": 4})
    with app.app_context():
        db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    again = client.post("/v1/moods", headers=headers, json={"mood": 4})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert len(client.get("/v1/moods", headers=patient.headers).json["items"]) == 2


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_key_length_is_checked(client, patient, key):
    response = client.post("/v1/moods", headers={**patient.headers, "Idempotency-Key": key}, json={"mood": 4})
    assert "Idempotency-Key" in assert_problem(response, 422)["errors"]
