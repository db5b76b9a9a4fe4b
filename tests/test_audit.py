"""The audit log: one event per therapist read, one per refused attempt, no health text, never
changed; and the patient's view of it at /v1/me/access-log."""

import json
import re
import uuid

import pytest
from sqlalchemy import select

from api.audit.models import AuditEvent, AuditLogIsAppendOnly
from api.extensions import db
from tests.helpers import assert_problem

SECRET = "Zebra-lantern remembered at the lake"


def events(app):
    with app.app_context():
        rows = (
            db.session.execute(select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id))
            .scalars()
            .all()
        )
        return [
            {
                "actor_id": str(row.actor_id),
                "actor_role": row.actor_role,
                "patient_id": str(row.patient_id),
                "action": row.action.value,
                "resource_type": row.resource_type,
                "resource_id": str(row.resource_id) if row.resource_id else None,
                "outcome": row.outcome.value,
                "request_id": row.request_id,
            }
            for row in rows
        ]


@pytest.fixture
def shared(client, make_account, link):
    patient, therapist = make_account(), make_account("therapist", display_name="Dr Ada")
    entry = client.post(
        "/v1/entries",
        headers=patient.headers,
        json={"body": SECRET, "title": SECRET, "tags": ["zebra-lantern"], "visibility": "care_team"},
    ).json
    link(patient, therapist, scopes=("entries", "moods"))
    return patient, therapist, entry


def test_a_head_request_keeps_nothing_it_wrote(app, client, shared, make_account, database_rows):
    """HEAD runs the GET's view but sends nothing: no read happened, so no audit event stays,
    allowed or denied, whatever the route."""
    patient, therapist, entry = shared
    stranger = make_account("therapist")
    before = database_rows()
    for who, path in (
        (therapist, f"/v1/patients/{patient.id}/entries"),
        (therapist, f"/v1/patients/{patient.id}/entries/{entry['id']}"),
        (therapist, f"/v1/patients/{patient.id}/insights/mood"),
        (stranger, f"/v1/patients/{patient.id}/moods"),
    ):
        answer = client.head(path, headers=who.headers)
        assert answer.status_code in (200, 404) and answer.get_data() == b""
    assert database_rows() == before
    assert events(app) == []


def test_every_read_is_one_event(app, client, shared):
    patient, therapist, entry = shared
    base = f"/v1/patients/{patient.id}/entries"
    assert events(app) == []
    listed = client.get(base, headers={**therapist.headers, "X-Request-ID": "req-list-1"})
    assert listed.headers["X-Request-ID"] == "req-list-1"  # echoed to the client ...
    [event] = events(app)
    # ... but the audit keeps the server's own id: a client cannot write into the patient's log
    assert re.fullmatch("[0-9a-f]{32}", event.pop("request_id"))
    assert event == {
        "actor_id": therapist.id,
        "actor_role": "therapist",
        "patient_id": patient.id,
        "action": "list",
        "resource_type": "entry",
        "resource_id": None,
        "outcome": "allowed",
    }
    read = client.get(f"{base}/{entry['id']}", headers=therapist.headers)
    # a revalidation that answers 304 is a read too
    client.get(f"{base}/{entry['id']}", headers={**therapist.headers, "If-None-Match": read.headers["ETag"]})
    client.post(f"{base}/{entry['id']}/acknowledgement", headers=therapist.headers)
    logged = events(app)
    assert [(e["action"], e["resource_id"], e["outcome"]) for e in logged[1:]] == [
        ("read", entry["id"], "allowed"),
        ("read", entry["id"], "allowed"),
        ("acknowledge", entry["id"], "allowed"),
    ]
    assert logged[1]["request_id"] == read.headers["X-Request-ID"]


def test_a_read_holds_no_transaction_while_its_page_is_dumped(app, client, shared, monkeypatch):
    """A therapist's read writes its event as the request commits, not as it reads: the page is
    dumped outside any transaction (on SQLite, without the one write lock every writer waits
    for), and the event is still committed before the answer leaves."""
    from api.dumping import FastDump

    patient, therapist, entry = shared
    during_dump = []
    dump = FastDump.dump

    def noting(self, obj, *, many=None):
        connection = db.session.connection().connection.driver_connection
        if hasattr(connection, "in_transaction"):  # sqlite3
            during_dump.append(connection.in_transaction)
        else:  # psycopg: IDLE is 0
            during_dump.append(connection.info.transaction_status != 0)
        return dump(self, obj, many=many)

    monkeypatch.setattr(FastDump, "dump", noting)
    for path in (f"/v1/patients/{patient.id}/entries", f"/v1/patients/{patient.id}/entries/{entry['id']}"):
        assert client.get(path, headers=therapist.headers).status_code == 200
    assert during_dump and not any(during_dump), during_dump
    assert [event["action"] for event in events(app)] == ["list", "read"]


def test_simultaneous_reads_each_commit_their_own_event(app, client, shared):
    """Eight therapist reads at once, each writing its event as it commits (on SQLite, taking the
    writer turn in turn): every answer is a 200 and every read has its one event."""
    import threading

    patient, therapist, entry = shared
    answers, start = [], threading.Barrier(8)

    def read(number):
        reader = app.test_client()
        start.wait()
        headers = {**therapist.headers, "X-Request-ID": f"req-{number}"}
        answers.append(reader.get(f"/v1/patients/{patient.id}/entries", headers=headers).status_code)

    threads = [threading.Thread(target=read, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [200] * 8
    logged = events(app)
    assert len(logged) == 8 and {event["action"] for event in logged} == {"list"}
    assert len({event["request_id"] for event in logged}) == 8


def test_the_patient_list_logs_each_patient_shown(app, client, make_account, link):
    therapist = make_account("therapist")
    patients = [make_account() for _ in range(3)]
    for patient in patients:
        link(patient, therapist, scopes=("moods",))
    client.get("/v1/patients", headers=therapist.headers)
    logged = events(app)
    assert sorted(e["patient_id"] for e in logged) == sorted(p.id for p in patients)
    assert {(e["action"], e["resource_type"], e["outcome"]) for e in logged} == {
        ("list", "patient_summary", "allowed")
    }


def test_a_therapist_with_no_patients_logs_nothing(app, client, therapist):
    client.get("/v1/patients", headers=therapist.headers)
    assert events(app) == []


def test_refused_reads_are_logged_as_denied(app, client, make_account, shared):
    patient, therapist, entry = shared
    stranger = make_account("therapist")
    private = client.post("/v1/entries", headers=patient.headers, json={"body": "mine"}).json
    attempts = [
        (stranger, f"/v1/patients/{patient.id}/entries", "list", None),
        (stranger, f"/v1/patients/{patient.id}/entries/{entry['id']}", "read", entry["id"]),
        (therapist, f"/v1/patients/{patient.id}/assessments", "list", None),  # no such scope
        (therapist, f"/v1/patients/{patient.id}/entries/{private['id']}", "read", private["id"]),
    ]
    for caller, path, _, _ in attempts:
        assert_problem(client.get(path, headers=caller.headers), 404)
    logged = events(app)
    assert [(e["actor_id"], e["action"], e["resource_id"], e["outcome"]) for e in logged] == [
        (caller.id, action, resource_id, "denied") for caller, _, action, resource_id in attempts
    ]
    assert {e["patient_id"] for e in logged} == {patient.id}


def test_no_health_text_reaches_the_audit_table(app, client, shared):
    patient, therapist, entry = shared
    client.post("/v1/moods", headers=patient.headers, json={"mood": 2, "note": SECRET})
    for path in (
        f"/v1/patients/{patient.id}/entries",
        f"/v1/patients/{patient.id}/entries/{entry['id']}",
        f"/v1/patients/{patient.id}/moods",
        f"/v1/patients/{patient.id}/entries/{entry['id']}/acknowledgement",
        "/v1/patients",
    ):
        client.open(
            path, method="POST" if path.endswith("acknowledgement") else "GET", headers=therapist.headers
        )
    with app.app_context():
        rows = db.session.execute(db.text("SELECT * FROM audit_events")).all()
    assert len(rows) == 5
    dumped = repr(rows).lower()
    for text in (SECRET.lower(), "zebra", "lantern", "lake"):
        assert text not in dumped


def test_the_application_cannot_change_or_delete_an_event(app, client, shared):
    patient, therapist, _ = shared
    client.get(f"/v1/patients/{patient.id}/entries", headers=therapist.headers)
    with app.app_context():
        event = db.session.execute(select(AuditEvent)).scalar_one()
        event.outcome = "denied"
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.execute(select(AuditEvent)).scalar_one())
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.commit()
        db.session.rollback()
    assert events(app)[0]["outcome"] == "allowed"


def test_the_patient_reads_their_access_log_newest_first(client, make_account, shared):
    patient, therapist, entry = shared
    stranger = make_account("therapist", display_name="Mallory")
    client.get(f"/v1/patients/{patient.id}/entries", headers=therapist.headers)
    client.get(f"/v1/patients/{patient.id}/entries/{entry['id']}", headers=therapist.headers)
    client.get(f"/v1/patients/{patient.id}/moods", headers=stranger.headers)

    log = client.get("/v1/me/access-log", headers=patient.headers)
    assert log.status_code == 200
    items = log.json["items"]
    assert [(item["actor"]["display_name"], item["action"], item["outcome"]) for item in items] == [
        ("Mallory", "list", "denied"),
        ("Dr Ada", "read", "allowed"),
        ("Dr Ada", "list", "allowed"),
    ]
    assert items[1]["actor"] == {"id": therapist.id, "display_name": "Dr Ada", "role": "therapist"}
    assert items[1]["resource_type"] == "entry" and items[1]["resource_id"] == entry["id"]
    assert set(items[0]) == {
        "id",
        "occurred_at",
        "actor",
        "action",
        "resource_type",
        "resource_id",
        "outcome",
        "request_id",
    }
    # paged like every list
    first = client.get("/v1/me/access-log?limit=2", headers=patient.headers).json
    rest = client.get(
        f"/v1/me/access-log?limit=2&cursor={first['next_cursor']}", headers=patient.headers
    ).json
    assert [item["id"] for item in first["items"] + rest["items"]] == [item["id"] for item in items]
    # and only ever the caller's own
    other = make_account()
    assert client.get("/v1/me/access-log", headers=other.headers).json["items"] == []
    assert_problem(client.get("/v1/me/access-log", headers=therapist.headers), 403)
    assert_problem(client.get("/v1/me/access-log"), 401)


def test_events_outlive_an_erased_therapist_without_their_name(app, client, shared):
    patient, therapist, _ = shared
    client.get(f"/v1/patients/{patient.id}/entries", headers=therapist.headers)
    fresh = client.post(
        "/v1/auth/login", json={"email": therapist.email, "password": therapist.password}
    ).json
    client.delete(
        "/v1/me",
        headers={"Authorization": f"Bearer {fresh['access_token']}"},
        json={"password": therapist.password},
    )
    item = client.get("/v1/me/access-log", headers=patient.headers).json["items"][0]
    assert item["actor"] == {"id": therapist.id, "display_name": None, "role": "therapist"}
    assert therapist.email not in repr(events(app))


def test_events_outlive_an_erased_patient(app, client, shared):
    patient, therapist, _ = shared
    client.get(f"/v1/patients/{patient.id}/entries", headers=therapist.headers)
    fresh = client.post("/v1/auth/login", json={"email": patient.email, "password": patient.password}).json
    client.delete(
        "/v1/me",
        headers={"Authorization": f"Bearer {fresh['access_token']}"},
        json={"password": patient.password},
    )
    assert [e["patient_id"] for e in events(app)] == [patient.id]


def test_access_log_filters_by_time(client, shared):
    patient, therapist, _ = shared
    client.get(f"/v1/patients/{patient.id}/entries", headers=therapist.headers)
    assert (
        client.get("/v1/me/access-log?to=2000-01-01T00:00:00Z", headers=patient.headers).json["items"] == []
    )
    assert (
        len(client.get("/v1/me/access-log?from=2000-01-01T00:00:00Z", headers=patient.headers).json["items"])
        == 1
    )
    assert_problem(client.get(f"/v1/me/access-log?cursor={uuid.uuid4().hex}", headers=patient.headers), 422)


def test_a_client_chosen_request_id_never_reaches_the_patients_access_log(client, shared):
    patient, therapist, entry = shared
    chosen = "call-me-on-555-0100"
    client.get(
        f"/v1/patients/{patient.id}/entries/{entry['id']}",
        headers={**therapist.headers, "X-Request-ID": chosen},
    )
    client.get(
        f"/v1/patients/{patient.id}/moods/{entry['id']}",
        headers={**therapist.headers, "X-Request-ID": chosen},
    )
    logged = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert [item["outcome"] for item in logged] == ["denied", "allowed"]
    assert all(re.fullmatch("[0-9a-f]{32}", item["request_id"]) for item in logged)
    assert chosen not in json.dumps(logged)


def record_one(patient, therapist):
    from types import SimpleNamespace

    from api.audit import service as audit
    from api.audit.models import Action, Outcome

    audit.record(
        actor=SimpleNamespace(id=uuid.UUID(therapist.id), role=SimpleNamespace(value="therapist")),
        patient_ids=[uuid.UUID(patient.id)],
        action=Action.LIST,
        resource_type="mood",
        outcome=Outcome.ALLOWED,
        request_id="r" * 32,
    )


def test_an_event_recorded_then_rolled_back_is_gone_before_the_next_commit(app, shared):
    """Recorded first thing in a session (before any query), rolled back, then a commit in the
    same session: the event is not written."""
    patient, therapist, _ = shared
    with app.app_context():
        record_one(patient, therapist)
        db.session.rollback()
        db.session.commit()
    assert events(app) == []


def test_an_event_recorded_in_a_savepoint_goes_with_it(app, shared):
    patient, therapist, _ = shared
    with app.app_context():
        savepoint = db.session.begin_nested()
        record_one(patient, therapist)
        savepoint.rollback()
        kept = db.session.begin_nested()
        record_one(patient, therapist)
        kept.commit()
        db.session.commit()
    assert len(events(app)) == 1
