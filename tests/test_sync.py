"""/v1/sync: one change feed of upserts and tombstones that never skips a change."""

import threading

from tests.helpers import assert_problem


def drain(client, account, cursor=None, limit=100):
    """Follow next_cursor until has_more is false; returns (changes, last cursor)."""
    changes = []
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"/v1/sync{query}", headers=account.headers)
        assert response.status_code == 200, response.json
        changes.extend(response.json["changes"])
        cursor = response.json["next_cursor"]
        if not response.json["has_more"]:
            return changes, cursor


def test_feed_starts_empty_with_a_cursor(client, patient):
    response = client.get("/v1/sync", headers=patient.headers)
    assert response.json["changes"] == [] and response.json["has_more"] is False
    assert response.json["next_cursor"]


def test_upserts_and_tombstones_in_order(client, patient):
    first = client.post("/v1/moods", headers=patient.headers, json={"mood": 3}).json
    second = client.post("/v1/moods", headers=patient.headers, json={"mood": 4}).json
    changes, cursor = drain(client, patient)
    assert [(change["type"], change["id"], change["op"]) for change in changes] == [
        ("mood", first["id"], "upsert"),
        ("mood", second["id"], "upsert"),
    ]
    assert changes[0]["data"] == first and changes[0]["version"] == 1

    # later changes appear after the stored cursor, each record once in its latest state
    client.patch(f"/v1/moods/{first['id']}", headers={**patient.headers, "If-Match": '"1"'}, json={"mood": 9})
    client.delete(f"/v1/moods/{second['id']}", headers={**patient.headers, "If-Match": '"1"'})
    later, cursor = drain(client, patient, cursor)
    assert [(change["id"], change["op"], change["version"]) for change in later] == [
        (first["id"], "upsert", 2),
        (second["id"], "delete", 2),
    ]
    assert later[0]["data"]["mood"] == 9 and later[1]["data"] is None
    assert drain(client, patient, cursor)[0] == []


def test_paging_small_pages(client, patient):
    ids = [client.post("/v1/moods", headers=patient.headers, json={"mood": 5}).json["id"] for _ in range(7)]
    changes, _ = drain(client, patient, limit=2)
    assert [change["id"] for change in changes] == ids


def test_only_the_callers_changes(client, make_account):
    mine, other = make_account(), make_account()
    client.post("/v1/moods", headers=other.headers, json={"mood": 5})
    assert drain(client, mine)[0] == []


def test_bad_cursor_and_limit_are_422(client, patient):
    assert "cursor" in assert_problem(client.get("/v1/sync?cursor=nope", headers=patient.headers), 422)["errors"]
    assert "limit" in assert_problem(client.get("/v1/sync?limit=0", headers=patient.headers), 422)["errors"]
    assert_problem(client.get("/v1/sync?since=1", headers=patient.headers), 422)


def test_therapists_and_anonymous_cannot_sync(client, therapist):
    assert_problem(client.get("/v1/sync", headers=therapist.headers), 403)
    assert_problem(client.get("/v1/sync"), 401)


def test_concurrent_writers_never_make_the_reader_skip_a_change(app, patient):
    """Two devices write at once while a third pages through the feed: replaying the feed
    must rebuild exactly the server's state, with no change delivered twice."""
    writes_per_device = 30
    done = threading.Event()
    errors = []

    def device(tag):
        client = app.test_client()
        try:
            for index in range(writes_per_device):
                created = client.post("/v1/moods", headers=patient.headers, json={"mood": 1 + index % 10, "note": f"{tag}-{index}"})
                assert created.status_code == 201, created.json
                url = f"/v1/moods/{created.json['id']}"
                if index % 3 == 0:
                    assert client.patch(url, headers={**patient.headers, "If-Match": '"1"'}, json={"mood": 10}).status_code == 200
                if index % 5 == 0:
                    etag = client.get(url, headers=patient.headers).headers["ETag"]
                    assert client.delete(url, headers={**patient.headers, "If-Match": etag}).status_code == 204
        except Exception as error:  # surfaced below
            errors.append(error)

    seen_changes = []
    reader_client = app.test_client()

    def reader():
        cursor = None
        while True:
            finished = done.is_set()
            changes, cursor = drain(reader_client, patient, cursor, limit=7)
            seen_changes.extend(changes)
            if finished:
                return

    devices = [threading.Thread(target=device, args=(tag,)) for tag in ("phone", "tablet")]
    reading = threading.Thread(target=reader)
    reading.start()
    for thread in devices:
        thread.start()
    for thread in devices:
        thread.join()
    done.set()
    reading.join()
    assert not errors, errors

    # replay the feed the way a phone would
    replica = {}
    for change in seen_changes:
        if change["op"] == "delete":
            replica.pop(change["id"], None)
        else:
            replica[change["id"]] = change["data"]
    deliveries = [(change["id"], change["version"], change["op"]) for change in seen_changes]
    assert len(deliveries) == len(set(deliveries)), "a change was delivered twice"

    server = {}
    cursor = None
    client = app.test_client()
    while True:
        page = client.get("/v1/moods?limit=100" + (f"&cursor={cursor}" if cursor else ""), headers=patient.headers).json
        server.update({item["id"]: item for item in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(server) == 2 * writes_per_device - 2 * len(range(0, writes_per_device, 5))
    assert replica == server
