"""Insights: mood by local day or week, practices and mood, PHQ-9/GAD-7 around sessions. Every
expected figure below is worked out by hand from the fixture's records."""

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from sqlalchemy import event

from api.extensions import db
from api.insights.statistics import t_cdf, t_quantile
from tests.helpers import assert_problem, revoke
from tests.test_audit import events


def post(client, account, path, body):
    created = client.post(path, headers=account.headers, json=body)
    assert created.status_code == 201, created.json
    return created.json


def checkin(client, account, recorded_at, mood=5, timezone=None):
    body = {"mood": mood, "recorded_at": recorded_at}
    if timezone is not None:
        body["timezone"] = timezone
    return post(client, account, "/v1/moods", body)


def mood_buckets(client, account, query, path="/v1/insights/mood"):
    answer = client.get(f"{path}?{query}", headers=account.headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.json


def counts(body):
    return {bucket["start"]: bucket["count"] for bucket in body["buckets"]}


# --- mood ------------------------------------------------------------------------------------


def test_a_late_evening_check_in_counts_on_its_local_day(client, make_account):
    patient = make_account()  # profile zone UTC
    # 23:30 in Los Angeles (PDT, -07:00) is 06:30 the next day in UTC.
    checkin(client, patient, "2026-03-10T23:30:00-07:00", mood=4, timezone="America/Los_Angeles")
    body = mood_buckets(client, patient, "from=2026-03-10&to=2026-03-11")
    assert body["buckets"] == [
        {"start": "2026-03-10", "count": 1, "mean": 4.0, "min": 4, "max": 4},
        {"start": "2026-03-11", "count": 0, "mean": None, "min": None, "max": None},
    ]
    assert body["bucket"] == "day" and body["from"] == "2026-03-10" and body["to"] == "2026-03-11"
    assert body["timezone"] == "UTC"


def test_a_check_in_without_a_zone_falls_back_to_the_profiles(client, make_account):
    patient = make_account(timezone="Asia/Tokyo")  # +09:00, no daylight saving
    checkin(client, patient, "2026-03-10T20:00:00Z", mood=3)  # 05:00 on the 11th in Tokyo
    checkin(client, patient, "2026-03-10T20:00:00Z", mood=9, timezone="UTC")  # its own zone: the 10th
    body = mood_buckets(client, patient, "from=2026-03-10&to=2026-03-11")
    assert [(b["start"], b["count"], b["mean"]) for b in body["buckets"]] == [
        ("2026-03-10", 1, 9.0),
        ("2026-03-11", 1, 3.0),
    ]
    assert body["timezone"] == "Asia/Tokyo"


def test_mean_min_max_and_empty_buckets(client, make_account):
    patient = make_account()
    for mood in (5, 6, 8):
        checkin(client, patient, "2026-03-02T10:00:00Z", mood=mood)
    gone = checkin(client, patient, "2026-03-02T11:00:00Z", mood=1)
    assert (
        client.delete(f"/v1/moods/{gone['id']}", headers={**patient.headers, "If-Match": '"1"'}).status_code
        == 204
    )
    checkin(client, patient, "2026-03-04T00:00:00Z", mood=7)
    body = mood_buckets(client, patient, "from=2026-03-01&to=2026-03-04")
    assert body["buckets"] == [
        {"start": "2026-03-01", "count": 0, "mean": None, "min": None, "max": None},
        {"start": "2026-03-02", "count": 3, "mean": 6.33, "min": 5, "max": 8},
        {"start": "2026-03-03", "count": 0, "mean": None, "min": None, "max": None},
        {"start": "2026-03-04", "count": 1, "mean": 7.0, "min": 7, "max": 7},
    ]
    # nothing at all: every bucket empty
    other = make_account()
    assert {b["count"] for b in mood_buckets(client, other, "from=2026-03-01&to=2026-03-04")["buckets"]} == {
        0
    }


@pytest.fixture
def berlin(client, make_account):
    """A patient in Berlin with check-ins around both 2026 clock changes (no zone of their own)."""
    patient = make_account(timezone="Europe/Berlin")
    for moment in (
        # spring forward: Sunday 2026-03-29 has 23 hours
        "2026-03-28T23:59:00+01:00",
        "2026-03-29T00:00:00+01:00",  # 2026-03-28T23:00Z
        "2026-03-29T23:59:00+02:00",  # 2026-03-29T21:59Z
        "2026-03-30T00:00:00+02:00",  # 2026-03-29T22:00Z
        # fall back: Sunday 2026-10-25 has 25 hours, 02:00-03:00 twice
        "2026-10-24T23:59:00+02:00",
        "2026-10-25T00:00:00+02:00",  # 2026-10-24T22:00Z
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T23:59:00+01:00",  # 2026-10-25T22:59Z
        "2026-10-26T00:00:00+01:00",  # 2026-10-25T23:00Z
    ):
        checkin(client, patient, moment)
    return patient


def test_daylight_saving_days_are_one_bucket_each(client, berlin):
    assert counts(mood_buckets(client, berlin, "from=2026-03-28&to=2026-03-30")) == {
        "2026-03-28": 1,
        "2026-03-29": 2,
        "2026-03-30": 1,
    }
    assert counts(mood_buckets(client, berlin, "from=2026-10-24&to=2026-10-26")) == {
        "2026-10-24": 1,
        "2026-10-25": 4,
        "2026-10-26": 1,
    }


def test_weeks_start_on_monday_and_span_clock_changes(client, berlin):
    # Both clock changes fall on a Sunday, the last day of a Monday-to-Sunday week.
    spring = mood_buckets(client, berlin, "bucket=week&from=2026-03-25&to=2026-03-31")
    assert spring["from"] == "2026-03-23" and spring["to"] == "2026-04-05"
    assert counts(spring) == {"2026-03-23": 3, "2026-03-30": 1}
    autumn = mood_buckets(client, berlin, "bucket=week&from=2026-10-19&to=2026-10-26")
    assert counts(autumn) == {"2026-10-19": 5, "2026-10-26": 1}


def test_the_range_defaults_to_the_last_30_days_or_12_weeks(client, make_account):
    patient = make_account(timezone="Pacific/Kiritimati")  # +14:00: its today may be UTC's tomorrow
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    days = mood_buckets(client, patient, "")
    assert len(days["buckets"]) == 30
    assert days["to"] == today.isoformat() and days["from"] == (today - timedelta(days=29)).isoformat()
    weeks = mood_buckets(client, patient, "bucket=week")
    assert len(weeks["buckets"]) == 12
    monday = today - timedelta(days=today.weekday())
    assert weeks["buckets"][-1]["start"] == monday.isoformat()
    assert date.fromisoformat(weeks["from"]).weekday() == 0 and date.fromisoformat(weeks["to"]).weekday() == 6
    only_to = mood_buckets(client, patient, "to=2026-03-30")
    assert only_to["from"] == "2026-03-01"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2024-01-01&to=2025-01-01", "from"),  # 367 days (2024 is a leap year)
        ("bucket=week&from=2026-01-05&to=2030-12-30", "from"),  # a Monday: 261 weeks once made whole
        ("from=1899-12-31&to=1900-01-02", "from"),
        ("from=2199-12-30&to=2200-01-01", "to"),
        ("from=20260301", "from"),
        ("from=2026-W09-1", "from"),
        ("from=2026-02-30", "from"),
        ("to=2026-03-01T00:00:00Z", "to"),
        ("bucket=month", "bucket"),
    ],
)
def test_mood_bounds_are_a_422_naming_the_field(client, make_account, query, field):
    patient = make_account()
    body = assert_problem(client.get(f"/v1/insights/mood?{query}", headers=patient.headers), 422)
    assert list(body["errors"]) == [field], body


def test_the_largest_ranges_are_allowed(client, make_account):
    patient = make_account()
    assert len(mood_buckets(client, patient, "from=2024-01-01&to=2024-12-31")["buckets"]) == 366
    weeks = mood_buckets(client, patient, "bucket=week&from=2026-01-05&to=2030-12-29")
    assert len(weeks["buckets"]) == 260
    assert len(mood_buckets(client, patient, "from=1900-01-01&to=1900-01-31")["buckets"]) == 31
    assert len(mood_buckets(client, patient, "from=2199-12-01&to=2199-12-31")["buckets"]) == 31


def test_check_ins_in_many_time_zones_over_five_years(client, make_account):
    """Eighty zones that change their clocks twice a year: some 800 periods of one offset, more
    than SQLite takes as a compound SELECT; one check-in in each, each on its own local day."""
    patient = make_account()
    zones = sorted(
        name
        for name in available_timezones()
        if name.count("/") == 1
        and not name.startswith(("Etc/", "SystemV/"))
        and ZoneInfo(name).utcoffset(datetime(2026, 1, 15)) != ZoneInfo(name).utcoffset(datetime(2026, 7, 15))
    )[:80]
    assert len(zones) == 80
    for zone in zones:
        post(
            client, patient, "/v1/moods", {"mood": 5, "recorded_at": "2026-06-10T12:00:00Z", "timezone": zone}
        )
    weeks = mood_buckets(client, patient, "bucket=week&from=2022-01-03&to=2026-12-27")
    assert sum(bucket["count"] for bucket in weeks["buckets"]) == 80
    days = mood_buckets(client, patient, "from=2026-06-01&to=2026-06-30")
    by_day = {bucket["start"]: bucket["count"] for bucket in days["buckets"] if bucket["count"]}
    expected = {}
    for zone in zones:
        local_day = datetime(2026, 6, 10, 12, tzinfo=UTC).astimezone(ZoneInfo(zone)).date().isoformat()
        expected[local_day] = expected.get(local_day, 0) + 1
    assert by_day == expected


# --- practices ---------------------------------------------------------------------------------


def practice(client, account, kind, at, before=None, after=None, minutes=None):
    body = {"practice": kind, "performed_at": at, "mood_before": before, "mood_after": after}
    if minutes is not None:
        body["duration_minutes"] = minutes
    return post(client, account, "/v1/practices", body)


def test_practice_insights_with_and_without_an_interval(client, make_account):
    patient = make_account()
    # yoga: changes +2, +3, +4 -> mean 3, sd 1, interval 3 -/+ t(0.975, 2) / sqrt(3)
    practice(client, patient, "yoga", "2026-03-01T08:00:00Z", 4, 6, minutes=20)
    practice(client, patient, "yoga", "2026-03-02T08:00:00Z", 3, 6, minutes=30)
    practice(client, patient, "yoga", "2026-03-03T08:00:00Z", 5, 9)
    # meditation: two with both moods, one with only mood_before -> n = 2, no mean
    practice(client, patient, "meditation", "2026-03-01T09:00:00Z", 4, 5, minutes=10)
    practice(client, patient, "meditation", "2026-03-02T09:00:00Z", 4, 7, minutes=10)
    practice(client, patient, "meditation", "2026-03-03T09:00:00Z", 4, None, minutes=15)
    half_width = 4.302653 / math.sqrt(3)  # 2.4841...
    answer = client.get("/v1/insights/practices", headers=patient.headers)
    assert answer.status_code == 200
    assert answer.json == {
        "from": None,
        "to": None,
        "practices": [
            {
                "practice": "meditation",
                "count": 3,
                "total_minutes": 35,
                "mood_change": {"n": 2, "mean": None, "ci_low": None, "ci_high": None},
            },
            {
                "practice": "yoga",
                "count": 3,
                "total_minutes": 50,
                "mood_change": {
                    "n": 3,
                    "mean": 3.0,
                    "ci_low": round(3 - half_width, 2),  # 0.52
                    "ci_high": round(3 + half_width, 2),  # 5.48
                },
            },
        ],
    }
    assert answer.json["practices"][1]["mood_change"]["ci_low"] == 0.52
    # `from` inclusive, `to` exclusive, on performed_at
    window = client.get(
        "/v1/insights/practices?from=2026-03-02T08:00:00Z&to=2026-03-03T08:00:00Z", headers=patient.headers
    ).json
    assert window["from"] == "2026-03-02T08:00:00+00:00" and window["to"] == "2026-03-03T08:00:00+00:00"
    assert [(p["practice"], p["count"], p["mood_change"]["n"]) for p in window["practices"]] == [
        ("meditation", 1, 1),
        ("yoga", 1, 1),
    ]
    assert client.get("/v1/insights/practices", headers=make_account().headers).json["practices"] == []


def test_student_t_quantiles_match_the_tables():
    assert t_quantile(0.975, 2) == pytest.approx(4.302653, abs=5e-7)
    assert t_quantile(0.975, 10) == pytest.approx(2.228139, abs=5e-7)
    assert t_quantile(0.975, 30) == pytest.approx(2.042272, abs=5e-7)
    assert t_quantile(0.975, 1) == pytest.approx(12.706205, abs=5e-7)
    assert t_quantile(0.975, 10**6) == pytest.approx(1.959966, abs=5e-6)
    assert t_cdf(0.0, 5) == pytest.approx(0.5)
    assert t_cdf(-2.228139, 10) == pytest.approx(0.025, abs=1e-7)


# --- sessions ----------------------------------------------------------------------------------


def answers(instrument, score):
    """Answers that add up to `score`, item 9 of a PHQ-9 left at 0 (no safety event)."""
    items = 9 if instrument == "phq9" else 7
    scored = items - 1 if instrument == "phq9" else items
    values = [min(3, max(0, score - 3 * i)) for i in range(scored)]
    assert sum(values) == score
    return values + [0] * (items - scored)


def assess(client, account, instrument, score, at):
    return post(
        client,
        account,
        "/v1/assessments",
        {"instrument": instrument, "answers": answers(instrument, score), "taken_at": at.isoformat()},
    )


def session(client, account, at):
    return post(client, account, "/v1/sessions", {"started_at": at.isoformat()})


def point(assessment):
    return {
        "assessment_id": assessment["id"],
        "score": assessment["score"],
        "taken_at": assessment["taken_at"],
    }


A = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
B = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
C = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)
D = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SECOND, DAY = timedelta(seconds=1), timedelta(days=1)


@pytest.fixture
def treatment(client, make_account):
    """Four sessions, months apart, and the assessments around them."""
    patient = make_account()
    made = {name: session(client, patient, at) for name, at in zip("ABCD", (A, B, C, D), strict=True)}
    s = {}
    # A: the windows' edges. PHQ-9 10 -> 4: baseline exactly 10, after below 5.
    s["a_phq9_before"] = assess(client, patient, "phq9", 10, A - 14 * DAY)  # exactly 14 days before
    assess(client, patient, "phq9", 24, A - 14 * DAY - SECOND)  # one second too early
    s["a_phq9_after"] = assess(client, patient, "phq9", 4, A + DAY)  # exactly 1 day after
    assess(client, patient, "phq9", 1, A + DAY - SECOND)  # too soon after (and not before)
    # A: GAD-7 10 -> 5: exactly a 50% drop; after exactly 5 is not remission.
    s["a_gad7_before"] = assess(client, patient, "gad7", 10, A)  # at the start counts as before
    s["a_gad7_after"] = assess(client, patient, "gad7", 5, A + 14 * DAY)  # exactly 14 days after
    assess(client, patient, "gad7", 0, A + 14 * DAY + SECOND)  # one second too late
    # B: PHQ-9 0 -> 0 (no response from 0); GAD-7 after only.
    s["b_phq9_before"] = assess(client, patient, "phq9", 0, B - 2 * DAY)
    s["b_phq9_after"] = assess(client, patient, "phq9", 0, B + 2 * DAY)
    s["b_gad7_after"] = assess(client, patient, "gad7", 6, B + 3 * DAY)
    # C: nothing around it. D: the nearest on each side wins.
    assess(client, patient, "phq9", 20, D - 5 * DAY)
    s["d_phq9_before"] = assess(client, patient, "phq9", 15, D - 2 * DAY)
    s["d_phq9_after"] = assess(client, patient, "phq9", 8, D + 2 * DAY)
    assess(client, patient, "phq9", 3, D + 5 * DAY)
    return patient, made, s


def change(instrument, before, after, diff, response, remission):
    return {
        "instrument": instrument,
        "before": before,
        "after": after,
        "change": diff,
        "response": response,
        "remission": remission,
    }


def test_session_insights(client, treatment):
    patient, made, s = treatment
    nothing = lambda instrument: change(instrument, None, None, None, None, None)
    expected = [
        {
            "session_id": made["D"]["id"],
            "started_at": made["D"]["started_at"],
            # 15 -> 8: 2 x 8 = 16 > 15, no response
            "phq9": change("phq9", point(s["d_phq9_before"]), point(s["d_phq9_after"]), -7, False, False),
            "gad7": nothing("gad7"),
        },
        {
            "session_id": made["C"]["id"],
            "started_at": made["C"]["started_at"],
            "phq9": nothing("phq9"),
            "gad7": nothing("gad7"),
        },
        {
            "session_id": made["B"]["id"],
            "started_at": made["B"]["started_at"],
            "phq9": change("phq9", point(s["b_phq9_before"]), point(s["b_phq9_after"]), 0, False, False),
            "gad7": change("gad7", None, point(s["b_gad7_after"]), None, None, None),
        },
        {
            "session_id": made["A"]["id"],
            "started_at": made["A"]["started_at"],
            "phq9": change("phq9", point(s["a_phq9_before"]), point(s["a_phq9_after"]), -6, True, True),
            "gad7": change("gad7", point(s["a_gad7_before"]), point(s["a_gad7_after"]), -5, True, False),
        },
    ]
    whole = client.get("/v1/insights/sessions", headers=patient.headers)
    assert whole.status_code == 200
    assert whole.json == {"items": expected, "next_cursor": None}
    assert "Link" not in whole.headers
    # paged like every list
    first = client.get("/v1/insights/sessions?limit=3", headers=patient.headers)
    assert first.json["items"] == expected[:3] and first.json["next_cursor"]
    assert first.headers["Link"].endswith('rel="next"')
    rest = client.get(
        f"/v1/insights/sessions?limit=3&cursor={first.json['next_cursor']}", headers=patient.headers
    )
    assert rest.json == {"items": expected[3:], "next_cursor": None}
    assert_problem(client.get("/v1/insights/sessions?cursor=nope", headers=patient.headers), 422)


def test_a_pcl5_around_a_session_leaves_its_insights_as_they_were(client, make_account):
    """Session insights compare PHQ-9 and GAD-7 only: a PCL-5 nearer the session is not taken
    for either, and adds nothing to the answer."""
    patient = make_account()
    made = session(client, patient, A)
    before = assess(client, patient, "phq9", 12, A - 2 * DAY)
    after = assess(client, patient, "phq9", 5, A + 3 * DAY)
    for at in (A - DAY, A + DAY):
        pcl5 = {"instrument": "pcl5", "answers": [2] * 20, "taken_at": at.isoformat()}
        assert client.post("/v1/assessments", headers=patient.headers, json=pcl5).status_code == 201
    [item] = client.get("/v1/insights/sessions", headers=patient.headers).json["items"]
    assert item == {
        "session_id": made["id"],
        "started_at": made["started_at"],
        "phq9": change("phq9", point(before), point(after), -7, True, False),
        "gad7": change("gad7", None, None, None, None, None),
    }


# --- who may read them ---------------------------------------------------------------------------

ALL_SCOPES = ("entries", "moods", "assessments", "practices", "sessions")
ROUTES = {
    "mood": ("moods",),
    "practices": ("practices",),
    "sessions": ("sessions", "assessments"),
}


@pytest.fixture
def world(client, make_account, link):
    patient = make_account(timezone="Europe/Berlin")
    checkin(client, patient, "2026-03-10T08:00:00Z", mood=6)
    practice(client, patient, "yoga", "2026-03-10T08:00:00Z", 4, 6)
    session(client, patient, A)
    assess(client, patient, "phq9", 12, A - DAY)
    with_scopes, without, revoked = (make_account("therapist") for _ in range(3))
    link(patient, with_scopes, scopes=ALL_SCOPES)
    link(patient, without, scopes=())
    gone = link(patient, revoked, scopes=ALL_SCOPES)
    assert revoke(client, patient, gone).status_code == 204
    partial = {}
    for route, scopes in ROUTES.items():
        # every scope but one this insight needs
        for missing in scopes:
            therapist = make_account("therapist")
            link(patient, therapist, scopes=[scope for scope in ALL_SCOPES if scope != missing])
            partial[(route, missing)] = therapist
    return {
        "patient": patient,
        "with scopes": with_scopes,
        "without scopes": without,
        "revoked link": revoked,
        "unlinked therapist": make_account("therapist"),
        "other patient": make_account(),
        "anonymous": None,
        "partial": partial,
    }


EXPECTED = {
    "with scopes": 200,
    "without scopes": 404,
    "revoked link": 404,
    "unlinked therapist": 404,
    "other patient": 403,
    "anonymous": 401,
}
QUERY = {"mood": "?from=2026-03-09&to=2026-03-11", "practices": "", "sessions": ""}


def get(client, caller, path):
    return client.get(path, headers=caller.headers if caller is not None else {})


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("role", list(EXPECTED))
def test_role_matrix_for_a_patients_insights(client, world, route, role):
    caller, patient = world[role], world["patient"]
    answer = get(client, caller, f"/v1/patients/{patient.id}/insights/{route}{QUERY[route]}")
    assert answer.status_code == EXPECTED[role], answer.get_data(as_text=True)
    if EXPECTED[role] == 200:
        # the therapist sees exactly what the patient sees
        own = client.get(f"/v1/insights/{route}{QUERY[route]}", headers=patient.headers)
        assert answer.json == own.json
        assert answer.headers["Cache-Control"] == "no-store"
        return
    assert_problem(answer, EXPECTED[role])
    if EXPECTED[role] == 404:
        # byte for byte the answer for a patient who does not exist
        missing = get(client, caller, f"/v1/patients/{uuid.uuid4()}/insights/{route}{QUERY[route]}")
        assert answer.get_data() == missing.get_data()


@pytest.mark.parametrize(("route", "missing"), [(r, m) for r, scopes in ROUTES.items() for m in scopes])
def test_each_scope_an_insight_needs_is_needed(client, world, route, missing):
    caller = world["partial"][(route, missing)]
    answer = get(client, caller, f"/v1/patients/{world['patient'].id}/insights/{route}{QUERY[route]}")
    nobody = get(client, caller, f"/v1/patients/{uuid.uuid4()}/insights/{route}{QUERY[route]}")
    assert_problem(answer, 404)
    assert answer.get_data() == nobody.get_data()


@pytest.mark.parametrize("route", list(ROUTES))
def test_own_insights_are_for_patients_only(client, world, route):
    assert_problem(get(client, world["with scopes"], f"/v1/insights/{route}"), 403)
    assert_problem(get(client, None, f"/v1/insights/{route}"), 401)


@pytest.mark.parametrize(
    ("route", "resource_type"),
    [("mood", "mood_insights"), ("practices", "practice_insights"), ("sessions", "session_insights")],
)
def test_therapist_reads_are_audited_allowed_or_denied(app, client, world, route, resource_type):
    patient = world["patient"]
    path = f"/v1/patients/{patient.id}/insights/{route}{QUERY[route]}"
    assert get(client, world["with scopes"], path).status_code == 200
    assert get(client, world["without scopes"], path).status_code == 404
    logged = [
        (e["actor_id"], e["patient_id"], e["action"], e["resource_type"], e["resource_id"], e["outcome"])
        for e in events(app)
    ]
    assert logged == [
        (world["with scopes"].id, patient.id, "read", resource_type, None, "allowed"),
        (world["without scopes"].id, patient.id, "read", resource_type, None, "denied"),
    ]
    # the patient sees both in their access log
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert [(item["resource_type"], item["outcome"]) for item in log] == [
        (resource_type, "denied"),
        (resource_type, "allowed"),
    ]


# --- cost ----------------------------------------------------------------------------------------


def statements_of(app, run):
    sent = []
    with app.app_context():
        engine = db.engine
    listener = lambda conn, cursor, statement, *rest: sent.append(statement)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return sent


@pytest.mark.parametrize("bucket", ["day", "week"])
def test_mood_insights_are_a_fixed_number_of_statements(app, client, make_account, link, bucket):
    patient, therapist = make_account(), make_account("therapist")
    link(patient, therapist, scopes=("moods",))
    own = f"/v1/insights/mood?bucket={bucket}&from=2026-03-01&to=2026-03-31"
    shared = f"/v1/patients/{patient.id}/insights/mood?bucket={bucket}&from=2026-03-01&to=2026-03-31"

    def cost():
        mine = statements_of(app, lambda: client.get(own, headers=patient.headers))
        theirs = statements_of(app, lambda: client.get(shared, headers=therapist.headers))
        return len(mine), len(theirs)

    checkin(client, patient, "2026-03-05T10:00:00Z", timezone="Europe/Berlin")
    few = cost()
    for day in range(1, 29):
        for zone in ("America/Los_Angeles", "Asia/Tokyo", None):
            checkin(client, patient, f"2026-03-{day:02d}T12:00:00Z", mood=1 + day % 10, timezone=zone)
    many = cost()
    # token check, the zones, the GROUP BY (and for a therapist the link check and the audit event)
    assert few == many == (3, 5)


def test_session_insights_are_a_fixed_number_of_statements(app, client, make_account):
    patient = make_account()
    session(client, patient, A)
    one = len(statements_of(app, lambda: client.get("/v1/insights/sessions", headers=patient.headers)))
    for n in range(1, 15):
        session(client, patient, A + n * DAY)
        assess(client, patient, "phq9", n, A + n * DAY - SECOND)
        assess(client, patient, "gad7", n, A + n * DAY + DAY)
    many = len(statements_of(app, lambda: client.get("/v1/insights/sessions", headers=patient.headers)))
    assert one == many == 3  # token check, the page, the nearest assessments


def explain(statement, parameters):
    connection = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        return " ".join(
            str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    # Near-empty tables make a sequential scan look cheapest; ask whether the index can serve it.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return " ".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))


def years_of_check_ins(app, owner_id):
    """On PostgreSQL, 20,000 check-ins over ten years and fresh statistics: on an empty table
    every index that starts with owner_id costs the same to the planner, and it may pick any."""
    if db.engine.dialect.name != "postgresql":
        return
    connection = db.session.connection()
    connection.exec_driver_sql(
        "INSERT INTO moods (id, version, created_at, updated_at, sync_seq, owner_id, mood, emotions, "
        "recorded_at) SELECT gen_random_uuid(), 1, now(), now(), n, %(owner)s, 5, '[]', "
        "timestamptz '2020-01-01' + n * interval '4 hours' FROM generate_series(1, 20000) AS n",
        {"owner": owner_id},
    )
    connection.exec_driver_sql("ANALYZE moods")


@pytest.mark.parametrize("bucket", ["day", "week"])
def test_the_mood_aggregate_reads_the_owner_time_index(app, make_account, bucket):
    from api.insights import service
    from api.insights.schemas import InsightBucket

    patient_id = uuid.UUID(make_account().id)
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    with app.app_context():
        years_of_check_ins(app, patient_id)
        reader = service.Reader(patient_id=patient_id, timezone="Europe/Berlin")
        # the check-ins have no zone of their own: pretend the zones query found two, to see the
        # GROUP BY join their periods
        original = service.db.session.execute
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            with pytest.MonkeyPatch.context() as patch:
                calls = []

                def execute(statement, *args, **kwargs):
                    result = original(statement, *args, **kwargs)
                    calls.append(statement)
                    if len(calls) == 1:
                        return FakeZones(["Europe/Berlin", "America/New_York"])
                    return result

                patch.setattr(service.db.session, "execute", execute)
                service.mood_insights(
                    reader, first=date(2026, 3, 1), last=date(2026, 3, 31), bucket=InsightBucket(bucket)
                )
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        assert len(captured) == 2
        for statement, parameters in captured:
            assert "GROUP BY" in statement or "DISTINCT" in statement
            plan = explain(statement, parameters)
            assert "ix_moods_owner_time" in plan, plan
            assert "SCAN moods" not in plan and "Seq Scan on moods" not in plan, plan
            # a range of the index (owner, then the widened UTC window), not all the owner's rows
            assert "recorded_at>" in plan.replace(" ", ""), plan
        db.session.rollback()


class FakeZones:
    def __init__(self, zones):
        self.zones = zones

    def scalars(self):
        return self

    def all(self):
        return self.zones
