"""bench/load/verify.py, the load test's judge: records made through the API and a client's write
log as the locustfile keeps it, then the database read as verify.py reads it (on SQLite and
PostgreSQL alike). A clean log passes; each broken promise is reported."""

import importlib.util
import uuid
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from api.extensions import db

VERIFY_PATH = Path(__file__).resolve().parent.parent / "bench" / "load" / "verify.py"
_spec = importlib.util.spec_from_file_location("bench_load_verify", VERIFY_PATH)
verify_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verify_module)

START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PATHS = {
    "mood": "/v1/moods",
    "entry": "/v1/entries",
    "practice": "/v1/practices",
    "assessment": "/v1/assessments",
}
TIME_FIELDS = {
    "mood": "recorded_at",
    "entry": "occurred_at",
    "practice": "performed_at",
    "assessment": "taken_at",
}
BODIES = {
    "mood": {"mood": 6, "note": "Calmer today."},
    "entry": {"body": "What came up.", "visibility": "care_team"},
    "practice": {"practice": "breathwork", "duration_minutes": 10},
    "assessment": {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 0]},
}


class Run:
    """A patient's keyed creates, with the write log lines the locustfile writes for them."""

    def __init__(self, client, patient):
        self.client, self.patient = client, patient
        self.log, self.statuses = [], {"POST /v1/moods": {"201": 0}}
        self._stamps = count(1)

    def send(self, kind, *, key=None, stamp=None, log_sent=True, log_answer=True, body=None, **logged):
        """POST one keyed create; log it as a client would. The response."""
        key = key or str(uuid.uuid4())
        stamp = stamp or (START - timedelta(milliseconds=next(self._stamps))).isoformat()
        owner = self.patient.id
        if log_sent:
            self.log.append(
                {"event": "sent", "kind": kind, "key": key, "owner": owner, "stamp": stamp, **logged}
            )
        response = self.client.post(
            PATHS[kind],
            json={**(body or BODIES[kind]), TIME_FIELDS[kind]: stamp},
            headers={**self.patient.headers, "Idempotency-Key": key},
        )
        assert response.status_code == 201, response.json
        if log_answer:
            self.answer(
                kind, key, response.json["id"], replayed=response.headers.get("Idempotent-Replayed") == "true"
            )
        return response

    def answer(self, kind, key, record_id, *, replayed=False):
        self.log.append(
            {
                "event": "answer",
                "kind": kind,
                "key": key,
                "owner": self.patient.id,
                "status": 201,
                "id": record_id,
                "replayed": replayed,
            }
        )

    def verify(self, app):
        sent = {row["key"]: row for row in self.log if row["event"] == "sent"}
        answers = {}
        for row in self.log:
            if row["event"] == "answer":
                answers.setdefault(row["key"], []).append(row)
        with app.app_context():
            database = verify_module.read_database(db.engine, [self.patient.id])
        accounts = {"patients": [{"id": self.patient.id}], "therapists": []}
        return verify_module.verify(accounts, sent, answers, *database, self.statuses)


@pytest.fixture
def run(client, patient):
    return Run(client, patient)


def test_a_clean_run_passes_and_counts_what_it_saw(app, run):
    run.send("mood")
    # a lost answer: the same key again replays the same record
    first = run.send("entry")
    key = run.log[-2]["key"]
    replay = run.send("entry", key=key, stamp=run.log[-2]["stamp"], log_sent=False)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json["id"] == first.json["id"]
    run.send("practice")
    run.send("assessment", body={"instrument": "phq9", "answers": [0] * 8 + [2]}, safety_event=True)
    run.send("assessment")
    # the run ended while this one was in flight: made, never answered
    run.send("mood", log_answer=False)

    lines, problems = run.verify(app)

    assert problems == []
    assert "writes: 5 acknowledged, 6 in database, 0 lost, 0 duplicated" in lines
    assert "unacknowledged records: 1 accounted for (the client never got a 201), 0 unexplained" in lines
    assert "keys: 6 sent, 1 sent more than once, 1 replayed 201s, 0 in-flight 409s" in lines
    assert "safety events: 1 flagged PHQ-9s acknowledged, 1 with exactly one event" in lines


def test_an_acknowledged_record_missing_from_the_database_is_lost(app, run):
    run.send("mood")
    # the client was told of a record the database does not hold
    run.send("practice", log_answer=False)
    run.answer("practice", run.log[-1]["key"], str(uuid.uuid4()))

    lines, problems = run.verify(app)

    assert "writes: 2 acknowledged, 2 in database, 1 lost, 0 duplicated" in lines
    assert any(problem.startswith("lost: practice") for problem in problems), problems


def test_one_key_answered_with_two_records_is_duplicated(app, run):
    run.send("mood")
    run.answer("mood", run.log[-2]["key"], str(uuid.uuid4()), replayed=True)

    _, problems = run.verify(app)

    assert any(problem.startswith("duplicated: key") for problem in problems), problems


def test_two_records_for_one_request_are_duplicated_even_if_no_client_was_told(app, run):
    stamp = (START - timedelta(seconds=1)).isoformat()
    run.send("mood", stamp=stamp)
    # the server made a second record for the same request (here: the key was not honoured)
    run.send("mood", stamp=stamp, log_sent=False, log_answer=False)

    lines, problems = run.verify(app)

    assert "writes: 1 acknowledged, 2 in database, 0 lost, 1 duplicated" in lines
    assert any(problem.startswith("duplicated: 2 mood records for one request") for problem in problems)


def test_a_record_no_request_explains_fails_the_run(app, run):
    run.send("entry")
    run.send("entry", log_sent=False, log_answer=False)

    lines, problems = run.verify(app)

    assert "unacknowledged records: 0 accounted for (the client never got a 201), 1 unexplained" in lines
    assert any(problem.startswith("unexplained: entry") for problem in problems), problems


def test_a_flagged_phq9_without_its_safety_event_fails_the_run(app, run):
    # logged as item 9 above 0, sent with item 9 at 0: no event was made
    run.send("assessment", safety_event=True)

    _, problems = run.verify(app)

    assert any("has 0 safety events" in problem for problem in problems), problems


def test_server_errors_and_failed_client_checks_fail_the_run(app, run):
    run.send("mood")
    run.statuses = {"GET /v1/sync": {"200": 10, "502": 1}, "sync feed": {"failed check": 2}}

    lines, problems = run.verify(app)

    assert "requests: 13 answered or attempted, 1 5xx, 0 without an answer" in lines
    assert "5xx: GET /v1/sync: {'502': 1}" in problems
    assert "client check failed 2 time(s): sync feed" in problems
