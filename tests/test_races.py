"""Requests racing on one account: each gets a clear answer, never a 500, and nothing is half done."""

import threading
import uuid
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import select, update

from api.accounts.models import User
from api.extensions import db
from api.idempotency import IdempotencyKey
from api.models import utcnow
from tests.helpers import PASSWORD, assert_problem, meanwhile


def assert_each_refusal_is_a_problem(responses, allowed):
    """Each answer's status is one of `allowed` (never a 500), and each refusal among them is
    problem+json with that same status in its body."""
    for response in responses:
        assert response.status_code in allowed, (response.status_code, response.get_data(as_text=True))
        if response.status_code >= 400:
            assert_problem(response, response.status_code)


def at_once(app, requests):
    """Send each `request(client)` from its own thread, all released together; their responses."""
    barrier, responses = threading.Barrier(len(requests)), [None] * len(requests)

    def run(index, request):
        client = app.test_client()
        barrier.wait()
        responses[index] = request(client)

    threads = [threading.Thread(target=run, args=item) for item in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_simultaneous_password_changes_answer_204_or_409(app, client, patient):
    bodies = [{"current_password": PASSWORD, "new_password": f"new passphrase number {n}"} for n in range(3)]
    responses = at_once(
        app,
        [
            lambda c, body=body: c.post("/v1/me/password", headers=patient.headers, json=body)
            for body in bodies
        ],
    )
    statuses = sorted(response.status_code for response in responses)
    # a request that read the account after the first change knows only the old password: 403
    assert 204 in statuses and set(statuses) <= {204, 403, 409}, statuses
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409)
        if response.status_code == 403:
            assert_problem(response, 403, "wrong-password")
    assert_each_refusal_is_a_problem(responses, {204, 403, 409})
    # the password is one of the new ones, set by a request that said 204
    winners = [
        body["new_password"]
        for body, response in zip(bodies, responses, strict=True)
        if response.status_code == 204
    ]
    assert any(
        client.post("/v1/auth/login", json={"email": patient.email, "password": p}).status_code == 200
        for p in winners
    )


def test_simultaneous_erasures_of_one_account_all_succeed(app, client, patient):
    erase = lambda c: c.delete("/v1/me", headers=patient.headers, json={"password": PASSWORD})  # noqa: E731
    responses = at_once(app, [erase] * 4)
    statuses = [response.status_code for response in responses]
    assert 204 in statuses and set(statuses) <= {204, 401}, statuses
    # a request that finds the account already gone is told its token no longer works
    assert_each_refusal_is_a_problem(responses, {204, 401})
    for response in responses:
        if response.status_code == 401:
            assert_problem(response, 401, "token-revoked")
    assert (
        client.post("/v1/auth/login", json={"email": patient.email, "password": PASSWORD}).status_code == 401
    )


def test_a_password_change_racing_the_erasure_of_the_account(app, client, patient):
    change = lambda c: c.post(
        "/v1/me/password",
        headers=patient.headers,
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    erase = lambda c: c.delete("/v1/me", headers=patient.headers, json={"password": PASSWORD})  # noqa: E731
    changed, erased = at_once(app, [change, erase])
    # whichever commits first wins; the other is told the account changed (or is gone)
    assert 204 in (changed.status_code, erased.status_code)
    assert changed.status_code in (204, 401, 409), changed.get_data(as_text=True)
    assert erased.status_code in (204, 409), erased.get_data(as_text=True)
    assert_each_refusal_is_a_problem([changed], {204, 401, 409})
    assert_each_refusal_is_a_problem([erased], {204, 409})
    statuses = (changed.status_code, erased.status_code)
    assert statuses.count(204) == 1, statuses  # never both: the second to commit is refused
    if changed.status_code == 401:  # the erasure committed before the change's token was checked
        assert_problem(changed, 401, "token-revoked")
    signed_in = [
        client.post("/v1/auth/login", json={"email": patient.email, "password": password}).status_code
        for password in (PASSWORD, "a brand new passphrase")
    ]
    if erased.status_code == 204:
        assert signed_in == [401, 401]
    else:
        assert signed_in == [401, 200]


def test_a_therapist_erased_while_a_patient_of_theirs_is_erased(app, client, make_account, link):
    """The patient's erasure commits just as the therapist's goes to take that patient's sync clock
    (to record the withdrawn acknowledgement): the therapist's erasure goes on without that
    entry, which is gone with its patient."""
    therapist, patient, other = make_account("therapist"), make_account(), make_account()
    entries = {}
    for person in (patient, other):
        link(person, therapist)
        entry = client.post(
            "/v1/entries", headers=person.headers, json={"body": "x", "visibility": "care_team"}
        ).json
        client.post(
            f"/v1/patients/{person.id}/entries/{entry['id']}/acknowledgement", headers=therapist.headers
        )
        entries[person.id] = entry["id"]

    erased = []

    def erase_the_patient():
        erased.append(
            app.test_client()
            .delete("/v1/me", headers=patient.headers, json={"password": PASSWORD})
            .status_code
        )

    # the test client runs the therapist's request in this thread
    def takes_the_clocks(statement):  # the first hold: SELECT ... FOR UPDATE, or UPDATE on SQLite
        return "sync_clocks" in statement

    with meanwhile(app, takes_the_clocks, erase_the_patient):
        response = client.delete("/v1/me", headers=therapist.headers, json={"password": PASSWORD})
    assert erased == [204]
    assert response.status_code == 204, response.get_data(as_text=True)
    theirs = client.get(f"/v1/entries/{entries[other.id]}", headers=other.headers).json
    assert theirs["acknowledged_by"] is None and theirs["version"] == 3


def test_simultaneous_sign_ins_that_upgrade_an_old_password_hash(app, client, patient):
    """Five at once (the sign-in limit holds a slot for each attempt while it runs, so a sixth
    would be asked to retry in a second)."""
    old_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2).hash(PASSWORD)
    with app.app_context():
        db.session.execute(
            update(User).where(User.id == uuid.UUID(patient.id)).values(password_hash=old_hash)
        )
        db.session.commit()
    sign_in = lambda c: c.post("/v1/auth/login", json={"email": patient.email, "password": PASSWORD})  # noqa: E731
    statuses = [response.status_code for response in at_once(app, [sign_in] * 5)]
    assert statuses == [200] * 5
    with app.app_context():
        assert (
            db.session.scalar(select(User.password_hash).where(User.id == uuid.UUID(patient.id))) != old_hash
        )


def test_an_acknowledgement_that_arrives_while_its_therapist_is_erased_is_refused(
    app, client, make_account, link
):
    """The erasure holds the therapist's account from its start. An acknowledgement sent while it
    runs waits for it and is then refused: no entry is left naming an erased therapist, or changed
    by the database's SET NULL without a new version and sync number."""
    therapist, patient = make_account("therapist"), make_account()
    link(patient, therapist)
    entry = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "x", "visibility": "care_team"}
    ).json
    url = f"/v1/patients/{patient.id}/entries/{entry['id']}/acknowledgement"
    answers = []

    def acknowledge():
        answers.append(app.test_client().post(url, headers=therapist.headers))

    with meanwhile(
        app, lambda statement: statement.startswith("DELETE FROM users"), acknowledge, patience=1
    ) as started:
        erased = client.delete("/v1/me", headers=therapist.headers, json={"password": PASSWORD})
    assert started and erased.status_code == 204, erased.get_data(as_text=True)
    assert [answer.status_code for answer in answers] == [404]
    assert_problem(answers[0], 404)
    now = client.get(f"/v1/entries/{entry['id']}", headers=patient.headers).json
    assert (now["acknowledged_by"], now["acknowledged_at"], now["version"]) == (None, None, 1)


def test_an_erasure_while_the_same_person_writes_waits_for_the_write(app, client, patient):
    """A write holds the account's sync clock, then its row (the foreign key); the erasure holds
    the clock first too, so it waits instead of deadlocking (a 503 on PostgreSQL)."""
    erased = []

    def erase():
        erased.append(
            app.test_client().delete("/v1/me", headers=patient.headers, json={"password": PASSWORD})
        )

    with meanwhile(
        app, lambda statement: statement.startswith("INSERT INTO entries"), erase, patience=1
    ) as started:
        created = client.post("/v1/entries", headers=patient.headers, json={"body": "written as I leave"})
    assert started and created.status_code == 201, created.get_data(as_text=True)
    assert [response.status_code for response in erased] == [204], [r.get_data(as_text=True) for r in erased]
    assert_problem(client.get("/v1/me", headers=patient.headers), 401)


def test_a_change_that_loses_to_a_delete_is_the_404_of_a_deleted_record(
    app, client, patient, make_account, link
):
    """Not a 412 whose `current` shows the deleted record (or the revoked link)."""
    mood = client.post("/v1/moods", headers=patient.headers, json={"mood": 3}).json
    url, headers = f"/v1/moods/{mood['id']}", {**patient.headers, "If-Match": '"1"'}

    def delete_mood():
        assert app.test_client().delete(url, headers=headers).status_code == 204

    with meanwhile(app, lambda statement: statement.startswith("UPDATE sync_clocks"), delete_mood):
        assert_problem(client.patch(url, headers=headers, json={"mood": 8}), 404)

    linked = link(patient, make_account("therapist"))
    url = f"/v1/care-team/{linked['id']}"

    def revoke():
        assert app.test_client().delete(url, headers=headers).status_code == 204

    # A change of scopes holds the patient's account (its sync clock) before it writes the link.
    with meanwhile(app, lambda statement: "sync_clocks" in statement, revoke):
        assert_problem(client.patch(url, headers=headers, json={"scopes": ["moods"]}), 404)


def erasing(app, account, into):
    """A `then` for meanwhile: the account's erasure, its response appended to `into`."""

    def erase():
        into.append(app.test_client().delete("/v1/me", headers=account.headers, json={"password": PASSWORD}))

    return erase


def after(prefix):
    return lambda statement: statement.startswith(prefix)


def test_a_refresh_while_the_account_is_erased_goes_first_and_the_erasure_waits(app, client, patient):
    """Rotation holds the account before it locks the refresh token, as the erasure does."""
    erased = []
    with meanwhile(
        app,
        after("UPDATE refresh_tokens"),
        erasing(app, patient, erased),
        at="after_cursor_execute",
        patience=1,
    ) as started:
        refreshed = client.post(
            "/v1/auth/refresh", headers={"Authorization": f"Bearer {patient.refresh_token}"}
        )
    assert started and refreshed.status_code == 200, refreshed.get_data(as_text=True)
    assert [response.status_code for response in erased] == [204], [r.get_data(as_text=True) for r in erased]


def test_redeeming_a_code_while_its_therapist_is_erased_goes_first_and_the_erasure_waits(
    app, client, make_account, invite
):
    """Redeeming holds the therapist's account before it claims the invitation."""
    therapist, patient = make_account("therapist"), make_account()
    code, erased = invite(therapist)["code"], []
    with meanwhile(
        app,
        after("UPDATE invitations"),
        erasing(app, therapist, erased),
        at="after_cursor_execute",
        patience=1,
    ) as started:
        linked = client.post(
            "/v1/care-team", headers=patient.headers, json={"code": code, "scopes": ["moods"]}
        )
    assert started and linked.status_code == 201, linked.get_data(as_text=True)
    assert [response.status_code for response in erased] == [204], [r.get_data(as_text=True) for r in erased]
    assert client.get("/v1/care-team", headers=patient.headers).json["items"] == []


def test_a_keyed_create_while_the_account_is_erased_goes_first_and_the_erasure_waits(app, client, patient):
    """The create clears the caller's expired answers only after it holds the account."""
    assert client.post("/v1/moods", headers={**patient.headers, "Idempotency-Key": "old"}, json={"mood": 2})
    with app.app_context():
        db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=2)))
        db.session.commit()
    erased = []
    with meanwhile(
        app,
        after("DELETE FROM idempotency_keys"),
        erasing(app, patient, erased),
        at="after_cursor_execute",
        patience=1,
    ) as started:
        created = client.post(
            "/v1/moods", headers={**patient.headers, "Idempotency-Key": "new"}, json={"mood": 5}
        )
    assert started and created.status_code == 201, created.get_data(as_text=True)
    assert [response.status_code for response in erased] == [204], [r.get_data(as_text=True) for r in erased]


def test_an_acknowledgement_that_loses_to_a_delete_is_the_404_of_a_deleted_entry(
    app, client, make_account, link
):
    """Not a 409 inviting a retry that can only ever be a 404."""
    therapist, patient = make_account("therapist"), make_account()
    link(patient, therapist)
    entry = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "x", "visibility": "care_team"}
    ).json
    url = f"/v1/entries/{entry['id']}"

    def delete_entry():
        assert (
            app.test_client().delete(url, headers={**patient.headers, "If-Match": '"1"'}).status_code == 204
        )

    # The delete commits after the therapist's read of the entry, before its acknowledgement.
    with meanwhile(app, after("SELECT entries."), delete_entry, at="after_cursor_execute"):
        acknowledged = client.post(
            f"/v1/patients/{patient.id}/entries/{entry['id']}/acknowledgement", headers=therapist.headers
        )
    assert_problem(acknowledged, 404)
