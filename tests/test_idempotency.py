"""A retried create never makes two records: the record and its stored answer commit together.

Faults are injected where the old design broke (a record committed, its answer not): the
database failing on the answer's write, and the worker process killed before the answer left.
"""

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import timedelta

from sqlalchemy import event, exc, select, text, update

from api.extensions import db
from api.idempotency import IdempotencyKey
from api.models import utcnow
from config import BASE_DIR
from tests.helpers import assert_problem


def moods_with_note(client, account, note):
    return [
        item
        for item in client.get("/v1/moods?limit=100", headers=account.headers).json["items"]
        if item["note"] == note
    ]


def test_the_database_failing_on_the_stored_answer_leaves_no_record_and_the_retry_makes_one(
    app, client, patient
):
    """The write of the answer fails after the record was written: the whole create is undone
    (503), and the retry creates the record once. (Before, the record stayed, the key was left
    "in flight" and retries got 409 for two minutes, then made a second record.)"""
    wrote_the_record = []

    def fail_the_answer(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if words[:3] == ["INSERT", "INTO", "moods"]:
            wrote_the_record.append(True)
        elif wrote_the_record and words[0] in ("INSERT", "UPDATE") and "idempotency_keys" in words[:3]:
            wrote_the_record.clear()
            raise exc.OperationalError(statement, parameters, Exception("the database went away"))

    headers = {**patient.headers, "Idempotency-Key": "mood-fault-1"}
    body = {"mood": 4, "note": "written once"}
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", fail_the_answer)
    try:
        failed = client.post("/v1/moods", headers=headers, json=body)
    finally:
        event.remove(engine, "before_cursor_execute", fail_the_answer)
    assert_problem(failed, 503)
    assert failed.headers["Retry-After"]
    assert moods_with_note(client, patient, "written once") == []

    retried = client.post("/v1/moods", headers=headers, json=body)
    assert retried.status_code == 201, retried.json
    assert "Idempotent-Replayed" not in retried.headers
    again = client.post("/v1/moods", headers=headers, json=body)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == retried.json
    assert [item["id"] for item in moods_with_note(client, patient, "written once")] == [retried.json["id"]]


WORKER = textwrap.dedent(
    """
    import os, sys, threading
    from api.app import create_app
    from api.moods.schemas import MoodSchema
    from config import TestingConfig

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = os.environ["WORKER_DATABASE_URL"]

    def written_then_killed(self, *args, **kwargs):
        print("record written", flush=True)
        threading.Event().wait()

    app = create_app(Config)
    MoodSchema.dump = written_then_killed  # the worker dies before its answer leaves
    app.test_client().post(
        "/v1/moods",
        headers={"Authorization": "Bearer " + os.environ["WORKER_TOKEN"], "Idempotency-Key": "mood-killed-1"},
        json={"mood": 6, "note": "killed mid-create"},
    )
    """
)


def test_a_worker_killed_mid_create_leaves_a_key_the_retry_can_use(config_class, client, patient):
    """A worker process is SIGKILLed after writing the record, before answering. The phone
    retries against another worker: one record, made by the retry. (Before, the record had
    committed alone and the key stayed in flight: 409 for two minutes, then a duplicate.)"""
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "WORKER_DATABASE_URL": config_class.SQLALCHEMY_DATABASE_URI,
            "WORKER_TOKEN": patient.access_token,
        },
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "record written"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

    headers = {**patient.headers, "Idempotency-Key": "mood-killed-1"}
    body = {"mood": 6, "note": "killed mid-create"}
    deadline = time.monotonic() + 10
    while True:  # the database may take a moment to see the dead worker's connection close
        retried = client.post("/v1/moods", headers=headers, json=body)
        if retried.status_code not in (409, 503) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert retried.status_code == 201, retried.json
    assert "Idempotent-Replayed" not in retried.headers
    assert [item["id"] for item in moods_with_note(client, patient, "killed mid-create")] == [
        retried.json["id"]
    ]


def stored_answers(app):
    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM idempotency_keys")).mappings().all()
        db.session.remove()
    return [dict(row) for row in rows]


def test_the_stored_answer_holds_no_journal_text(app, client, patient, link, make_account):
    marker = "MARKER-7f3a private words"
    bodies = {
        "/v1/moods": {"mood": 3, "note": marker},
        "/v1/entries": {"body": marker, "title": marker, "tags": [marker[:20]]},
        "/v1/sessions": {
            "started_at": "2026-03-01T09:00:00Z",
            "notes": marker,
            "intention": marker,
            "provider": marker,
        },
        "/v1/contacts": {"name": marker, "relationship": "friend", "notes": marker},
        "/v1/practices": {"practice": "yoga", "performed_at": "2026-03-02T07:00:00Z", "notes": marker},
    }
    for path, body in bodies.items():
        created = client.post(path, headers={**patient.headers, "Idempotency-Key": f"key {path}"}, json=body)
        assert created.status_code == 201, created.json
        assert (
            client.post(path, headers={**patient.headers, "Idempotency-Key": f"key {path}"}, json=body).json
            == created.json
        )
    answers = stored_answers(app)
    assert len(answers) == len(bodies)
    assert all("MARKER" not in str(answer) for answer in answers)
    assert {answer["status_code"] for answer in answers} == {201}


def test_a_replay_shows_the_record_as_it_is_now_and_410_once_it_is_deleted(client, patient):
    headers = {**patient.headers, "Idempotency-Key": "mood-then-edited"}
    first = client.post("/v1/moods", headers=headers, json={"mood": 2})
    url = first.headers["Location"]
    changed = client.patch(url, headers={**patient.headers, "If-Match": '"1"'}, json={"mood": 9}).json
    replay = client.post("/v1/moods", headers=headers, json={"mood": 2})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json == changed and replay.headers["ETag"] == '"2"' and replay.headers["Location"] == url
    client.delete(url, headers={**patient.headers, "If-Match": '"2"'})
    assert_problem(client.post("/v1/moods", headers=headers, json={"mood": 2}), 410, "created-record-gone")
    assert client.get("/v1/moods", headers=patient.headers).json["items"] == []


def test_answers_older_than_24_hours_are_purged(app, client, make_account):
    patient, other = make_account(), make_account()
    for account, key in ((patient, "old-1"), (patient, "old-2"), (other, "others-old")):
        client.post("/v1/moods", headers={**account.headers, "Idempotency-Key": key}, json={"mood": 4})
    with app.app_context():
        db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    # the caller's next keyed create clears the caller's old answers
    client.post("/v1/moods", headers={**patient.headers, "Idempotency-Key": "new-1"}, json={"mood": 4})
    assert sorted(answer["key"] for answer in stored_answers(app)) == ["new-1", "others-old"]
    # and `flask purge-idempotency-keys` clears everyone's
    result = app.test_cli_runner().invoke(args=["purge-idempotency-keys"])
    assert result.exit_code == 0 and "1 answer" in result.output
    assert [answer["key"] for answer in stored_answers(app)] == ["new-1"]


def answers_of(app, account):
    """(key, status, record id) of every stored answer of `account`, read on a connection of its own
    (so only what was committed), straight from the table the wrapper writes to."""
    return sorted(
        (answer["key"], answer["status_code"], str(uuid.UUID(str(answer["resource_id"]))))
        for answer in stored_answers(app)
        if uuid.UUID(str(answer["user_id"])) == uuid.UUID(account.id)
    )


def test_a_key_is_never_left_in_flight_by_a_failed_create(app, client, patient):
    """A create that fails for any reason stores nothing: the key is unused, not stuck."""
    headers = {**patient.headers, "Idempotency-Key": "mood-invalid-session"}
    bad = client.post(
        "/v1/entries",
        headers=headers,
        json={"body": "x", "session_id": "00000000-0000-4000-8000-000000000000"},
    )
    assert_problem(bad, 422)
    # refused by the create itself (inside the Idempotency-Key wrapper), not by the argument parser
    assert assert_problem(bad, 422, "validation-error")["errors"] == {"session_id": ["No such session."]}
    assert stored_answers(app) == []
    with app.app_context():
        assert db.session.execute(select(IdempotencyKey)).first() is None
    assert client.post("/v1/entries", headers=headers, json={"body": "x"}).status_code == 201
    # the same query sees the answer a successful create stores: it would have seen one above
    made = client.get("/v1/entries", headers=patient.headers).json["items"]
    assert answers_of(app, patient) == [("mood-invalid-session", 201, made[0]["id"])]


def test_no_answer_is_kept_for_a_failed_or_unkeyed_create(app, client, make_account):
    """Only a keyed create that succeeds stores an answer. Not one refused by the argument parser,
    not one refused by the create (an id already taken: the database's refusal), not one without
    a key; and each refused key then works."""
    patient, other = make_account(), make_account()
    taken = client.post("/v1/moods", headers=patient.headers, json={"mood": 3}).json["id"]
    failures = [
        ({"mood": 30}, 422, "validation-error"),  # refused before the create runs
        ({"id": taken, "mood": 3}, 409, "conflict"),  # refused by the database inside the create
    ]
    for number, (body, status, slug) in enumerate(failures):
        keyed = {**patient.headers, "Idempotency-Key": f"failed-{number}"}
        assert_problem(client.post("/v1/moods", headers=keyed, json=body), status, slug)
        assert stored_answers(app) == []
    unkeyed = client.post("/v1/moods", headers=patient.headers, json={"mood": 4})
    assert unkeyed.status_code == 201 and "Idempotent-Replayed" not in unkeyed.headers
    assert stored_answers(app) == []
    # another account's keyed create is stored under that account, not this one
    their_key = {**other.headers, "Idempotency-Key": "failed-0"}
    theirs = client.post("/v1/moods", headers=their_key, json={"mood": 5})
    assert theirs.status_code == 201
    assert answers_of(app, other) == [("failed-0", 201, theirs.json["id"])] and answers_of(app, patient) == []
    # the refused keys are free: each now makes its record, and that answer is kept
    made = {}
    for number in range(len(failures)):
        keyed = {**patient.headers, "Idempotency-Key": f"failed-{number}"}
        retried = client.post("/v1/moods", headers=keyed, json={"mood": 6})
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers, retried.json
        made[f"failed-{number}"] = retried.json["id"]
    assert answers_of(app, patient) == sorted((key, 201, record_id) for key, record_id in made.items())


def test_simultaneous_retries_with_a_client_chosen_id_all_get_the_one_answer(app, client, patient):
    """Sixteen copies of one offline create (same key, same client-chosen id) arrive at once:
    one record; every answer is it, or "still in progress"; none is "that id is taken". Eight
    rounds, since the copies must straddle the first one's commit to show it."""
    import threading
    import uuid as uuids

    for round_number in range(8):
        body = {"id": str(uuids.uuid4()), "mood": 4, "note": f"made offline {round_number}"}
        headers = {**patient.headers, "Idempotency-Key": f"offline-mood-{round_number}"}
        barrier, answers = threading.Barrier(16), []

        def phone():
            own = app.test_client()
            barrier.wait()
            response = own.post("/v1/moods", headers=headers, json=body)
            answers.append((response.status_code, response.get_json()))

        threads = [threading.Thread(target=phone) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for status, answer in answers:
            if status == 201:
                assert answer["id"] == body["id"]
            else:
                assert (status, answer["type"].rsplit("/", 1)[-1]) == (409, "request-in-progress"), answer
        assert [status for status, _ in answers].count(201) >= 1
        assert [item["id"] for item in moods_with_note(client, patient, body["note"])] == [body["id"]]
        assert client.post("/v1/moods", headers=headers, json=body).headers["Idempotent-Replayed"] == "true"


def keyed_mood(client, account, key, note):
    return client.post(
        "/v1/moods", headers={**account.headers, "Idempotency-Key": key}, json={"mood": 3, "note": note}
    )


def test_the_stored_fingerprint_is_keyed_so_it_confirms_no_guess_at_the_text(app, client, patient):
    """A plain hash of the request would let anyone holding a dump confirm a guessed short note."""
    assert keyed_mood(client, patient, "fp-1", "I miss her").status_code == 201
    with app.app_context():
        stored = db.session.execute(select(IdempotencyKey.fingerprint)).scalar_one()
    guessed = b'POST /v1/moods\n{"mood":3,"note":"I miss her"}'
    assert stored != hashlib.sha256(guessed).hexdigest()
    assert keyed_mood(client, patient, "fp-1", "I miss her").headers["Idempotent-Replayed"] == "true"
    assert_problem(keyed_mood(client, patient, "fp-1", "I miss him"), 422)


def test_an_answer_stored_with_a_plain_fingerprint_still_replays_its_retry(app, client, patient):
    """Answers stored before fingerprints were keyed (they live 24 hours) keep their retries safe."""
    first = keyed_mood(client, patient, "fp-2", "before the upgrade")
    assert first.status_code == 201
    plain = hashlib.sha256(b'POST /v1/moods\n{"mood":3,"note":"before the upgrade"}').hexdigest()
    with app.app_context():
        db.session.execute(update(IdempotencyKey).values(fingerprint=plain))
        db.session.commit()
    retry = keyed_mood(client, patient, "fp-2", "before the upgrade")
    assert retry.status_code == 201 and retry.json["id"] == first.json["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert_problem(keyed_mood(client, patient, "fp-2", "another note"), 422)
