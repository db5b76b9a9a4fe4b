"""What a therapist sees of a patient: only what an active link's scopes share (entries only when
marked care_team), read-only, and nothing at all the moment the patient says otherwise."""

import uuid
from types import SimpleNamespace

import pytest

from tests.helpers import assert_problem, revoke
from tests.resources import RESOURCES, as_read
from tests.test_sync import drain

SHARED_KINDS = ("entries", "moods", "assessments", "practices", "sessions")
ALL_SCOPES = SHARED_KINDS


def shared_body(kind):
    body = dict(RESOURCES[kind][0])
    if kind == "entries":
        body["visibility"] = "care_team"
    return body


@pytest.fixture
def world(client, make_account, link):
    """A patient with one shared record of every kind, and everyone who might ask for them."""
    patient = make_account(display_name="Robin")
    records = {}
    for kind in SHARED_KINDS:
        created = client.post(f"/v1/{kind}", headers=patient.headers, json=shared_body(kind))
        assert created.status_code == 201, created.json
        records[kind] = as_read(kind, created.json)
    with_scope, without_scope, revoked = (make_account("therapist") for _ in range(3))
    link(patient, with_scope, scopes=ALL_SCOPES)
    link(patient, without_scope, scopes=())
    gone = link(patient, revoked, scopes=ALL_SCOPES)
    assert revoke(client, patient, gone).status_code == 204
    return SimpleNamespace(
        patient=patient,
        records=records,
        callers={
            "linked with scope": with_scope,
            "linked without scope": without_scope,
            "unlinked therapist": make_account("therapist"),
            "revoked link": revoked,
            "other patient": make_account(),
            "anonymous": None,
        },
    )


EXPECTED = {
    "linked with scope": 200,
    "linked without scope": 404,
    "unlinked therapist": 404,
    "revoked link": 404,
    "other patient": 403,
    "anonymous": 401,
}


def call(client, caller, method, path, **kwargs):
    headers = caller.headers if caller is not None else {}
    return client.open(path, method=method, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)


@pytest.mark.parametrize("role", list(EXPECTED))
@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_role_matrix_for_shared_lists_and_records(client, world, kind, role):
    caller, pid = world.callers[role], world.patient.id
    record_id = world.records[kind]["id"]
    paths = {
        f"/v1/patients/{pid}/{kind}": f"/v1/patients/{uuid.uuid4()}/{kind}",
        f"/v1/patients/{pid}/{kind}/{record_id}": f"/v1/patients/{pid}/{kind}/{uuid.uuid4()}",
    }
    for path, random_path in paths.items():
        answer = call(client, caller, "get", path)
        assert answer.status_code == EXPECTED[role], (path, answer.get_data(as_text=True))
        if EXPECTED[role] == 200:
            body = answer.json
            assert (body["items"][0] if "items" in body else body) == world.records[kind]
        else:
            assert_problem(answer, EXPECTED[role])
        if EXPECTED[role] == 404:
            # indistinguishable from a patient or record that does not exist
            assert answer.get_data() == call(client, caller, "get", random_path).get_data()


@pytest.mark.parametrize("role", list(EXPECTED))
def test_role_matrix_for_acknowledgement(client, world, role):
    caller, pid = world.callers[role], world.patient.id
    entry_id = world.records["entries"]["id"]
    answer = call(client, caller, "post", f"/v1/patients/{pid}/entries/{entry_id}/acknowledgement")
    assert answer.status_code == EXPECTED[role], answer.get_data(as_text=True)
    if EXPECTED[role] != 200:
        assert_problem(answer, EXPECTED[role])
    if EXPECTED[role] == 404:
        missing = call(client, caller, "post", f"/v1/patients/{pid}/entries/{uuid.uuid4()}/acknowledgement")
        assert answer.get_data() == missing.get_data()
    acknowledged = client.get(f"/v1/entries/{entry_id}", headers=world.patient.headers).json
    assert (acknowledged["acknowledged_at"] is not None) == (EXPECTED[role] == 200)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_role_matrix_for_the_patient_list(client, world, role):
    answer = call(client, world.callers[role], "get", "/v1/patients")
    expected = {
        "linked with scope": 200,
        "linked without scope": 200,
        "other patient": 403,
        "anonymous": 401,
    }.get(role, 200)
    assert answer.status_code == expected
    if expected != 200:
        assert_problem(answer, expected)
    if expected == 200:
        shown = [item["patient_id"] for item in answer.json["items"]]
        assert shown == ([world.patient.id] if role.startswith("linked") else [])


WRITE_METHODS = ("post", "put", "patch", "delete")


@pytest.mark.parametrize("kind", SHARED_KINDS)
def test_therapist_views_are_read_only(client, world, kind, database_rows):
    """POST, PUT, PATCH and DELETE on a shared list and on a shared record: 405 problem+json
    allowing reads only, and not one row of the database changes."""
    therapist, pid = world.callers["linked with scope"], world.patient.id
    record = world.records[kind]
    _, cursor = drain(client, world.patient)
    before = database_rows()
    tried = []
    for path in (f"/v1/patients/{pid}/{kind}", f"/v1/patients/{pid}/{kind}/{record['id']}"):
        for method in WRITE_METHODS:
            answer = call(
                client, therapist, method, path, json=shared_body(kind), headers={"If-Match": '"1"'}
            )
            assert_problem(answer, 405)
            assert "GET" in answer.headers["Allow"]
            assert_problem(answer, 405, "method-not-allowed")
            allowed = {name.strip() for name in answer.headers["Allow"].split(",")}
            assert allowed == {"GET", "HEAD", "OPTIONS"}, (method, path, answer.headers["Allow"])
            tried.append((method, path))
    assert len(tried) == 8 and {method for method, _ in tried} >= {"post", "patch"}
    assert database_rows() == before
    assert client.get(f"/v1/{kind}/{record['id']}", headers=world.patient.headers).json == record
    # the patient's own list and change feed show nothing new, and the therapist still sees the one record
    assert client.get(f"/v1/{kind}", headers=world.patient.headers).json["items"] == [record]
    assert drain(client, world.patient, cursor)[0] == []
    assert call(client, therapist, "get", f"/v1/patients/{pid}/{kind}").json["items"] == [record]


@pytest.mark.parametrize("role", list(EXPECTED))
def test_no_caller_can_write_to_a_patients_shared_records(client, world, role, database_rows):
    """Writes are refused the same way whoever asks (405 comes before the token is read, so it
    says nothing about the link), and change nothing."""
    caller, pid = world.callers[role], world.patient.id
    before = database_rows()
    for kind in SHARED_KINDS:
        record = world.records[kind]
        for path in (f"/v1/patients/{pid}/{kind}", f"/v1/patients/{pid}/{kind}/{record['id']}"):
            for method in WRITE_METHODS:
                body, if_match = shared_body(kind), {"If-Match": '"1"'}
                answer = call(client, caller, method, path, json=body, headers=if_match)
                assert_problem(answer, 405, "method-not-allowed")
    assert database_rows() == before


def test_contacts_are_never_shared(client, world):
    therapist, pid = world.callers["linked with scope"], world.patient.id
    contact = client.post("/v1/contacts", headers=world.patient.headers, json=RESOURCES["contacts"][0]).json
    for path in (f"/v1/patients/{pid}/contacts", f"/v1/patients/{pid}/contacts/{contact['id']}"):
        assert_problem(call(client, therapist, "get", path), 404)


def test_private_entries_never_reach_a_therapist(client, world):
    therapist, patient, pid = world.callers["linked with scope"], world.patient, world.patient.id
    private = [
        client.post("/v1/entries", headers=patient.headers, json={"body": f"only mine {n}"}).json
        for n in range(3)
    ]
    explicit = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "mine", "visibility": "private"}
    ).json
    shared_id = world.records["entries"]["id"]
    # lists, with and without filters, hold the shared entry only
    for query in ("", "?visibility=private", "?limit=100", "?kind=general"):
        items = call(client, therapist, "get", f"/v1/patients/{pid}/entries{query}").json["items"]
        assert [item["id"] for item in items] == ([] if "private" in query else [shared_id])
    # a private entry is a 404 like a missing one, even to acknowledge
    for entry in (*private, explicit):
        for method, suffix in (("get", ""), ("post", "/acknowledgement")):
            theirs = call(client, therapist, method, f"/v1/patients/{pid}/entries/{entry['id']}{suffix}")
            missing = call(client, therapist, method, f"/v1/patients/{pid}/entries/{uuid.uuid4()}{suffix}")
            assert theirs.status_code == 404 and theirs.get_data() == missing.get_data()
    # the patient list shows no entry text or count at all
    summary = call(client, therapist, "get", "/v1/patients").get_data(as_text=True)
    assert "only mine" not in summary and "entries_count" not in summary
    # an entry made private again leaves at once
    client.patch(
        f"/v1/entries/{shared_id}",
        headers={**patient.headers, "If-Match": '"1"'},
        json={"visibility": "private"},
    )
    assert call(client, therapist, "get", f"/v1/patients/{pid}/entries").json["items"] == []
    assert_problem(call(client, therapist, "get", f"/v1/patients/{pid}/entries/{shared_id}"), 404)


def test_deleted_records_leave_the_therapist_view(client, world):
    therapist, pid = world.callers["linked with scope"], world.patient.id
    mood = world.records["moods"]
    client.delete(f"/v1/moods/{mood['id']}", headers={**world.patient.headers, "If-Match": '"1"'})
    assert call(client, therapist, "get", f"/v1/patients/{pid}/moods").json["items"] == []
    assert_problem(call(client, therapist, "get", f"/v1/patients/{pid}/moods/{mood['id']}"), 404)


def test_scope_changes_apply_to_the_next_request(client, make_account, link):
    patient, therapist = make_account(), make_account("therapist")
    mood = client.post("/v1/moods", headers=patient.headers, json={"mood": 4}).json
    made = link(patient, therapist, scopes=("moods",))
    url = f"/v1/patients/{patient.id}/moods/{mood['id']}"
    assert client.get(url, headers=therapist.headers).status_code == 200
    link_url = f"/v1/care-team/{made['id']}"
    client.patch(link_url, headers={**patient.headers, "If-Match": '"1"'}, json={"scopes": ["sessions"]})
    assert_problem(client.get(url, headers=therapist.headers), 404)
    assert_problem(client.get(f"/v1/patients/{patient.id}/moods", headers=therapist.headers), 404)
    assert client.get(f"/v1/patients/{patient.id}/sessions", headers=therapist.headers).json["items"] == []
    client.patch(link_url, headers={**patient.headers, "If-Match": '"2"'}, json={"scopes": ["moods"]})
    assert client.get(url, headers=therapist.headers).json == mood


@pytest.mark.parametrize("withdraw", ["revoke", "remove scope"])
def test_an_old_etag_after_withdrawal_gets_404_never_304(client, make_account, link, withdraw):
    patient, therapist = make_account(), make_account("therapist")
    entry = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "shared", "visibility": "care_team"}
    ).json
    made = link(patient, therapist, scopes=("entries",))
    url = f"/v1/patients/{patient.id}/entries/{entry['id']}"
    first = client.get(url, headers=therapist.headers)
    assert first.headers["ETag"] == '"1"'
    cached = {**therapist.headers, "If-None-Match": first.headers["ETag"]}
    assert client.get(url, headers=cached).status_code == 304
    link_url, if_match = f"/v1/care-team/{made['id']}", {**patient.headers, "If-Match": '"1"'}
    if withdraw == "revoke":
        client.delete(link_url, headers=if_match)
    else:
        client.patch(link_url, headers=if_match, json={"scopes": ["moods"]})
    assert_problem(client.get(url, headers=cached), 404)
    assert (
        client.get(url, headers=cached).get_data()
        == client.get(f"/v1/patients/{patient.id}/entries/{uuid.uuid4()}", headers=cached).get_data()
    )


def test_shared_lists_page_and_filter_like_the_patients_own(client, make_account, link):
    patient, therapist = make_account(), make_account("therapist")
    link(patient, therapist, scopes=("moods",))
    made = [
        client.post(
            "/v1/moods",
            headers=patient.headers,
            json={"mood": 5, "recorded_at": f"2026-03-{day:02d}T08:00:00Z"},
        ).json
        for day in range(1, 26)
    ]
    base = f"/v1/patients/{patient.id}/moods"
    seen, url = [], f"{base}?limit=10"
    while url:
        page = client.get(url, headers=therapist.headers)
        seen += [item["id"] for item in page.json["items"]]
        url = f"{base}?limit=10&cursor={page.json['next_cursor']}" if page.json["next_cursor"] else None
        if url:
            assert page.headers["Link"].startswith(f"<{base}?")
    assert seen == [mood["id"] for mood in reversed(made)]
    window = client.get(
        f"{base}?from=2026-03-10T00:00:00Z&to=2026-03-12T00:00:00Z", headers=therapist.headers
    ).json
    assert [item["recorded_at"][:10] for item in window["items"]] == ["2026-03-11", "2026-03-10"]
    assert (
        "colour" in assert_problem(client.get(f"{base}?colour=red", headers=therapist.headers), 422)["errors"]
    )


def test_acknowledgement_shows_on_the_patients_entry_and_in_sync(client, world):
    therapist, patient, pid = world.callers["linked with scope"], world.patient, world.patient.id
    entry = world.records["entries"]
    url = f"/v1/patients/{pid}/entries/{entry['id']}/acknowledgement"
    acknowledged = client.post(url, headers=therapist.headers)
    assert acknowledged.status_code == 200
    assert acknowledged.json["acknowledged_by"] == {"id": therapist.id, "display_name": "Test therapist"}
    assert acknowledged.json["version"] == 2 and acknowledged.headers["ETag"] == '"2"'
    mine = client.get(f"/v1/entries/{entry['id']}", headers=patient.headers).json
    assert (
        mine["acknowledged_by"]["id"] == therapist.id
        and mine["acknowledged_at"] == acknowledged.json["acknowledged_at"]
    )
    changes = client.get("/v1/sync", headers=patient.headers).json["changes"]
    assert changes[-1]["id"] == entry["id"] and changes[-1]["data"]["acknowledged_at"] is not None
    # the first acknowledgement stands
    again = client.post(url, headers=therapist.headers)
    assert again.status_code == 200 and again.json == acknowledged.json
    # an unacknowledged entry says so
    fresh = client.post("/v1/entries", headers=patient.headers, json={"body": "new"}).json
    assert fresh["acknowledged_by"] is None and fresh["acknowledged_at"] is None


def test_patient_list_shows_latest_measures_as_scopes_allow(client, make_account, link):
    patient = make_account(display_name="Robin")
    both, moods_only = make_account("therapist"), make_account("therapist")
    post = lambda path, body: client.post(path, headers=patient.headers, json=body).json  # noqa: E731
    post("/v1/moods", {"mood": 3, "recorded_at": "2026-03-01T08:00:00Z"})
    latest_mood = post("/v1/moods", {"mood": 6, "recorded_at": "2026-03-02T08:00:00Z"})
    flagged = post(
        "/v1/assessments",
        {"instrument": "phq9", "answers": [2, 2, 2, 2, 2, 2, 2, 1, 1], "taken_at": "2026-03-01T09:00:00Z"},
    )
    latest_phq9 = post(
        "/v1/assessments",
        {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 0], "taken_at": "2026-03-03T09:00:00Z"},
    )
    gad7 = post(
        "/v1/assessments",
        {"instrument": "gad7", "answers": [3, 3, 3, 3, 3, 3, 3], "taken_at": "2026-03-02T09:00:00Z"},
    )
    link(patient, both, scopes=("moods", "assessments"))
    link(patient, moods_only, scopes=("moods",))

    summary = client.get("/v1/patients", headers=both.headers).json["items"][0]
    assert summary["patient_id"] == patient.id and summary["display_name"] == "Robin"
    assert summary["scopes"] == ["moods", "assessments"]
    assert summary["latest_mood"]["id"] == latest_mood["id"] and summary["latest_mood"]["mood"] == 6
    assert summary["latest_phq9"] == {
        key: latest_phq9[key] for key in ("id", "instrument", "score", "severity", "safety_flag", "taken_at")
    }
    assert summary["latest_gad7"]["severity"] == "severe" and summary["latest_gad7"]["id"] == gad7["id"]
    assert [flag["id"] for flag in summary["open_safety_flags"]] == [flagged["id"]]

    limited = client.get("/v1/patients", headers=moods_only.headers).json["items"][0]
    assert limited["latest_mood"]["id"] == latest_mood["id"]
    assert (
        limited["latest_phq9"] is None
        and limited["latest_gad7"] is None
        and limited["open_safety_flags"] is None
    )


def test_a_newer_pcl5_is_neither_the_latest_phq9_nor_the_latest_gad7(client, make_account, link):
    patient, therapist = make_account(), make_account("therapist")
    post = lambda body: client.post("/v1/assessments", headers=patient.headers, json=body).json  # noqa: E731
    phq9 = post({"instrument": "phq9", "answers": [1] * 8 + [0], "taken_at": "2026-03-01T09:00:00Z"})
    pcl5 = post({"instrument": "pcl5", "answers": [2] * 20, "taken_at": "2026-03-02T09:00:00Z"})
    link(patient, therapist, scopes=("assessments",))
    summary = client.get("/v1/patients", headers=therapist.headers).json["items"][0]
    assert summary["latest_phq9"]["id"] == phq9["id"] and summary["latest_gad7"] is None
    assert summary["open_safety_events"] == []  # a PCL-5 has no safety rule
    # the therapist reads the PCL-5 itself among the shared results
    shared = client.get(f"/v1/patients/{patient.id}/assessments", headers=therapist.headers).json["items"]
    assert [(item["id"], item["threshold_met"], item["severity"]) for item in shared][0] == (
        pcl5["id"],
        True,
        None,
    )


def test_patient_list_pages_without_a_query_per_patient(app, client, make_account, link):
    from sqlalchemy import event

    from api.extensions import db

    therapist = make_account("therapist")
    for n in range(6):
        patient = make_account()
        client.post("/v1/moods", headers=patient.headers, json={"mood": n + 1})
        client.post(
            "/v1/assessments", headers=patient.headers, json={"instrument": "phq9", "answers": [1] * 9}
        )
        link(patient, therapist, scopes=("moods", "assessments"))

    def count_queries(limit):
        statements = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            page = client.get(f"/v1/patients?limit={limit}", headers=therapist.headers)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert page.status_code == 200 and len(page.json["items"]) == limit
        assert all(item["latest_mood"] and item["latest_phq9"] for item in page.json["items"])
        return len(statements)

    assert count_queries(2) == count_queries(6)
    first = client.get("/v1/patients?limit=4", headers=therapist.headers).json
    rest = client.get(f"/v1/patients?limit=4&cursor={first['next_cursor']}", headers=therapist.headers).json
    assert (
        len({item["patient_id"] for item in first["items"] + rest["items"]}) == 6
        and rest["next_cursor"] is None
    )


def test_a_shared_record_is_read_once_then_logged(app, client, world):
    """Token check, the record, the audit event: the commit does not send the record back for a
    second fetch before it is serialised."""
    from sqlalchemy import event

    from api.extensions import db

    therapist, pid = world.callers["linked with scope"], world.patient.id
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2].split()[0].upper())  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        read = client.get(
            f"/v1/patients/{pid}/moods/{world.records['moods']['id']}", headers=therapist.headers
        )
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert read.json == world.records["moods"]
    assert statements == ["SELECT", "SELECT", "INSERT"]


def test_a_shared_page_is_the_token_check_the_page_and_its_audit_event(app, client, world):
    """A page with records shows the link held when it was read (its WHERE says so): no
    statement asks separately. Only an empty page asks whether the link is there at all."""
    from sqlalchemy import event

    from api.extensions import db

    therapist, pid = world.callers["linked with scope"], world.patient.id
    statements = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2].split()[0].upper())  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        page = client.get(f"/v1/patients/{pid}/moods", headers=therapist.headers)
        assert page.status_code == 200 and [item["id"] for item in page.json["items"]] == [
            world.records["moods"]["id"]
        ]
        assert statements == ["SELECT", "SELECT", "INSERT"]
        statements.clear()
        empty = client.get(f"/v1/patients/{pid}/moods?to=2000-01-01T00:00:00Z", headers=therapist.headers)
        assert empty.status_code == 200 and empty.json["items"] == []
        assert statements == ["SELECT", "SELECT", "SELECT", "INSERT"]
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    log = client.get("/v1/me/access-log", headers=world.patient.headers).json["items"]
    assert [(event["action"], event["outcome"]) for event in log[:2]] == [("list", "allowed")] * 2


def test_erasing_the_patient_removes_them_from_every_therapist_view(client, world):
    patient, therapist, pid = world.patient, world.callers["linked with scope"], world.patient.id
    login = client.post("/v1/auth/login", json={"email": patient.email, "password": patient.password}).json
    erased = client.delete(
        "/v1/me",
        headers={"Authorization": f"Bearer {login['access_token']}"},
        json={"password": patient.password},
    )
    assert erased.status_code == 204
    assert client.get("/v1/patients", headers=therapist.headers).json["items"] == []
    for kind, record in world.records.items():
        for path, random_path in (
            (f"/v1/patients/{pid}/{kind}", f"/v1/patients/{uuid.uuid4()}/{kind}"),
            (f"/v1/patients/{pid}/{kind}/{record['id']}", f"/v1/patients/{pid}/{kind}/{uuid.uuid4()}"),
        ):
            gone = client.get(path, headers=therapist.headers)
            assert (
                gone.status_code == 404
                and gone.get_data() == client.get(random_path, headers=therapist.headers).get_data()
            )


def test_an_erased_therapist_leaves_the_care_team(client, world):
    therapist, patient = world.callers["linked with scope"], world.patient
    login = client.post(
        "/v1/auth/login", json={"email": therapist.email, "password": therapist.password}
    ).json
    client.post(
        f"/v1/patients/{patient.id}/entries/{world.records['entries']['id']}/acknowledgement",
        headers=therapist.headers,
    )
    client.delete(
        "/v1/me",
        headers={"Authorization": f"Bearer {login['access_token']}"},
        json={"password": therapist.password},
    )
    team = client.get("/v1/care-team", headers=patient.headers).json["items"]
    assert therapist.id not in [item["therapist"]["id"] for item in team]
    entry = client.get(f"/v1/entries/{world.records['entries']['id']}", headers=patient.headers).json
    assert entry["acknowledged_by"] is None


def test_a_therapist_erasing_their_account_changes_the_entries_they_acknowledged_visibly(client, world):
    """Their name leaves each entry as a change the patient's devices see: a new version (so a
    cached ETag no longer matches) and a new place in /v1/sync. The time of the acknowledgement stays."""
    therapist, patient, pid = world.callers["linked with scope"], world.patient, world.patient.id
    entry = world.records["entries"]
    acknowledged = client.post(
        f"/v1/patients/{pid}/entries/{entry['id']}/acknowledgement", headers=therapist.headers
    ).json
    before = client.get("/v1/sync?limit=500", headers=patient.headers).json
    assert (
        client.delete("/v1/me", headers=therapist.headers, json={"password": therapist.password}).status_code
        == 204
    )

    mine = client.get(f"/v1/entries/{entry['id']}", headers={**patient.headers, "If-None-Match": '"2"'})
    assert mine.status_code == 200 and mine.headers["ETag"] == '"3"'
    assert (
        mine.json["acknowledged_by"] is None
        and mine.json["acknowledged_at"] == acknowledged["acknowledged_at"]
    )
    later = client.get(f"/v1/sync?cursor={before['next_cursor']}", headers=patient.headers).json["changes"]
    assert [(change["id"], change["version"], change["data"]["acknowledged_by"]) for change in later] == [
        (entry["id"], 3, None)
    ]
