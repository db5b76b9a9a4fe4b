"""Safety events (API.md §5): a PHQ-9 with item 9 above 0 opens one, in the assessment's unit of
work; the patient is shown crisis lines at once; linked therapists with the `assessments` scope
see it until one acknowledges it; the patient sees who did and when; the feed carries it."""

import uuid

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from api.assessments.models import Assessment
from api.assessments.safety_models import SafetyEvent
from api.extensions import db
from tests.helpers import assert_problem, link_to, meanwhile, rescope, revoke
from tests.test_sync import drain

# Item answers that give each PHQ-9 band with item 9 set to `item9` (0-3).
BANDS = {"minimal": 3, "mild": 7, "moderate": 12, "moderately_severe": 17, "severe": 24}


def phq9(total, item9):
    """Nine answers 0-3 with item 9 = item9 and this total."""
    rest, answers = total - item9, []
    for _ in range(8):
        answers.append(min(3, rest))
        rest -= answers[-1]
    assert rest == 0
    return [*answers, item9]


def take(client, patient, answers, instrument="phq9", **more):
    created = client.post(
        "/v1/assessments",
        headers={**patient.headers, **more.pop("headers", {})},
        json={
            "instrument": instrument,
            "answers": answers,
            **more,
        },
    )
    assert created.status_code == 201, created.json
    return created


def my_events(client, patient, **query):
    listed = client.get("/v1/me/safety-events", headers=patient.headers, query_string=query)
    assert listed.status_code == 200, listed.json
    return listed.json["items"]


def open_events(client, therapist, **query):
    listed = client.get("/v1/safety-events", headers=therapist.headers, query_string=query)
    assert listed.status_code == 200, listed.json
    return listed.json["items"]


@pytest.mark.parametrize("band", BANDS)
@pytest.mark.parametrize("item9", [0, 1, 2, 3])
def test_an_event_opens_on_every_phq9_with_item_9_above_0_and_never_otherwise(client, patient, band, item9):
    total = max(BANDS[band], item9)
    created = take(client, patient, phq9(total, item9)).json
    assert created["severity"] == band and created["score"] == total
    assert created["safety_flag"] is (item9 > 0)
    events = my_events(client, patient)
    if item9 == 0:
        assert events == [] and created["crisis_resources"] is None
        return
    (opened,) = events
    assert opened["assessment_id"] == created["id"]
    assert (opened["score"], opened["severity"], opened["item9_answer"]) == (total, band, item9)
    assert opened["occurred_at"] == created["taken_at"]
    assert (opened["status"], opened["acknowledged_at"], opened["acknowledgements"]) == ("open", None, [])
    assert created["crisis_resources"]["resources"]


def test_a_gad7_never_opens_an_event(client, patient):
    created = take(client, patient, [3] * 7, instrument="gad7").json
    assert created["safety_flag"] is False and created["crisis_resources"] is None
    assert my_events(client, patient) == []


@pytest.mark.parametrize(
    "country, coverage, number",
    [
        ("NZ", "national", "1737"),
        ("IE", "national", "50808"),
        ("IN", "national", "14416"),
        ("US", "national", "988"),
        ("DE", "eu", "116 123"),
        ("BR", "international", "112"),
        (None, "international", "112"),
    ],
)
def test_the_201_shows_the_crisis_lines_of_the_patients_country(
    client, make_account, country, coverage, number
):
    patient = make_account(**({"country": country} if country else {}))
    lines = take(client, patient, phq9(10, 2)).json["crisis_resources"]
    assert lines["coverage"] == coverage and lines["country"] == (country if coverage == "national" else None)
    assert number in {value for line in lines["resources"] for value in (line["phone"], line["sms"])}
    same = client.get("/v1/reference/crisis-resources", headers=patient.headers).json
    assert lines == same  # the reference data, one source


def test_a_replayed_create_makes_no_second_event(app, client, patient):
    key = {"Idempotency-Key": "phq9-after-session-3"}
    first = take(client, patient, phq9(12, 1), headers=key)
    again = take(client, patient, phq9(12, 1), headers=key)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and again.json["crisis_resources"] is not None
    assert len(my_events(client, patient)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SafetyEvent)) == 1
        db.session.remove()


def test_the_event_and_its_assessment_commit_together_or_not_at_all(app, client, patient, database_rows):
    """The event is in the assessment's unit of work: when writing it fails, nothing is kept."""
    before = database_rows()
    with app.app_context():
        engine = db.engine

    def refuse(conn, cursor, statement, *rest):
        if statement.startswith("INSERT INTO safety_events"):
            raise OperationalError(statement, {}, Exception("disk full"))

    event.listen(engine, "before_cursor_execute", refuse)
    try:
        failed = client.post(
            "/v1/assessments", headers=patient.headers, json={"instrument": "phq9", "answers": phq9(9, 1)}
        )
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    assert failed.status_code >= 500 and failed.mimetype == "application/problem+json"
    assert database_rows() == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assessment)) == 0
        db.session.remove()


@pytest.fixture
def care_team(make_account, link):
    """A patient who answered item 9 with a 2; two therapists with the `assessments` scope, one
    with every other scope but that one, one not linked at all."""
    patient = make_account(display_name="Robin", country="NZ")
    first = make_account("therapist", display_name="Dr Ada")
    second = make_account("therapist", display_name="Dr Bo")
    unscoped = make_account("therapist", display_name="Dr Cy")
    stranger = make_account("therapist", display_name="Dr Di")
    link(patient, first, scopes=("assessments",))
    link(patient, second, scopes=("assessments", "moods"))
    unscoped_link = link(patient, unscoped, scopes=("entries", "moods", "practices", "sessions"))
    return patient, first, second, unscoped, stranger, unscoped_link


def test_scoped_therapists_see_open_events_and_nobody_else_does(client, care_team):
    patient, first, second, unscoped, stranger, _ = care_team
    assessment = take(client, patient, phq9(14, 2)).json
    for therapist in (first, second):
        (seen,) = open_events(client, therapist)
        assert seen["patient"] == {"id": patient.id, "display_name": "Robin"}
        assert seen["assessment_id"] == assessment["id"]
        assert (seen["score"], seen["severity"], seen["item9_answer"]) == (14, "moderate", 2)
        assert seen["status"] == "open" and seen["seconds_to_acknowledge"] is None
    missing = client.get(f"/v1/safety-events/{uuid.uuid4()}", headers=unscoped.headers)
    for therapist in (unscoped, stranger):
        assert open_events(client, therapist) == []
        assert open_events(client, therapist, status="acknowledged") == []
        theirs = client.get(f"/v1/safety-events/{seen['id']}", headers=therapist.headers)
        assert_problem(theirs, 404)
        assert theirs.get_data() == missing.get_data()
        refused = client.post(
            f"/v1/safety-events/{seen['id']}/acknowledgement", headers=therapist.headers, json={}
        )
        assert_problem(refused, 404)
        assert refused.get_data() == missing.get_data()
    assert client.get(f"/v1/safety-events/{seen['id']}", headers=first.headers).json == seen


def test_who_may_call_what(client, care_team):
    patient, first, *_ = care_team
    event_id = uuid.uuid4()
    assert_problem(client.get("/v1/safety-events", headers=patient.headers), 403)
    assert_problem(client.get(f"/v1/safety-events/{event_id}", headers=patient.headers), 403)
    assert_problem(
        client.post(f"/v1/safety-events/{event_id}/acknowledgement", headers=patient.headers, json={}), 403
    )
    assert_problem(client.get("/v1/me/safety-events", headers=first.headers), 403)
    for path in ("/v1/safety-events", f"/v1/safety-events/{event_id}", "/v1/me/safety-events"):
        assert_problem(client.get(path), 401)
    assert_problem(client.post(f"/v1/safety-events/{event_id}/acknowledgement", json={}), 401)


def test_an_acknowledgement_closes_the_event_for_everyone_and_later_ones_join_the_trail(client, care_team):
    patient, first, second, *_ = care_team
    take(client, patient, phq9(20, 3))
    (event,) = open_events(client, first)
    url = f"/v1/safety-events/{event['id']}/acknowledgement"

    acknowledged = client.post(
        url, headers=first.headers, json={"note": "Called Robin; safe, plan in place."}
    )
    assert acknowledged.status_code == 201, acknowledged.json
    assert acknowledged.headers["Location"] == f"/v1/safety-events/{event['id']}"
    closed = acknowledged.json
    assert closed["status"] == "acknowledged" and closed["version"] == event["version"] + 1
    (trail,) = closed["acknowledgements"]
    assert trail["acknowledged_by"] == {"id": first.id, "display_name": "Dr Ada"}
    assert trail["note"] == "Called Robin; safe, plan in place."
    assert closed["acknowledged_at"] == trail["acknowledged_at"]
    assert closed["seconds_to_acknowledge"] >= 0

    # Closed for the other therapist too: gone from their open list, in their acknowledged one.
    assert open_events(client, second) == []
    assert open_events(client, second, status="acknowledged") == [closed]
    # A later acknowledgement is kept as a trail; the event stays closed at the first one's time.
    later = client.post(url, headers=second.headers, json={"note": "Follow-up booked."}).json
    assert [item["acknowledged_by"]["display_name"] for item in later["acknowledgements"]] == [
        "Dr Ada",
        "Dr Bo",
    ]
    assert later["acknowledged_at"] == closed["acknowledged_at"]

    # The patient sees whether, when and by whom; the care team's notes are theirs.
    (mine,) = my_events(client, patient)
    assert mine["status"] == "acknowledged" and mine["acknowledged_at"] == closed["acknowledged_at"]
    assert mine["acknowledgements"] == [
        {"acknowledged_at": item["acknowledged_at"], "acknowledged_by": item["acknowledged_by"]}
        for item in later["acknowledgements"]
    ]
    assert my_events(client, patient, status="open") == []
    assert my_events(client, patient, status="acknowledged") == [mine]


def test_a_retried_acknowledgement_with_its_key_adds_nothing(client, care_team):
    patient, first, *_ = care_team
    take(client, patient, phq9(8, 1))
    (event,) = open_events(client, first)
    url = f"/v1/safety-events/{event['id']}/acknowledgement"
    key = {**first.headers, "Idempotency-Key": "ack-1"}
    once = client.post(url, headers=key, json={"note": "Seen."})
    twice = client.post(url, headers=key, json={"note": "Seen."})
    assert (once.status_code, twice.status_code) == (201, 201)
    assert twice.headers["Idempotent-Replayed"] == "true" and twice.json == once.json
    assert len(twice.json["acknowledgements"]) == 1
    assert_problem(client.post(url, headers=key, json={"note": "Other."}), 422, "idempotency-key-reused")


@pytest.mark.parametrize(
    "body", [{"note": ""}, {"note": "   "}, {"note": "x" * 2001}, {"note": 5}, {"by": "me"}, []]
)
def test_a_bad_acknowledgement_is_422_and_changes_nothing(client, care_team, body, database_rows):
    patient, first, *_ = care_team
    take(client, patient, phq9(8, 1))
    (event,) = open_events(client, first)
    before = database_rows()
    assert_problem(
        client.post(f"/v1/safety-events/{event['id']}/acknowledgement", headers=first.headers, json=body), 422
    )
    assert database_rows() == before


def test_revoking_the_link_or_the_scope_hides_events_at_once(client, care_team):
    patient, first, second, unscoped, _, unscoped_link = care_team
    take(client, patient, phq9(11, 1))
    (event,) = open_events(client, first)
    narrowed = rescope(client, patient, link_to(client, patient, first), ["moods"])
    assert narrowed.status_code == 200, narrowed.json
    assert open_events(client, first) == []
    assert_problem(client.get(f"/v1/safety-events/{event['id']}", headers=first.headers), 404)

    revoked = revoke(client, patient, link_to(client, patient, second))
    assert revoked.status_code == 204
    assert open_events(client, second) == []
    assert_problem(
        client.post(f"/v1/safety-events/{event['id']}/acknowledgement", headers=second.headers, json={}), 404
    )

    # Granting the scope shows it at once too.
    widened = rescope(client, patient, unscoped_link, ["assessments"])
    assert widened.status_code == 200
    assert [item["id"] for item in open_events(client, unscoped)] == [event["id"]]


def test_reads_and_acknowledgements_are_in_the_patients_access_log(client, care_team):
    patient, first, _, unscoped, *_ = care_team
    take(client, patient, phq9(9, 1))
    (event,) = open_events(client, first)
    client.get(f"/v1/safety-events/{event['id']}", headers=first.headers)
    client.post(f"/v1/safety-events/{event['id']}/acknowledgement", headers=first.headers, json={})
    client.get(f"/v1/safety-events/{event['id']}", headers=unscoped.headers)
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert [
        (
            item["actor"]["display_name"],
            item["action"],
            item["resource_type"],
            item["resource_id"],
            item["outcome"],
        )
        for item in log
    ] == [
        ("Dr Cy", "read", "safety_event", event["id"], "denied"),
        ("Dr Ada", "acknowledge", "safety_event", event["id"], "allowed"),
        ("Dr Ada", "read", "safety_event", event["id"], "allowed"),
        ("Dr Ada", "list", "safety_event", None, "allowed"),
    ]


def test_the_list_is_newest_first_keyset_paged_and_filters_by_patient(client, make_account, link):
    therapist = make_account("therapist")
    patients = [make_account(display_name=f"P{n}") for n in range(2)]
    for patient in patients:
        link(patient, therapist, scopes=("assessments",))
    taken = []
    for day in range(1, 6):
        for patient in patients:
            taken.append(take(client, patient, phq9(9, 1), taken_at=f"2026-05-0{day}T0{day}:00:00Z").json)
    first = client.get("/v1/safety-events?limit=4", headers=therapist.headers)
    assert first.status_code == 200 and 'rel="next"' in first.headers["Link"]
    seen, cursor = first.json["items"], first.json["next_cursor"]
    while cursor:
        page = client.get(f"/v1/safety-events?limit=4&cursor={cursor}", headers=therapist.headers).json
        seen += page["items"]
        cursor = page["next_cursor"]
    assert [item["occurred_at"] for item in seen] == sorted(
        (item["occurred_at"] for item in seen), reverse=True
    )
    # the list's own order: when each event opened
    assert [(item["created_at"], item["id"]) for item in seen] == sorted(
        ((item["created_at"], item["id"]) for item in seen), reverse=True
    )
    assert sorted(item["assessment_id"] for item in seen) == sorted(item["id"] for item in taken)
    only = open_events(client, therapist, patient_id=patients[0].id, limit=100)
    assert len(only) == 5 and {item["patient"]["id"] for item in only} == {patients[0].id}


def test_the_patient_list_shows_open_events_from_the_table(client, care_team):
    patient, first, _, unscoped, *_ = care_team
    assessment = take(client, patient, phq9(16, 1)).json
    take(client, patient, phq9(16, 0))  # no event
    (summary,) = client.get("/v1/patients", headers=first.headers).json["items"]
    (shown,) = summary["open_safety_events"]
    (event,) = open_events(client, first)
    assert shown["id"] == event["id"] and shown["assessment_id"] == assessment["id"]
    assert [flag["id"] for flag in summary["open_safety_flags"]] == [assessment["id"]]
    (without,) = client.get("/v1/patients", headers=unscoped.headers).json["items"]
    assert without["open_safety_events"] is None and without["open_safety_flags"] is None

    client.post(f"/v1/safety-events/{event['id']}/acknowledgement", headers=first.headers, json={})
    (summary,) = client.get("/v1/patients", headers=first.headers).json["items"]
    assert summary["open_safety_events"] == [] and summary["open_safety_flags"] == []


def test_the_sync_feed_carries_events_their_acknowledgements_and_their_deletion(client, care_team):
    patient, first, *_ = care_team
    assessment = take(client, patient, phq9(10, 1)).json
    changes, cursor = drain(client, patient)
    (opened,) = [change for change in changes if change["type"] == "safety_event"]
    assert opened["op"] == "upsert" and opened["data"]["assessment_id"] == assessment["id"]

    client.post(
        f"/v1/safety-events/{opened['id']}/acknowledgement", headers=first.headers, json={"note": "ok"}
    )
    changes, cursor = drain(client, patient, cursor)
    (acknowledged,) = [c for c in changes if c["type"] == "safety_event"]
    assert acknowledged["version"] == opened["version"] + 1
    assert acknowledged["data"]["status"] == "acknowledged"
    assert "note" not in acknowledged["data"]["acknowledgements"][0]

    deleted = client.delete(
        f"/v1/assessments/{assessment['id']}", headers={**patient.headers, "If-Match": '"1"'}
    )
    assert deleted.status_code == 204
    changes, cursor = drain(client, patient, cursor)
    tombstones = {(c["type"], c["op"]) for c in changes}
    assert tombstones == {("safety_event", "delete"), ("assessment", "delete")}
    assert my_events(client, patient) == [] and open_events(client, first) == []


def test_an_erased_therapist_leaves_the_time_but_not_the_name(client, care_team):
    patient, first, *_ = care_team
    take(client, patient, phq9(10, 1))
    (event,) = open_events(client, first)
    client.post(f"/v1/safety-events/{event['id']}/acknowledgement", headers=first.headers, json={})
    (before,) = my_events(client, patient)
    erased = client.delete("/v1/me", headers=first.headers, json={"password": first.password})
    assert erased.status_code == 204
    (after,) = my_events(client, patient)
    assert after["acknowledgements"][0]["acknowledged_by"] is None
    assert after["acknowledged_at"] == before["acknowledged_at"] and after["version"] == before["version"] + 1


def test_another_patients_events_are_not_in_my_list(client, make_account):
    mine, theirs = make_account(), make_account()
    take(client, theirs, phq9(10, 1))
    assert my_events(client, mine) == []


def test_two_therapists_acknowledging_at_once_both_join_the_trail(app, client, care_team):
    """The second waits for the first (the patient's account is held), then sees its
    acknowledgement: one closes the event, the other is kept, and neither is a 409 or a 500."""
    patient, first, second, *_ = care_team
    take(client, patient, phq9(10, 1))
    (event,) = open_events(client, first)
    url = f"/v1/safety-events/{event['id']}/acknowledgement"
    answers = []

    def acknowledge_too():
        answers.append(app.test_client().post(url, headers=second.headers, json={"note": "me too"}))

    with meanwhile(
        app,
        lambda statement: statement.startswith("INSERT INTO safety_acknowledgements"),
        acknowledge_too,
        patience=1,
    ) as started:
        mine = client.post(url, headers=first.headers, json={"note": "first"})
    assert started and mine.status_code == 201, mine.get_data(as_text=True)
    assert [answer.status_code for answer in answers] == [201], [a.get_data(as_text=True) for a in answers]
    (now,) = my_events(client, patient)
    assert [item["acknowledged_by"]["display_name"] for item in now["acknowledgements"]] == [
        "Dr Ada",
        "Dr Bo",
    ]
    assert now["acknowledged_at"] == mine.json["acknowledged_at"] and now["version"] == event["version"] + 2


def test_a_replayed_acknowledgement_after_the_link_is_revoked_is_the_404_of_any_other_request(
    client, care_team
):
    patient, first, *_ = care_team
    take(client, patient, phq9(10, 1))
    (event,) = open_events(client, first)
    url = f"/v1/safety-events/{event['id']}/acknowledgement"
    keyed = {**first.headers, "Idempotency-Key": "ack-before-revoke"}
    assert client.post(url, headers=keyed, json={}).status_code == 201
    assert revoke(client, patient, link_to(client, patient, first)).status_code == 204
    replayed = client.post(url, headers=keyed, json={})
    assert_problem(replayed, 404)
    assert replayed.get_data() == client.post(url, headers=first.headers, json={}).get_data()


def test_a_replayed_acknowledgement_of_an_event_deleted_since_is_gone(client, care_team):
    """The deleted event is the 410 every replay gives for what its first request made and is
    gone; without the key, the same request is the 404 of any missing event."""
    patient, first, *_ = care_team
    assessment = take(client, patient, phq9(10, 1)).json
    (event,) = open_events(client, first)
    url = f"/v1/safety-events/{event['id']}/acknowledgement"
    keyed = {**first.headers, "Idempotency-Key": "ack-before-delete"}
    assert client.post(url, headers=keyed, json={}).status_code == 201
    deleted = client.delete(
        f"/v1/assessments/{assessment['id']}", headers={**patient.headers, "If-Match": '"1"'}
    )
    assert deleted.status_code == 204
    assert_problem(client.post(url, headers=keyed, json={}), 410, "created-record-gone")
    assert_problem(client.post(url, headers=first.headers, json={}), 404)


def test_filtering_by_a_patient_who_does_not_share_is_a_logged_404(client, care_team, make_account):
    patient, first, second, unscoped, stranger, _ = care_team
    take(client, patient, phq9(10, 1))
    nobody = client.get(
        "/v1/safety-events", headers=stranger.headers, query_string={"patient_id": str(uuid.uuid4())}
    )
    for therapist in (unscoped, stranger):
        refused = client.get(
            "/v1/safety-events", headers=therapist.headers, query_string={"patient_id": patient.id}
        )
        assert_problem(refused, 404)
        assert refused.get_data() == nobody.get_data()
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert [(item["actor"]["display_name"], item["action"], item["outcome"]) for item in log] == [
        ("Dr Di", "list", "denied"),
        ("Dr Cy", "list", "denied"),
    ]
    assert len(open_events(client, first, patient_id=patient.id)) == 1


def test_events_are_ordered_and_timed_by_when_they_opened_not_by_the_phq9s_own_time(client, care_team):
    """A PHQ-9 written offline long ago and synced now is news now."""
    patient, first, *_ = care_team
    take(client, patient, phq9(10, 1), taken_at="2026-05-01T09:00:00Z")
    backdated = take(client, patient, phq9(10, 1), taken_at="1900-01-02T00:00:00Z").json
    newest, older = open_events(client, first)
    assert newest["assessment_id"] == backdated["id"] and newest["occurred_at"] == backdated["taken_at"]
    assert newest["created_at"] >= older["created_at"]
    closed = client.post(
        f"/v1/safety-events/{newest['id']}/acknowledgement", headers=first.headers, json={}
    ).json
    assert 0 <= closed["seconds_to_acknowledge"] < 60
    assert [event["id"] for event in my_events(client, patient)] == [newest["id"], older["id"]]


def test_deleting_the_assessment_while_it_is_acknowledged_deletes_it_after_the_acknowledgement(
    app, client, care_team
):
    """Not a 412 about a version the patient had right: the delete waits for the acknowledgement."""
    patient, first, *_ = care_team
    assessment = take(client, patient, phq9(10, 1)).json
    (event,) = open_events(client, first)
    deleted = []

    def delete_it():
        deleted.append(
            app.test_client().delete(
                f"/v1/assessments/{assessment['id']}", headers={**patient.headers, "If-Match": '"1"'}
            )
        )

    with meanwhile(
        app,
        lambda statement: statement.startswith("INSERT INTO safety_acknowledgements"),
        delete_it,
        patience=1,
    ) as started:
        acknowledged = client.post(
            f"/v1/safety-events/{event['id']}/acknowledgement", headers=first.headers, json={}
        )
    assert started and acknowledged.status_code == 201, acknowledged.get_data(as_text=True)
    assert [answer.status_code for answer in deleted] == [204], [a.get_data(as_text=True) for a in deleted]
    assert my_events(client, patient) == [] and open_events(client, first, status="acknowledged") == []


def test_an_acknowledgement_racing_a_revocation_is_refused_once_the_revocation_commits(
    app, client, care_team
):
    """The revocation holds the patient's account; an acknowledgement waits for it, then finds
    the link gone: a 404, and nothing acknowledged."""
    patient, first, *_ = care_team
    take(client, patient, phq9(10, 1))
    (event,) = open_events(client, first)
    link = link_to(client, patient, first)
    answers = []

    def acknowledge():
        answers.append(
            app.test_client().post(
                f"/v1/safety-events/{event['id']}/acknowledgement", headers=first.headers, json={}
            )
        )

    with meanwhile(
        app, lambda statement: statement.startswith("UPDATE care_links"), acknowledge, patience=1
    ) as started:
        revoked = revoke(client, patient, link)
    assert started and revoked.status_code == 204
    assert [answer.status_code for answer in answers] == [404], [a.get_data(as_text=True) for a in answers]
    (mine,) = my_events(client, patient)
    assert mine["status"] == "open" and mine["acknowledgements"] == []
