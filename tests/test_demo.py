"""`flask seed-demo`: a month of realistic journal for a demo patient, a linked demo therapist,
both logins printed; re-running adds nothing; refused in production."""

from sqlalchemy import func, select

from api.accounts.models import User
from api.assessments.models import Assessment
from api.care_team.models import CareLink
from api.contacts.models import Contact
from api.demo import PATIENT, THERAPIST
from api.entries.models import Entry
from api.extensions import db
from api.moods.models import Mood
from api.practices.models import Practice
from api.sessions.models import Session

MODELS = (Session, Entry, Mood, Practice, Assessment, Contact, CareLink, User)


def counts(app):
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model)) for model in MODELS
        }


def login(client, details):
    answer = client.post("/v1/auth/login", json={"email": details["email"], "password": details["password"]})
    assert answer.status_code == 200, answer.json
    return {"Authorization": f"Bearer {answer.json['access_token']}"}


def test_seed_demo_makes_a_month_of_treatment_and_prints_the_logins(app, client):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    for details in (PATIENT, THERAPIST):
        assert details["email"] in result.output and details["password"] in result.output
    patient, therapist = login(client, PATIENT), login(client, THERAPIST)

    infusions = client.get("/v1/sessions?limit=100", headers=patient).json["items"]
    assert len(infusions) == 6
    assert {(s["medicine"], s["route"], s["setting"]) for s in infusions} == {("ketamine", "iv", "clinic")}
    starts = sorted(s["started_at"] for s in infusions)
    assert starts[0][:10] < starts[-1][:10]
    moods = client.get("/v1/moods?limit=100", headers=patient).json["items"]
    assert len(moods) == 30
    assessments = client.get("/v1/assessments?limit=100", headers=patient).json["items"]
    assert sorted({a["instrument"] for a in assessments}) == ["gad7", "phq9"] and len(assessments) == 8
    # the scores come down over the month, as the journal tells it
    phq9 = sorted((a for a in assessments if a["instrument"] == "phq9"), key=lambda a: a["taken_at"])
    assert phq9[0]["score"] > phq9[-1]["score"]
    assert len(client.get("/v1/entries?limit=100", headers=patient).json["items"]) >= 10
    assert len(client.get("/v1/practices?limit=100", headers=patient).json["items"]) >= 10
    assert len(client.get("/v1/contacts", headers=patient).json["items"]) >= 2

    # the demo therapist is linked and sees the shared part at once
    summary = client.get("/v1/patients", headers=therapist).json["items"]
    assert [item["display_name"] for item in summary] == [PATIENT["display_name"]]
    assert summary[0]["latest_mood"] is not None and summary[0]["latest_phq9"] is not None
    shared = client.get(f"/v1/patients/{summary[0]['patient_id']}/entries?limit=100", headers=therapist).json[
        "items"
    ]
    assert 0 < len(shared) < len(client.get("/v1/entries?limit=100", headers=patient).json["items"])
    # the first PHQ-9's item 9 opened a safety event, made as the API makes one
    flagged = [a["id"] for a in phq9 if a["safety_flag"]]
    events = client.get("/v1/safety-events", headers=therapist).json["items"]
    assert flagged and [event["assessment_id"] for event in events] == flagged
    assert [e["id"] for e in summary[0]["open_safety_events"]] == [event["id"] for event in events]


def test_seed_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    first = counts(app)
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0 and "0 records added" in again.output
    assert counts(app) == first


def test_seed_demo_refuses_to_run_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "production" in result.output
    assert counts(app)["User"] == 0
