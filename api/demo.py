"""`flask seed-demo`: a demo patient with a month of treatment and journal, and a linked demo
therapist, so a newcomer can explore /docs at once. Safe to re-run: it adds what is missing."""

import uuid
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from api.access import Role
from api.accounts import service as accounts
from api.accounts.models import User
from api.care_team import service as care_team
from api.care_team.models import CareLink
from api.entries.models import Entry
from api.extensions import db
from api.kinds import SCOPES, assessments, contacts, entries, moods, practices, sessions
from api.models import utcnow
from api.patients import service as patients
from api.transactions import unit_of_work

NAMESPACE = uuid.UUID("6f1c2a52-6c1e-4c55-9b7e-1d0c3a8e5f10")
PATIENT = {
    "email": "demo.patient@example.org",
    "password": "demo-patient-journal",
    "display_name": "Alex (demo)",
}
THERAPIST = {
    "email": "demo.therapist@example.org",
    "password": "demo-therapist-journal",
    "display_name": "Dr. Rivera (demo)",
}

# Six IV ketamine infusions over three weeks (Mondays and Thursdays), the usual induction series.
INFUSION_DAYS = (0, 3, 7, 10, 14, 17)
INTENTIONS = (
    "Meet whatever comes with curiosity.",
    "Look at the heaviness instead of away from it.",
    "Reconnect with my body.",
    "Let go of the story that nothing changes.",
    "Feel the space between the thoughts.",
    "Carry what I have learned into the weeks ahead.",
)
REFLECTIONS = (
    ("insight", "The fog lifted for the first time in months. I saw myself from the outside, kindly."),
    ("reflection", "Tired today, but the morning walk felt lighter than it has in a long while."),
    ("insight", "Realised how much I hold my breath when I think about work."),
    ("gratitude", "Grateful for Sam driving me home and sitting with me afterwards."),
    ("dream", "Dreamt of a house with every window open. Woke up calm."),
    ("body", "Shoulders softer. Slept seven hours without waking."),
    ("intention", "Call my sister this week. Keep the breathing practice before meetings."),
    ("reflection", "A hard day, but it did not swallow me. I noticed it and it passed."),
    ("insight", "The voice that says I am failing is old; it is not the truth about now."),
    ("gratitude", "Laughed properly at dinner. Did not realise how much I missed that."),
    ("reflection", "Last infusion done. A little afraid the change will fade; writing it down helps."),
    ("intention", "Keep journaling every evening and bring this to my next therapy session."),
)
# PHQ-9 and GAD-7 answers: baseline, after infusion 3, after infusion 6, one month on.
PHQ9 = (
    (2, 2, 3, 2, 2, 2, 2, 1, 1),
    (2, 1, 2, 2, 1, 2, 1, 1, 0),
    (1, 1, 1, 1, 1, 1, 1, 0, 0),
    (1, 0, 1, 1, 0, 1, 0, 0, 0),
)
GAD7 = ((2, 2, 3, 2, 2, 2, 1), (2, 1, 2, 2, 1, 1, 1), (1, 1, 1, 1, 1, 1, 0), (1, 0, 1, 1, 0, 0, 0))
ASSESSMENT_DAYS = (-1, 8, 18, 29)
SUPPORT_CONTACTS: tuple[dict[str, object], ...] = (
    {
        "name": "Sam",
        "relationship": "partner",
        "phone": "+1 555 0100",
        "is_emergency_contact": True,
        "is_session_support": True,
    },
    {"name": "Jordan", "relationship": "sitter", "phone": "+1 555 0101", "is_session_support": True},
    {"name": "988 Suicide & Crisis Lifeline", "relationship": "crisis_line", "phone": "988"},
)
PRACTICES = ("meditation", "breathwork", "exercise", "yoga", "therapy", "nature", "journaling")


def demo_id(*parts):
    return uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts))


def journal(start):
    """(kind, body) for every demo record, each with a fixed id so a re-run adds only what is missing."""
    at = lambda day, hour=9: (start + timedelta(days=day, hours=hour)).isoformat()  # noqa: E731
    for n, day in enumerate(INFUSION_DAYS):
        yield (
            sessions,
            {
                "id": demo_id("session", n),
                "started_at": at(day, 10),
                "medicine": "ketamine",
                "route": "iv",
                "dose_mg": 35.0 + 2.5 * min(n, 3),
                "duration_minutes": 40,
                "setting": "clinic",
                "provider": "Demo Ketamine Clinic",
                "intention": INTENTIONS[n],
                "side_effects": ["dissociation", "nausea"] if n < 2 else ["dissociation"],
                "vitals": [
                    {"taken_at": at(day, 10), "systolic": 124, "diastolic": 80, "heart_rate": 72},
                    {"taken_at": at(day, 10.67), "systolic": 138 - n, "diastolic": 86, "heart_rate": 78},
                ],
            },
        )
    for n, (kind, body) in enumerate(REFLECTIONS):
        day = INFUSION_DAYS[min(n // 2, 5)] + 1 + n % 2
        yield (
            entries,
            {
                "id": demo_id("entry", n),
                "body": body,
                "kind": kind,
                "occurred_at": at(day, 20),
                "session_id": demo_id("session", min(n // 2, 5)) if n % 2 == 0 else None,
                "emotions": ["calm", "hopeful"] if n % 3 else ["sad", "hopeful"],
                "tags": ["integration"] + (["sleep"] if kind == "body" else []),
                # Most are shared with the care team; some stay private.
                "visibility": "private" if n in (3, 7) else "care_team",
            },
        )
    for day in range(30):
        mood = min(9, 3 + day // 5 + (1 if day in INFUSION_DAYS else 0))
        yield (
            moods,
            {
                "id": demo_id("mood", day),
                "mood": mood,
                "energy": max(2, mood - 1),
                "anxiety": max(2, 8 - day // 5),
                "sleep_hours": 5.5 + min(day, 20) * 0.08,
                "recorded_at": at(day, 8),
                "timezone": "America/New_York",
            },
        )
    for n in range(15):
        before = 4 + n // 4
        yield (
            practices,
            {
                "id": demo_id("practice", n),
                "practice": PRACTICES[n % len(PRACTICES)],
                "performed_at": at(2 * n, 7),
                "duration_minutes": 20 + 5 * (n % 3),
                "intensity": ("low", "moderate", "high")[n % 3],
                "mood_before": before,
                "mood_after": min(10, before + 1 + n % 2),
            },
        )
    for n, day in enumerate(ASSESSMENT_DAYS):
        for instrument, answers in (("phq9", PHQ9[n]), ("gad7", GAD7[n])):
            yield (
                assessments,
                {
                    "id": demo_id(instrument, n),
                    "instrument": instrument,
                    "answers": list(answers),
                    "taken_at": at(day, 9),
                },
            )
    for n, contact in enumerate(SUPPORT_CONTACTS):
        yield contacts, {"id": demo_id("contact", n), **contact}


def account(details, role):
    user = db.session.execute(select(User).where(User.email == details["email"])).scalar_one_or_none()
    if user is not None:
        return user
    return accounts.register(
        email=details["email"],
        password=details["password"],
        display_name=details["display_name"],
        role=role,
        timezone="America/New_York",
        country="US",
    )


def seed(now=None):
    """Create whatever part of the demo is missing; returns how many records it added."""
    patient = account(PATIENT, Role.PATIENT)
    therapist = account(THERAPIST, Role.THERAPIST)
    start = (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=30)
    added = 0
    for kind, body in journal(start):
        if db.session.get(kind.model, body["id"]) is not None:
            continue
        kind.make(kind.schemas.create().load(body), owner_id=patient.id)
        added += 1
    linked = db.session.execute(
        select(CareLink.id).where(
            CareLink.patient_id == patient.id,
            CareLink.therapist_id == therapist.id,
            CareLink.revoked_at.is_(None),
        )
    ).first()
    if linked is None:
        _, code = care_team.create_invitation(therapist_id=therapist.id)
        care_team.redeem(patient_id=patient.id, code=code, scopes=list(SCOPES))
    first_entry = db.session.get(Entry, demo_id("entry", 0))
    if first_entry is not None and first_entry.acknowledged_at is None:
        patients.acknowledge_entry(
            actor=therapist, patient_id=patient.id, entry_id=first_entry.id, request_id="seed-demo"
        )
    return added


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Create a demo patient (a month of journal) and a linked demo therapist; print their logins."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException(
            "seed-demo creates accounts with published passwords; "
            "run it with APP_ENV=development, never in production."
        )
    with unit_of_work():
        added = seed()
    click.echo(f"Demo data ready ({added} records added).")
    for role, details in (("patient", PATIENT), ("therapist", THERAPIST)):
        click.echo(f"  {role:9} {details['email']}  password: {details['password']}")
    click.echo("Sign in at POST /v1/auth/login, then use the access token in /docs (Authorize).")
