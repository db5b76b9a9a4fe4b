"""What a mobile app (or its Python test harness) does with the Integration Journal API, written
against the client openapi-python-client generates from openapi/openapi.json.

`make clients` generates the `integration_journal_client` package into a temporary folder and runs
`mypy --strict` on this file with that package importable. Every type of API data comes from the
generated models: no casts, no Any, no type-ignore comments, no hand-written shapes, and no
checks for UNSET on a field the server always sends. When this stops type-checking, the spec has
drifted from what the server sends (or the app from the spec).

It also runs: API_BASE_URL=http://127.0.0.1:5000 python scenario.py (with the package on the path).
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from http import HTTPStatus
from typing import TypeVar
from uuid import UUID

from integration_journal_client import AuthenticatedClient, Client
from integration_journal_client.api.assessments import create_assessment
from integration_journal_client.api.auth import log_in, refresh_tokens, register_account
from integration_journal_client.api.care_team import create_care_link
from integration_journal_client.api.contacts import create_contact
from integration_journal_client.api.entries import create_entry
from integration_journal_client.api.invitations import create_invitation
from integration_journal_client.api.me import get_me
from integration_journal_client.api.moods import create_mood, get_mood, list_moods, update_mood
from integration_journal_client.api.patients import list_patient_moods, list_patients
from integration_journal_client.api.plans import get_my_integration_plan, list_follow_ups
from integration_journal_client.api.practices import create_practice
from integration_journal_client.api.sessions import create_session
from integration_journal_client.api.sync import sync_changes
from integration_journal_client.models import (
    Assessment,
    AssessmentChange,
    AssessmentCreate,
    AssessmentCreated,
    CareLink,
    CareLinkCreate,
    Contact,
    ContactChange,
    ContactCreate,
    Emotion,
    Entry,
    EntryChange,
    EntryCreate,
    FollowUp,
    FollowUpChange,
    FollowUpPage,
    InvitationCreated,
    Login,
    Mood,
    MoodChange,
    MoodCreate,
    MoodPage,
    MoodPreconditionFailed,
    MoodUpdate,
    PatientSummaryPage,
    Plan,
    Practice,
    PracticeChange,
    PracticeCreate,
    Problem,
    Registration,
    SafetyEvent,
    SafetyEventChange,
    Session,
    SessionChange,
    SessionCreate,
    SyncPage,
    TokenPair,
    User,
    ValidationProblem,
    Vitals,
)

PASSWORD = "correct horse battery staple"
T = TypeVar("T")


def say(*parts: str | int | float | bool | datetime.datetime | UUID) -> None:
    """The app's log line. It takes no None and no UNSET, so every field it shows must be one the
    spec promises (or one the app has checked)."""
    print(*parts)


def shown(
    value: str | int | float | datetime.datetime | UUID | None, none: str = "none"
) -> str | int | float | datetime.datetime | UUID:
    """A nullable field for a log line: the server always sends it, None when there is nothing."""
    return none if value is None else value


class ApiError(Exception):
    def __init__(self, what: str, status: HTTPStatus, parsed: object) -> None:
        if isinstance(parsed, Problem | ValidationProblem | MoodPreconditionFailed):
            detail = f"{parsed.title}: {parsed.detail} ({parsed.type_})"
        else:
            detail = "no problem body"
        super().__init__(f"{what}: HTTP {status.value}, {detail}")


def expect(what: str, status: HTTPStatus, parsed: object, kind: type[T]) -> T:
    """The parsed body when it is the success model, else an ApiError with the problem."""
    if isinstance(parsed, kind):
        return parsed
    raise ApiError(what, status, parsed)


class Device:
    """One signed-in device: an anonymous client for sign-in, an authenticated one afterwards."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
        self.api = AuthenticatedClient(base_url=base_url, token="", raise_on_unexpected_status=True)
        self.refresh_token = ""
        self.refresh_at = 0.0

    def store(self, pair: TokenPair) -> None:
        self.api = AuthenticatedClient(
            base_url=self.base_url, token=pair.access_token, raise_on_unexpected_status=True
        )
        self.refresh_token = pair.refresh_token
        self.refresh_at = time.monotonic() + max(pair.expires_in - 60, 0)  # a minute early
        say("tokens:", pair.token_type, "for", pair.expires_in, "s")

    def register(self, body: Registration) -> User:
        r = register_account.sync_detailed(client=self.anonymous, body=body)
        user = expect("register", r.status_code, r.parsed, User)
        say("registered", user.role, user.display_name, user.id, user.created_at)
        return user

    def log_in(self, email: str) -> None:
        r = log_in.sync_detailed(client=self.anonymous, body=Login(email=email, password=PASSWORD))
        self.store(expect("log in", r.status_code, r.parsed, TokenPair))

    def refresh(self) -> None:
        # The refresh endpoint takes the refresh token in place of the access token.
        with_refresh = AuthenticatedClient(base_url=self.base_url, token=self.refresh_token)
        r = refresh_tokens.sync_detailed(client=with_refresh)
        self.store(expect("refresh", r.status_code, r.parsed, TokenPair))

    def refresh_if_due(self) -> None:
        if time.monotonic() >= self.refresh_at:
            self.refresh()


def me(device: Device) -> User:
    r = get_me.sync_detailed(client=device.api)
    user = expect("me", r.status_code, r.parsed, User)
    say("me:", user.display_name, user.role, user.id, user.timezone, "version", user.version)
    return user


def record_session_day(device: Device) -> tuple[Session, Entry]:
    started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=3)
    body = SessionCreate(
        started_at=started,
        medicine="ketamine",
        route="iv",
        dose_mg=35.0,
        setting="clinic",
        duration_minutes=40,
        intention="Meet the grief with curiosity.",
        side_effects=["dissociation"],
        vitals=[Vitals(taken_at=started, systolic=128, diastolic=82, heart_rate=74)],
    )
    r = create_session.sync_detailed(client=device.api, body=body, idempotency_key=str(uuid.uuid4()))
    session = expect("create session", r.status_code, r.parsed, Session)
    say("session", session.id, session.medicine, session.started_at, "version", session.version)
    for vitals in session.vitals:
        say("  vitals at", vitals.taken_at, shown(vitals.systolic, "-"), shown(vitals.diastolic, "-"))

    feelings: list[Emotion] = ["grateful", "tender", "floating"]
    entry_body = EntryCreate(
        body="Felt held; the old story about my father softened.",
        title="Integration, day 0",
        session_id=session.id,
        kind="insight",
        emotions=feelings,
        tags=["family"],
        visibility="care_team",
    )
    r2 = create_entry.sync_detailed(client=device.api, body=entry_body)
    entry = expect("create entry", r2.status_code, r2.parsed, Entry)
    location = r2.headers.get("Location", "?")
    say(
        "entry",
        entry.id,
        entry.kind,
        entry.visibility,
        "for session",
        shown(entry.session_id),
        "at",
        location,
    )
    say("  emotions", ", ".join(entry.emotions), "acknowledged", shown(entry.acknowledged_at, "not yet"))
    return session, entry


def check_in(device: Device) -> tuple[Mood, str]:
    body = MoodCreate(
        mood=7,
        anxiety=3,
        energy=6,
        sleep_hours=7.5,
        emotions=["hopeful", "calm"],
        note="Lighter than yesterday.",
        timezone="Europe/Berlin",
    )
    r = create_mood.sync_detailed(client=device.api, body=body, idempotency_key=str(uuid.uuid4()))
    mood = expect("check in", r.status_code, r.parsed, Mood)
    etag = r.headers.get("ETag")
    if etag is None:
        raise ApiError("check in: no ETag", r.status_code, r.parsed)
    say("mood", mood.id, mood.mood, "at", mood.recorded_at, "version", mood.version, "ETag", etag)
    return mood, etag


def follow_the_plan(device: Device, session: Session) -> Mood:
    """The plan the session's follow-ups came from, and a check-in that completes the mood one."""
    r = get_my_integration_plan.sync_detailed(client=device.api)
    plan = expect("plan", r.status_code, r.parsed, Plan)
    say("plan version", plan.version, "default" if plan.is_default else "own", len(plan.steps), "steps")
    r2 = list_follow_ups.sync_detailed(client=device.api, session_id=session.id, limit=50)
    page = expect("follow-ups", r2.status_code, r2.parsed, FollowUpPage)
    for follow_up in page.items:
        instrument = shown(follow_up.instrument, "")
        say(
            "  follow-up",
            follow_up.kind,
            instrument,
            "due",
            follow_up.due_at,
            "done" if follow_up.completed_at else "",
        )
    mood_step = next(follow_up for follow_up in page.items if follow_up.kind == "mood")
    body = MoodCreate(mood=6, timezone="Europe/Berlin", follow_up_id=mood_step.id)
    r3 = create_mood.sync_detailed(client=device.api, body=body)
    mood = expect("check in for the follow-up", r3.status_code, r3.parsed, Mood)
    say("mood", mood.id, "completes follow-up", mood_step.id)
    return mood


def log_practice(device: Device) -> Practice:
    body = PracticeCreate(
        practice="breathwork",
        performed_at=datetime.datetime.now(datetime.UTC),
        duration_minutes=12,
        intensity="low",
        mood_before=5,
        mood_after=7,
    )
    r = create_practice.sync_detailed(client=device.api, body=body)
    practice = expect("log practice", r.status_code, r.parsed, Practice)
    lift = 0
    if practice.mood_after is not None and practice.mood_before is not None:
        lift = practice.mood_after - practice.mood_before
    say(
        "practice",
        practice.id,
        practice.practice,
        shown(practice.intensity, "intensity not given"),
        "mood +",
        lift,
    )
    return practice


def add_support_person(device: Device) -> Contact:
    body = ContactCreate(name="Sam", relationship="sitter", phone="+1 555 0100", is_session_support=True)
    r = create_contact.sync_detailed(client=device.api, body=body)
    contact = expect("add contact", r.status_code, r.parsed, Contact)
    say(
        "contact",
        contact.id,
        contact.name,
        contact.relationship,
        "session support",
        contact.is_session_support,
    )
    return contact


def take_phq9(device: Device, session: Session) -> AssessmentCreated:
    body = AssessmentCreate(instrument="phq9", answers=[1, 1, 2, 1, 0, 1, 1, 0, 1], session_id=session.id)
    r = create_assessment.sync_detailed(client=device.api, body=body)
    assessment = expect("PHQ-9", r.status_code, r.parsed, AssessmentCreated)
    say(
        "PHQ-9",
        assessment.id,
        "score",
        assessment.score,
        shown(assessment.severity, "no bands"),
        len(assessment.answers),
        "answers",
    )
    if assessment.crisis_resources is not None:
        # Item 9 above 0: the answer carries the crisis lines for the profile's country; show them at once.
        for line in assessment.crisis_resources.resources:
            say(
                " ",
                line.name,
                "call",
                shown(line.phone, "-"),
                "text",
                shown(line.sms, "-"),
                shown(line.url, ""),
            )
    return assessment


def revalidate(device: Device, mood: Mood, etag: str) -> Mood:
    """The cached copy is still good when the server answers 304 to its ETag."""
    r = get_mood.sync_detailed(mood.id, client=device.api, if_none_match=etag)
    if r.status_code == HTTPStatus.NOT_MODIFIED:
        say("mood", mood.id, "unchanged (304)")
        return mood
    fresh = expect("revalidate", r.status_code, r.parsed, Mood)
    say("mood", fresh.id, "changed: version", fresh.version, "ETag", r.headers.get("ETag", "?"))
    return fresh


def edit_on_two_devices(device: Device, mood: Mood, etag: str) -> Mood:
    """Two devices edit the same check-in: the second one's ETag is stale. The 412 carries the record
    as it is now, so the app can show the conflict at once; it reads the record again only for an
    ETag to retry with (the 412 sends none)."""
    phone = update_mood.sync_detailed(
        mood.id,
        client=device.api,
        body=MoodUpdate(note="Lighter than yesterday; walked by the river."),
        if_match=etag,
    )
    saved = expect("edit on phone", phone.status_code, phone.parsed, Mood)
    say("phone saved version", saved.version, shown(saved.note, ""))

    tablet = update_mood.sync_detailed(mood.id, client=device.api, body=MoodUpdate(mood=8), if_match=etag)
    if isinstance(tablet.parsed, Mood):
        return tablet.parsed
    if not isinstance(tablet.parsed, MoodPreconditionFailed):
        raise ApiError("edit on tablet", tablet.status_code, tablet.parsed)
    current = tablet.parsed.current
    say(
        "tablet is stale: server has version",
        current.version,
        "mood",
        current.mood,
        "note",
        shown(current.note),
    )

    # Merge: keep the server's note, apply the tablet's mood, against the server's version.
    again = get_mood.sync_detailed(current.id, client=device.api)
    expect("re-read", again.status_code, again.parsed, Mood)
    fresh_tag = again.headers.get("ETag")
    if fresh_tag is None:
        raise ApiError("re-read: no ETag", again.status_code, again.parsed)
    merged = update_mood.sync_detailed(
        current.id, client=device.api, body=MoodUpdate(mood=8), if_match=fresh_tag
    )
    return expect("merge", merged.status_code, merged.parsed, Mood)


def field_messages(problem: ValidationProblem) -> list[str]:
    """Each field's messages; a nested field's errors are an object of the same shape."""
    lines: list[str] = []
    pending = [("", problem.errors)]
    while pending:
        prefix, errors = pending.pop()
        for field, value in errors.additional_properties.items():
            if isinstance(value, list):
                lines.extend(f"{prefix}{field}: {message}" for message in value)
            else:
                pending.append((f"{prefix}{field}.", value))
    return lines


def submit_bad_form(device: Device) -> None:
    """A form the app failed to check: the 422 names each bad field."""
    r = create_mood.sync_detailed(client=device.api, body=MoodCreate(mood=11, emotions=["calm"]))
    if not isinstance(r.parsed, ValidationProblem):
        raise ApiError("bad form: expected a 422", r.status_code, r.parsed)
    say("422 with", r.parsed.error_count or len(r.parsed.errors.additional_properties), "problem(s)")
    for line in field_messages(r.parsed):
        say(" ", line)


def all_moods(device: Device, since: datetime.datetime) -> list[Mood]:
    moods: list[Mood] = []
    cursor: str | None = None
    while True:
        if cursor is None:
            r = list_moods.sync_detailed(client=device.api, from_=since, limit=50)
        else:
            r = list_moods.sync_detailed(client=device.api, from_=since, limit=50, cursor=cursor)
        page = expect("list moods", r.status_code, r.parsed, MoodPage)
        moods.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    average = sum(mood.mood for mood in moods) / max(len(moods), 1)
    say(len(moods), "check-ins since", since, "average", round(average, 1))
    return moods


class LocalStore:
    """The device's copy of the journal, kept current by the sync feed."""

    def __init__(self) -> None:
        self.sessions: dict[UUID, Session] = {}
        self.entries: dict[UUID, Entry] = {}
        self.moods: dict[UUID, Mood] = {}
        self.contacts: dict[UUID, Contact] = {}
        self.practices: dict[UUID, Practice] = {}
        self.assessments: dict[UUID, Assessment] = {}
        self.safety_events: dict[UUID, SafetyEvent] = {}
        self.follow_ups: dict[UUID, FollowUp] = {}
        self.cursor: str | None = None

    def apply(
        self,
        change: SessionChange
        | EntryChange
        | MoodChange
        | ContactChange
        | PracticeChange
        | AssessmentChange
        | SafetyEventChange
        | FollowUpChange,
    ) -> None:
        # The variant tells which record `data` is; `data` is None for a delete.
        say(change.op, change.type_, change.id, "v", change.version)
        if isinstance(change, SessionChange):
            self.sessions.pop(change.id, None)
            if change.data is not None:
                self.sessions[change.id] = change.data
                say("  session", change.data.started_at, change.data.medicine)
        elif isinstance(change, EntryChange):
            self.entries.pop(change.id, None)
            if change.data is not None:
                self.entries[change.id] = change.data
                say("  entry", change.data.kind, change.data.body[:40])
        elif isinstance(change, MoodChange):
            self.moods.pop(change.id, None)
            if change.data is not None:
                self.moods[change.id] = change.data
                say("  mood", change.data.mood, "at", change.data.recorded_at)
        elif isinstance(change, ContactChange):
            self.contacts.pop(change.id, None)
            if change.data is not None:
                self.contacts[change.id] = change.data
                say("  contact", change.data.name, change.data.relationship)
        elif isinstance(change, PracticeChange):
            self.practices.pop(change.id, None)
            if change.data is not None:
                self.practices[change.id] = change.data
                say("  practice", change.data.practice, "at", change.data.performed_at)
        elif isinstance(change, AssessmentChange):
            self.assessments.pop(change.id, None)
            if change.data is not None:
                self.assessments[change.id] = change.data
                say("  assessment", change.data.instrument, "score", change.data.score)
        elif isinstance(change, FollowUpChange):
            # What the phone schedules its own notifications from, offline.
            self.follow_ups.pop(change.id, None)
            if change.data is not None:
                self.follow_ups[change.id] = change.data
                say("  follow-up", change.data.kind, "due", change.data.due_at)
        else:
            self.safety_events.pop(change.id, None)
            if change.data is not None:
                self.safety_events[change.id] = change.data
                trail = change.data.acknowledgements
                by = [a.acknowledged_by.display_name for a in trail if a.acknowledged_by is not None]
                say("  safety event", change.data.status, "acknowledged by", ", ".join(by) or "nobody yet")


def sync(device: Device, store: LocalStore) -> None:
    pages = 0
    while True:
        if store.cursor is None:
            r = sync_changes.sync_detailed(client=device.api, limit=100)
        else:
            r = sync_changes.sync_detailed(client=device.api, limit=100, cursor=store.cursor)
        page = expect("sync", r.status_code, r.parsed, SyncPage)
        pages += 1
        for change in page.changes:
            store.apply(change)
        store.cursor = page.next_cursor
        more: bool = page.has_more
        if not more:
            break
    say("synced in", pages, "page(s):", len(store.moods), "moods,", len(store.entries), "entries")


def invite(therapist: Device) -> InvitationCreated:
    r = create_invitation.sync_detailed(client=therapist.api)
    invitation = expect("invite", r.status_code, r.parsed, InvitationCreated)
    say(
        "invitation",
        invitation.id,
        invitation.status,
        "code",
        invitation.code,
        "expires",
        invitation.expires_at,
    )
    return invitation


def redeem(patient: Device, code: str) -> CareLink:
    body = CareLinkCreate(code=code, scopes=["moods", "entries", "assessments"])
    r = create_care_link.sync_detailed(client=patient.api, body=body)
    link = expect("redeem", r.status_code, r.parsed, CareLink)
    say(
        "linked to",
        link.therapist.display_name,
        link.therapist.id,
        ", ".join(link.scopes),
        "version",
        link.version,
    )
    return link


def review_patients(therapist: Device) -> None:
    cursor: str | None = None
    while True:
        if cursor is None:
            r = list_patients.sync_detailed(client=therapist.api, limit=20)
        else:
            r = list_patients.sync_detailed(client=therapist.api, limit=20, cursor=cursor)
        page = expect("patients", r.status_code, r.parsed, PatientSummaryPage)
        for patient in page.items:
            latest = f"{patient.latest_mood.mood}/10" if patient.latest_mood is not None else "no mood shared"
            flags = len(patient.open_safety_flags) if patient.open_safety_flags is not None else 0
            say(
                "patient",
                patient.display_name,
                patient.patient_id,
                "since",
                patient.linked_at,
                latest,
                flags,
                "flag(s)",
            )
            say("  scopes", ", ".join(patient.scopes))
            if "moods" in patient.scopes:
                patient_moods(therapist, patient.patient_id)
        cursor = page.next_cursor
        if cursor is None:
            break


def patient_moods(therapist: Device, patient_id: UUID) -> None:
    cursor: str | None = None
    while True:
        if cursor is None:
            r = list_patient_moods.sync_detailed(patient_id, client=therapist.api, limit=100)
        else:
            r = list_patient_moods.sync_detailed(patient_id, client=therapist.api, limit=100, cursor=cursor)
        page = expect("patient moods", r.status_code, r.parsed, MoodPage)
        for mood in page.items:
            say(
                " ",
                mood.recorded_at,
                mood.mood,
                "anxiety",
                shown(mood.anxiety, "-"),
                ", ".join(mood.emotions),
            )
        cursor = page.next_cursor
        if cursor is None:
            break


def main(base_url: str) -> None:
    stamp = int(time.time())
    patient = Device(base_url)
    patient_email = f"patient-{stamp}@example.org"
    patient.register(
        Registration(
            email=patient_email,
            password=PASSWORD,
            display_name="Alex",
            role="patient",
            timezone="Europe/Berlin",
        )
    )
    patient.log_in(patient_email)
    patient.refresh()
    me(patient)

    session, _entry = record_session_day(patient)
    follow_the_plan(patient, session)
    mood, etag = check_in(patient)
    log_practice(patient)
    add_support_person(patient)
    take_phq9(patient, session)
    revalidate(patient, mood, etag)
    edit_on_two_devices(patient, mood, etag)
    submit_bad_form(patient)
    all_moods(patient, datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30))

    store = LocalStore()
    sync(patient, store)
    patient.refresh_if_due()
    sync(patient, store)  # nothing new: one page, no changes

    therapist = Device(base_url)
    therapist_email = f"therapist-{stamp}@example.org"
    therapist.register(
        Registration(
            email=therapist_email,
            password=PASSWORD,
            display_name="Dr. Rivera",
            role="therapist",
            country="US",
        )
    )
    therapist.log_in(therapist_email)
    invitation = invite(therapist)
    redeem(patient, invitation.code)
    review_patients(therapist)


if __name__ == "__main__":
    main(os.environ.get("API_BASE_URL", "http://127.0.0.1:5000"))
