"""/v1/sync: one change feed of upserts and tombstones that never skips a change."""

import base64
import json
import threading

from tests.helpers import assert_problem, meanwhile


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
    assert (
        "cursor" in assert_problem(client.get("/v1/sync?cursor=nope", headers=patient.headers), 422)["errors"]
    )
    assert "limit" in assert_problem(client.get("/v1/sync?limit=0", headers=patient.headers), 422)["errors"]
    assert_problem(client.get("/v1/sync?since=1", headers=patient.headers), 422)


def test_therapists_and_anonymous_cannot_sync(client, therapist):
    assert_problem(client.get("/v1/sync", headers=therapist.headers), 403)
    assert_problem(client.get("/v1/sync"), 401)


def test_tampered_cursors_are_422(client, patient):
    def cursor(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    for value in (
        {"seq": True},
        {"seq": 2**63},
        {"seq": -1},
        {"seq": 1.5},
        {"seq": "1"},
        {"seq": None},
        [1],
        "x",
        7,
    ):
        response = client.get(f"/v1/sync?cursor={cursor(value)}", headers=patient.headers)
        assert "cursor" in assert_problem(response, 422)["errors"], value
    assert (
        client.get(f"/v1/sync?cursor={cursor({'seq': 2**63 - 1})}", headers=patient.headers).json["changes"]
        == []
    )


# One record of each kind, and a change where the kind has PATCH.
KINDS = {
    "sessions": ("session", {"started_at": "2026-03-01T09:00:00Z"}, {"dose_mg": 35.0}),
    "entries": ("entry", {"body": "The fog lifted."}, {"title": "After"}),
    "moods": ("mood", {"mood": 5}, {"mood": 8}),
    "contacts": ("contact", {"name": "Sam", "relationship": "friend"}, {"phone": "+1 555 0100"}),
    "practices": (
        "practice",
        {"practice": "yoga", "performed_at": "2026-03-02T07:00:00Z"},
        {"duration_minutes": 20},
    ),
    "assessments": ("assessment", {"instrument": "gad7", "answers": [1] * 7}, None),
}


def server_state(client, account):
    """Every live record of the account, from the lists: {(type, id): record}, the follow-ups its
    sessions made included."""
    state = {}
    for path, kind in [*((path, kind) for path, (kind, _, _) in KINDS.items()), ("follow-ups", "follow_up")]:
        cursor = None
        while True:
            page = client.get(
                f"/v1/{path}?limit=100" + (f"&cursor={cursor}" if cursor else ""), headers=account.headers
            ).json
            state.update({(kind, item["id"]): item for item in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
    return state


def replay(changes):
    """Apply a feed the way a phone does; also check that no change came twice."""
    deliveries = [(change["type"], change["id"], change["version"], change["op"]) for change in changes]
    assert len(deliveries) == len(set(deliveries)), "a change was delivered twice"
    replica = {}
    for change in changes:
        key = (change["type"], change["id"])
        if change["op"] == "delete":
            replica.pop(key, None)
        else:
            replica[key] = change["data"]
    return replica


def test_concurrent_writers_never_make_the_reader_skip_a_change(app, patient):
    """Four devices create, change and delete records of every kind while a fifth keeps its
    cursor and pages through the feed in small pages: replaying what it saw must rebuild
    exactly the server's state, with no change delivered twice. (Before the feed was read
    from one snapshot, this missed one to eight changes of the ~380 in every run.)"""
    devices, rounds = 4, 60
    done = threading.Event()
    errors = []

    def device(number):
        client = app.test_client()
        paths = list(KINDS)
        try:
            for index in range(rounds):
                path = paths[(number + index) % len(paths)]
                _, body, change = KINDS[path]
                created = client.post(f"/v1/{path}", headers=patient.headers, json=body)
                assert created.status_code == 201, created.json
                url = f"/v1/{path}/{created.json['id']}"
                if change and index % 2 == 0:
                    changed = client.patch(url, headers={**patient.headers, "If-Match": '"1"'}, json=change)
                    assert changed.status_code == 200, changed.json
                if index % 5 == 0:
                    etag = client.get(url, headers=patient.headers).headers["ETag"]
                    assert (
                        client.delete(url, headers={**patient.headers, "If-Match": etag}).status_code == 204
                    )
        except Exception as error:  # surfaced below
            errors.append(error)

    seen = []
    reader_client = app.test_client()

    def reader():
        cursor = None
        while True:
            finished = done.is_set()
            changes, cursor = drain(reader_client, patient, cursor, limit=5)
            seen.extend(changes)
            if finished:
                return

    writers = [threading.Thread(target=device, args=(number,)) for number in range(devices)]
    reading = threading.Thread(target=reader)
    reading.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reading.join()
    assert not errors, errors

    server = server_state(app.test_client(), patient)
    records = [key for key in server if key[0] != "follow_up"]
    assert len(records) == devices * rounds - devices * len(range(0, rounds, 5))
    assert any(key[0] == "follow_up" for key in server)
    assert replay(seen) == server


def test_changes_that_commit_while_a_page_is_read_are_never_skipped(app, client, patient):
    """Records of every kind commit, one after another, while the feed's query is running.
    Twice through all six kinds, so whatever order the feed reads its tables in, some older
    change lands where the read has already been and a newer one where it has not. Whatever
    that page shows, a reader that keeps its cursor must get every one of them."""
    written = []

    def write_every_kind_twice():
        other = app.test_client()
        for path in [*KINDS, *KINDS]:
            written.append(other.post(f"/v1/{path}", headers=patient.headers, json=KINDS[path][1]).json["id"])

    with meanwhile(
        app, lambda statement: "sync_seq >" in statement, write_every_kind_twice, at="after_cursor_execute"
    ):
        first, cursor = drain(client, patient)
    assert len(written) == 12
    later, _ = drain(client, patient, cursor)
    # Each session came with its follow-ups, in its transaction: the feed carries them too.
    made = [change["id"] for change in first + later if change["type"] != "follow_up"]
    assert sorted(made) == sorted(written)
    follow_ups = [change for change in first + later if change["type"] == "follow_up"]
    assert len(follow_ups) == 2 * 8 and {change["data"]["session_id"] for change in follow_ups} <= set(
        written
    )


def test_a_change_that_changes_nothing_bumps_no_version_and_reaches_no_device(client, patient):
    created = client.post("/v1/moods", headers=patient.headers, json={"mood": 6, "note": "same"}).json
    cursor = client.get("/v1/sync", headers=patient.headers).json["next_cursor"]
    unchanged = client.patch(
        f"/v1/moods/{created['id']}",
        headers={**patient.headers, "If-Match": '"1"'},
        json={"mood": 6, "note": "same"},
    )
    assert unchanged.status_code == 200 and unchanged.headers["ETag"] == '"1"'
    assert unchanged.json == created
    assert client.get(f"/v1/sync?cursor={cursor}", headers=patient.headers).json["changes"] == []


def test_a_page_builds_no_schema_per_change(client, patient, monkeypatch):
    """Each change is dumped with its type's one schema, built once: a page of 40 changes makes
    no more marshmallow schemas than a page of 1 (building one per record cost more than the
    dump itself)."""
    import marshmallow

    for mood in range(20):
        for kind, body in (("moods", {"mood": mood % 10 + 1}), ("entries", {"title": "t", "body": "b"})):
            created = client.post(f"/v1/{kind}", headers=patient.headers, json=body)
            assert created.status_code == 201, created.json
    built = []
    original = marshmallow.Schema.__init__

    def counting(self, *args, **kwargs):
        built.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(marshmallow.Schema, "__init__", counting)
    client.get("/v1/sync?limit=40", headers=patient.headers)  # what is built once, lazily
    built.clear()
    small = client.get("/v1/sync?limit=1", headers=patient.headers)
    built_for_one, built[:] = len(built), []
    large = client.get("/v1/sync?limit=40", headers=patient.headers)
    assert small.status_code == large.status_code == 200
    assert len(large.json["changes"]) == 40
    assert len(built) == built_for_one, built


def test_every_change_carries_the_record_as_its_own_get_returns_it(client, make_account, link):
    """Each type's `data` is what the record's own GET returns, whichever way the feed reads it
    (rows, or ORM instances for a safety event), with an acknowledged entry's `acknowledged_by`
    and a record whose optional fields are all null."""
    from tests.resources import RESOURCES, as_read

    patient, therapist = make_account(), make_account("therapist", display_name="Dr. Maya Chen")
    link(patient, therapist)
    expected = {}
    for kind, (body, _) in RESOURCES.items():
        created = client.post(f"/v1/{kind}", headers=patient.headers, json=body)
        assert created.status_code == 201, created.json
        expected[created.json["id"]] = as_read(kind, created.json)
    full = client.post(
        "/v1/moods",
        headers=patient.headers,
        json={"mood": 4, "energy": 2, "anxiety": 8, "sleep_hours": 5.5, "emotions": ["sad"], "note": "n"},
    ).json
    shared = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "For you.", "visibility": "care_team"}
    ).json
    read = client.post(
        f"/v1/patients/{patient.id}/entries/{shared['id']}/acknowledgement", headers=therapist.headers
    )
    assert read.status_code == 200, read.json
    flagged = {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 1]}
    assert client.post("/v1/assessments", headers=patient.headers, json=flagged).status_code == 201
    expected[full["id"]] = client.get(f"/v1/moods/{full['id']}", headers=patient.headers).json
    expected[shared["id"]] = client.get(f"/v1/entries/{shared['id']}", headers=patient.headers).json
    assert expected[shared["id"]]["acknowledged_by"] == {"id": therapist.id, "display_name": "Dr. Maya Chen"}
    for event in client.get("/v1/me/safety-events", headers=patient.headers).json["items"]:
        expected[event["id"]] = event

    changes = {change["id"]: change for change in drain(client, patient)[0]}
    assert {change["type"] for change in changes.values()} >= {"safety_event", "entry", "mood"}
    for record_id, record in expected.items():
        assert changes[record_id]["data"] == record, changes[record_id]["type"]
        assert changes[record_id]["version"] == record["version"]


def test_a_page_reads_records_as_rows_without_orm_instances(app, client, patient):
    """The feed reads every type whose schema needs only columns as rows: a page of moods and
    entries makes no ORM instance of either."""
    from sqlalchemy import event

    from api.entries.models import Entry
    from api.moods.models import Mood

    for number in range(5):
        assert client.post("/v1/moods", headers=patient.headers, json={"mood": number + 1}).status_code == 201
        assert client.post("/v1/entries", headers=patient.headers, json={"body": "b"}).status_code == 201
    loaded = []

    def count(target, context):
        loaded.append(type(target).__name__)

    for model in (Mood, Entry):
        event.listen(model, "load", count)
    try:
        page = client.get("/v1/sync", headers=patient.headers)
    finally:
        for model in (Mood, Entry):
            event.remove(model, "load", count)
    assert page.status_code == 200 and len(page.json["changes"]) == 10
    assert loaded == []


def test_a_type_with_a_column_named_like_a_row_method_is_read_as_orm_instances(app, monkeypatch):
    """A Row's own attributes (count, index, ...) would shadow a column of that name, so such a
    type is read through the ORM instead."""
    from sqlalchemy.engine import Row

    from api.kinds import SYNCED
    from api.sync.service import _row_plan

    mood = next(synced for synced in SYNCED if synced.sync_type == "mood")
    assert _row_plan(mood) is not None
    monkeypatch.setattr(Row, "mood", property(lambda row: "shadowed"), raising=False)
    assert _row_plan(mood) is None


def test_a_record_changed_between_the_positions_and_the_load_comes_once_in_its_new_state(
    app, client, patient
):
    """The positions are read, then the record changes (a higher sequence number), then the page
    loads: the page leaves it out, and the next one carries it once, at version 2."""
    first = client.post("/v1/moods", headers=patient.headers, json={"mood": 3}).json
    second = client.post("/v1/moods", headers=patient.headers, json={"mood": 4}).json

    def change_the_first():
        other = app.test_client()
        changed = other.patch(
            f"/v1/moods/{first['id']}", headers={**patient.headers, "If-Match": '"1"'}, json={"mood": 9}
        )
        assert changed.status_code == 200

    with meanwhile(
        app, lambda statement: "UNION ALL" in statement, change_the_first, at="after_cursor_execute"
    ):
        page = client.get("/v1/sync", headers=patient.headers).json
    assert [change["id"] for change in page["changes"]] == [second["id"]]
    later = client.get(f"/v1/sync?cursor={page['next_cursor']}", headers=patient.headers).json
    assert [(change["id"], change["version"], change["data"]["mood"]) for change in later["changes"]] == [
        (first["id"], 2, 9)
    ]
