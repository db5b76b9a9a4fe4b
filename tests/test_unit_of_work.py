"""One unit of work per request: a request's writes commit once, together, or not at all."""

import re
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from api.accounts.models import TokenFamily
from api.audit.models import AuditEvent
from api.extensions import db
from api.idempotency import IdempotencyKey
from api.moods.models import Mood
from api.records import SyncClock
from config import BASE_DIR
from tests.helpers import PASSWORD, assert_problem, bearer


@contextmanager
def commits(app):
    """Count the COMMITs the database receives inside the block."""
    counted = []
    with app.app_context():
        engine = db.engine

    def count(connection):
        counted.append(True)

    event.listen(engine, "commit", count)
    try:
        yield counted
    finally:
        event.remove(engine, "commit", count)


def row_count(app, model, *conditions):
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(model).where(*conditions))
        db.session.remove()
        return count


def last_seq(app, user_id):
    with app.app_context():
        seq = db.session.scalar(select(SyncClock.last_seq).where(SyncClock.user_id == uuid.UUID(user_id)))
        db.session.remove()
        return seq


def test_an_idempotent_create_is_one_commit_with_its_sync_number_and_its_answer(app, client, patient):
    headers = {**patient.headers, "Idempotency-Key": "first-mood"}
    with commits(app) as counted:
        created = client.post("/v1/moods", headers=headers, json={"mood": 6})
    assert created.status_code == 201
    assert len(counted) == 1
    assert row_count(app, Mood) == 1
    assert row_count(app, IdempotencyKey) == 1
    assert last_seq(app, patient.id) == 1


@pytest.fixture
def people(client, make_account, link):
    patient, therapist = make_account(), make_account("therapist")
    link(patient, therapist)
    entry = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "x", "visibility": "care_team"}
    ).json
    return patient, therapist, entry


def test_every_kind_of_write_is_one_commit(app, client, people, make_account, invite):
    patient, therapist, entry = people
    entry_url = f"/v1/entries/{entry['id']}"
    code = invite(make_account("therapist"))["code"]
    writes = [
        lambda: client.post("/v1/moods", headers=patient.headers, json={"mood": 5}),
        lambda: client.patch(entry_url, headers={**patient.headers, "If-Match": '"1"'}, json={"title": "t"}),
        lambda: client.post(
            f"/v1/patients/{patient.id}/entries/{entry['id']}/acknowledgement", headers=therapist.headers
        ),
        lambda: client.get(f"/v1/patients/{patient.id}/entries/{entry['id']}", headers=therapist.headers),
        lambda: client.delete(entry_url, headers={**patient.headers, "If-Match": '"3"'}),
        lambda: client.post(
            "/v1/care-team", headers=patient.headers, json={"code": code, "scopes": ["moods"]}
        ),
        lambda: client.post("/v1/auth/login", json={"email": patient.email, "password": PASSWORD}),
        lambda: client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)),
        lambda: client.post(
            "/v1/me/password",
            headers=patient.headers,
            json={
                "current_password": PASSWORD,
                "new_password": "another long passphrase",
            },
        ),
    ]
    for write in writes:
        with commits(app) as counted:
            response = write()
        assert response.status_code < 300, response.get_data(as_text=True)
        assert len(counted) == 1, (response.request.path, len(counted))


def test_a_refused_request_commits_nothing_and_changes_nothing(app, client, people, make_account):
    patient, _, entry = people
    stranger = make_account()
    before = (row_count(app, Mood), last_seq(app, patient.id))
    refusals = [
        (lambda: client.post("/v1/moods", headers=patient.headers, json={"mood": 11}), 422),
        (
            lambda: client.post(
                "/v1/entries", headers=patient.headers, json={"id": entry["id"], "body": "y"}
            ),
            409,
        ),
        (
            lambda: client.patch(
                f"/v1/entries/{entry['id']}",
                headers={**patient.headers, "If-Match": '"7"'},
                json={"title": "t"},
            ),
            412,
        ),
        (
            lambda: client.patch(
                f"/v1/entries/{entry['id']}",
                headers={**stranger.headers, "If-Match": '"1"'},
                json={"title": "t"},
            ),
            404,
        ),
        (
            lambda: client.post(
                "/v1/entries", headers=patient.headers, json={"body": "y", "session_id": entry["id"]}
            ),
            422,
        ),
    ]
    for refuse, status in refusals:
        with commits(app) as counted:
            assert_problem(refuse(), status)
        assert counted == [], status
    assert (row_count(app, Mood), last_seq(app, patient.id)) == before


def test_a_refusal_that_is_a_fact_commits_only_that_fact(app, client, people, make_account):
    """A denied read's audit event is kept, and so is the sign-out a reused refresh token causes."""
    patient, _, _ = people
    unlinked = make_account("therapist")
    with commits(app) as counted:
        assert_problem(client.get(f"/v1/patients/{patient.id}/moods", headers=unlinked.headers), 404)
    assert len(counted) == 1
    assert (
        row_count(
            app, AuditEvent, AuditEvent.actor_id == uuid.UUID(unlinked.id), AuditEvent.outcome == "denied"
        )
        == 1
    )

    first = client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token))
    assert first.status_code == 200
    # A repeat within the grace window gets the same pair back; past it, it is reuse.
    grace, app.config["REFRESH_REUSE_GRACE_SECONDS"] = app.config["REFRESH_REUSE_GRACE_SECONDS"], -1
    try:
        with commits(app) as counted:
            assert_problem(client.post("/v1/auth/refresh", headers=bearer(patient.refresh_token)), 401)
    finally:
        app.config["REFRESH_REUSE_GRACE_SECONDS"] = grace
    assert len(counted) == 1
    assert (
        row_count(
            app,
            TokenFamily,
            TokenFamily.user_id == uuid.UUID(patient.id),
            TokenFamily.revoked_at.is_not(None),
        )
        == 1
    )


def test_only_the_unit_of_work_commits():
    """Services add and flush; api/transactions.py alone commits (nor does any module open a
    transaction of its own with session.begin() or engine.begin())."""
    committing = [
        path.relative_to(BASE_DIR).as_posix()
        for path in (BASE_DIR / "api").rglob("*.py")
        if re.search(r"\.commit\(|\.begin\(", path.read_text())
    ]
    assert committing == ["api/transactions.py"]
