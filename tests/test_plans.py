"""The integration plan and its follow-ups: the plan's ETag flow, follow-ups made with a session at
the right local instants, moved and removed with it, completed by id or by window, dismissed, in
/v1/sync, and how they are kept (adherence), for the patient and a therapist with the `plan` scope."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import PASSWORD, assert_problem, meanwhile
from tests.test_sync import drain

LA = "America/Los_Angeles"
NOW = datetime.now(UTC).isoformat()
ALL_SCOPES = ("entries", "moods", "assessments", "practices", "sessions", "plan")


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def iso(moment):
    return moment.astimezone(UTC).isoformat()


def step(offset_days, local_time, kind, instrument=None, prompt_id=None):
    return {
        "offset_days": offset_days,
        "local_time": local_time,
        "kind": kind,
        "instrument": instrument,
        "prompt_id": prompt_id,
    }


def get_plan(client, account, path="/v1/me/integration-plan"):
    return client.get(path, headers=account.headers)


def put_plan(client, account, steps, etag, path="/v1/me/integration-plan"):
    headers = dict(account.headers)
    if etag is not None:
        headers["If-Match"] = etag
    return client.put(path, headers=headers, json={"steps": steps})


def record_session(client, patient, started_at, **fields):
    response = client.post("/v1/sessions", headers=patient.headers, json={"started_at": started_at, **fields})
    assert response.status_code == 201, response.json
    return response.json


def follow_ups(client, patient, query=""):
    """The patient's follow-ups, by due time and then as the plan orders its steps."""
    response = client.get(f"/v1/follow-ups?limit=100{query}", headers=patient.headers)
    assert response.status_code == 200, response.json
    return sorted(response.json["items"], key=lambda f: (f["due_at"], f["step"]))


def status_of(client, patient, follow_up_id):
    """The status the list's filter gives a follow-up now (its body holds the times it comes from)."""
    found = [
        status
        for status in ("upcoming", "due", "missed", "done", "dismissed")
        if follow_up_id in {f["id"] for f in follow_ups(client, patient, f"&status={status}")}
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def la_patient(make_account):
    return make_account("patient", timezone=LA)


# --- the plan ----------------------------------------------------------------------------------


def test_a_new_patient_follows_the_default_plan(client, patient):
    response = get_plan(client, patient)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    plan = response.json
    assert plan["is_default"] is True and plan["version"] == 1
    assert plan["updated_by"] is None and plan["updated_at"] is None
    steps = [(s["offset_days"], s["local_time"], s["kind"], s["instrument"]) for s in plan["steps"]]
    assert steps == sorted(steps, key=lambda s: (s[0], s[1], s[2], s[3] or ""))
    assert (1, "20:00", "entry", None) in steps and (1, "20:00", "mood", None) in steps
    assert (3, "18:00", "practice", None) in steps
    for day in (7, 14):
        assert (day, "10:00", "assessment", "phq9") in steps and (day, "10:00", "assessment", "gad7") in steps


def test_the_plans_etag_flow(client, patient):
    mine = [step(2, "09:30", "mood"), step(0, "21:00", "entry", prompt_id="body-now")]
    assert_problem(put_plan(client, patient, mine, None), 428)
    stale = assert_problem(put_plan(client, patient, mine, '"7"'), 412)
    assert stale["current"]["is_default"] is True and stale["current"]["version"] == 1
    assert get_plan(client, patient).json["is_default"] is True  # refused changes change nothing

    changed = put_plan(client, patient, mine, '"1"')
    assert changed.status_code == 200, changed.json
    assert changed.headers["ETag"] == '"2"'
    plan = changed.json
    assert plan["is_default"] is False and plan["version"] == 2
    assert [s["offset_days"] for s in plan["steps"]] == [0, 2]  # by day, then time
    assert plan["updated_by"] == {"id": patient.id, "display_name": "Test patient"}
    assert plan["updated_at"] is not None

    assert (
        client.get("/v1/me/integration-plan", headers={**patient.headers, "If-None-Match": '"2"'}).status_code
        == 304
    )
    # The default's ETag no longer matches: a device that read the default must read again.
    stale = assert_problem(put_plan(client, patient, [], '"1"'), 412)
    assert stale["current"]["version"] == 2 and len(stale["current"]["steps"]) == 2
    emptied = put_plan(client, patient, [], '"2"')
    assert emptied.status_code == 200 and emptied.json["steps"] == [] and emptied.json["version"] == 3


@pytest.mark.parametrize(
    ("bad_step", "field"),
    [
        (step(1, "10:00", "assessment"), "instrument"),
        (step(1, "10:00", "mood", instrument="phq9"), "instrument"),
        (step(1, "10:00", "mood", prompt_id="body-now"), "prompt_id"),
        (step(1, "10:00", "assessment", instrument="bdi"), "instrument"),
        (step(1, "10:00", "entry", prompt_id="no-such-prompt"), "prompt_id"),
        (step(1, "24:00", "mood"), "local_time"),
        (step(1, "7:00", "mood"), "local_time"),
        (step(1, "07:00:00", "mood"), "local_time"),
        (step(1, "07:00\n", "mood"), "local_time"),
        (step(1, "０7:00", "mood"), "local_time"),
        (step(-1, "07:00", "mood"), "offset_days"),
        (step(366, "07:00", "mood"), "offset_days"),
        (step(1.5, "07:00", "mood"), "offset_days"),
        (step(1, "07:00", "walk"), "kind"),
    ],
)
def test_a_step_that_does_not_fit_is_a_422(client, patient, bad_step, field):
    body = assert_problem(put_plan(client, patient, [bad_step], '"1"'), 422)
    assert field in json.dumps(body["errors"]), body
    assert get_plan(client, patient).json["is_default"] is True


def test_a_plan_lists_each_step_once_and_at_most_50(client, patient):
    assert_problem(put_plan(client, patient, [step(1, "10:00", "mood")] * 2, '"1"'), 422)
    many = [step(day, "10:00", "mood") for day in range(51)]
    assert_problem(put_plan(client, patient, many, '"1"'), 422)
    assert put_plan(client, patient, many[:50], '"1"').status_code == 200


def test_a_therapist_has_no_plan_of_their_own(client, therapist):
    assert_problem(get_plan(client, therapist), 403)


# --- the therapist's view of the plan ------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (ALL_SCOPES, True),
        (("plan",), True),
        (("entries", "moods", "assessments", "practices", "sessions"), False),
    ],
)
def test_a_therapist_reads_and_sets_a_plan_only_with_the_plan_scope(
    client, patient, therapist, link, scopes, allowed
):
    link(patient, therapist, scopes)
    path = f"/v1/patients/{patient.id}/integration-plan"
    read = get_plan(client, therapist, path)
    changed = put_plan(client, therapist, [step(2, "08:00", "practice")], '"1"', path)
    if not allowed:
        assert_problem(read, 404)
        assert_problem(changed, 404)
        assert get_plan(client, patient).json["is_default"] is True
    else:
        assert read.status_code == 200 and read.json["is_default"] is True
        assert changed.status_code == 200, changed.json
        mine = get_plan(client, patient).json
        assert mine["updated_by"] == {"id": therapist.id, "display_name": "Test therapist"}
        assert [s["kind"] for s in mine["steps"]] == ["practice"]
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    events = [
        (e["action"], e["resource_type"], e["outcome"])
        for e in log
        if e["resource_type"] == "integration_plan"
    ]
    outcome = "allowed" if allowed else "denied"
    assert events == [("update", "integration_plan", outcome), ("read", "integration_plan", outcome)]


def test_a_stranger_or_a_revoked_therapist_gets_the_same_404(client, patient, therapist, make_account, link):
    stranger = make_account("therapist")
    made = link(patient, therapist, ALL_SCOPES)
    path = f"/v1/patients/{patient.id}/integration-plan"
    missing = "/v1/patients/00000000-0000-4000-8000-000000000000/integration-plan"
    never_there = assert_problem(get_plan(client, stranger, missing), 404)
    for response in (get_plan(client, stranger, path), put_plan(client, stranger, [], '"1"', path)):
        assert assert_problem(response, 404) == never_there  # the same 404 as for no such patient
    assert get_plan(client, patient).json["is_default"] is True
    client.delete(
        f"/v1/care-team/{made['id']}", headers={**patient.headers, "If-Match": f'"{made["version"]}"'}
    )
    assert_problem(get_plan(client, therapist, path), 404)
    assert_problem(put_plan(client, therapist, [], '"1"', path), 404)
    missing = "/v1/patients/00000000-0000-4000-8000-000000000000/integration-plan"
    assert_problem(get_plan(client, therapist, missing), 404)
    assert_problem(get_plan(client, patient, path), 403)


def test_a_therapists_stale_change_shows_the_plan_and_is_logged(client, patient, therapist, link):
    link(patient, therapist, ("plan",))
    assert put_plan(client, patient, [step(1, "10:00", "mood")], '"1"').status_code == 200
    path = f"/v1/patients/{patient.id}/integration-plan"
    stale = assert_problem(put_plan(client, therapist, [], '"1"', path), 412)
    assert stale["current"]["version"] == 2
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    # The 412 showed the plan: a read.
    assert [(e["action"], e["outcome"]) for e in log] == [("read", "allowed")]


# --- follow-ups made with a session --------------------------------------------------------------


def test_a_session_at_9pm_in_los_angeles_makes_follow_ups_at_local_times_across_the_dst_change(
    client, la_patient
):
    # Friday 6 March 2026, 21:00 PST (UTC-8): 05:00 UTC on the 7th. Clocks go forward on Sunday the 8th.
    session = record_session(client, la_patient, "2026-03-07T05:00:00Z")
    items = follow_ups(client, la_patient)
    got = [
        (f["offset_days"], f["local_time"], f["kind"], f["instrument"], f["due_at"], f["window_ends_at"])
        for f in items
    ]
    due = {
        1: instant("2026-03-08T04:00:00Z"),  # Sat 7 March 20:00 PST
        3: instant("2026-03-10T01:00:00Z"),  # Mon 9 March 18:00 PDT (UTC-7)
        7: instant("2026-03-13T17:00:00Z"),  # Fri 13 March 10:00 PDT
        14: instant("2026-03-20T17:00:00Z"),  # Fri 20 March 10:00 PDT
    }
    assert [(d, t, k, i, instant(a)) for d, t, k, i, a, _ in got] == [
        (1, "20:00", "entry", None, due[1]),
        (1, "20:00", "mood", None, due[1]),
        (3, "18:00", "practice", None, due[3]),
        (7, "10:00", "assessment", "gad7", due[7]),
        (7, "10:00", "assessment", "phq9", due[7]),
        (7, "20:00", "entry", None, instant("2026-03-14T03:00:00Z")),
        (14, "10:00", "assessment", "gad7", due[14]),
        (14, "10:00", "assessment", "phq9", due[14]),
    ]
    windows = [instant(w) for *_, w in got]
    assert windows == [
        due[3],  # until the next step, sooner than 48 h
        due[3],
        due[3] + timedelta(hours=48),
        instant("2026-03-14T03:00:00Z"),  # the evening entry of day 7 comes next
        instant("2026-03-14T03:00:00Z"),
        instant("2026-03-16T03:00:00Z"),
        due[14] + timedelta(hours=48),
        due[14] + timedelta(hours=48),
    ]
    for item in items:
        assert item["session_id"] == session["id"] and item["time_zone"] == LA
        assert status_of(client, la_patient, item["id"]) == "missed" and item["completed_by"] is None
        assert "status" not in item  # it changes with the clock alone, which an ETag cannot follow
    entry = items[0]
    assert entry["prompt_id"] == "insights-one-sentence" and entry["prompt_text"].startswith(
        "If you put one thing"
    )
    assert items[1]["prompt_text"] is None


def test_local_times_the_clocks_skip_or_repeat(client, la_patient):
    plan = [step(1, "02:30", "mood"), step(2, "01:30", "practice")]
    assert put_plan(client, la_patient, plan, '"1"').status_code == 200
    # 02:30 on 8 March 2026 does not exist in Los Angeles: read with PST's offset, 03:30 PDT.
    record_session(client, la_patient, "2026-03-07T20:00:00Z")
    # 01:30 on 1 November 2026 happens twice: the first, PDT.
    record_session(client, la_patient, "2026-10-30T20:00:00Z")
    dues = sorted(instant(f["due_at"]) for f in follow_ups(client, la_patient))
    assert dues == [
        instant("2026-03-08T10:30:00Z"),
        instant("2026-03-09T08:30:00Z"),
        instant("2026-10-31T09:30:00Z"),
        instant("2026-11-01T08:30:00Z"),
    ]


def test_the_local_day_is_the_patients_not_utcs(client, make_account):
    tokyo = make_account("patient", timezone="Asia/Tokyo")
    assert put_plan(client, tokyo, [step(0, "22:00", "mood")], '"1"').status_code == 200
    # 23:30 UTC on 1 June is 08:30 on 2 June in Tokyo: day 0 is 2 June there.
    record_session(client, tokyo, "2026-06-01T23:30:00Z")
    (item,) = follow_ups(client, tokyo)
    assert instant(item["due_at"]) == instant("2026-06-02T13:00:00Z")


def test_an_empty_plan_makes_no_follow_ups(client, patient):
    assert put_plan(client, patient, [], '"1"').status_code == 200
    record_session(client, patient, iso(datetime.now(UTC)))
    assert follow_ups(client, patient) == []


def test_a_plan_change_leaves_recorded_sessions_as_they_were(client, patient):
    record_session(client, patient, "2026-05-01T12:00:00Z")
    assert put_plan(client, patient, [step(1, "10:00", "mood")], '"1"').status_code == 200
    record_session(client, patient, "2026-06-01T12:00:00Z")
    items = follow_ups(client, patient)
    assert len(items) == 8 + 1


def test_moving_a_session_moves_its_open_follow_ups_and_deleting_it_removes_them(client, la_patient):
    session = record_session(client, la_patient, "2026-03-07T05:00:00Z")
    items = follow_ups(client, la_patient)
    mood_follow_up = items[1]
    done = client.post(
        "/v1/moods",
        headers=la_patient.headers,
        json={"mood": 6, "recorded_at": mood_follow_up["due_at"], "follow_up_id": mood_follow_up["id"]},
    )
    assert done.status_code == 201, done.json
    _, cursor = drain(client, la_patient)

    moved = client.patch(
        f"/v1/sessions/{session['id']}",
        headers={**la_patient.headers, "If-Match": f'"{session["version"]}"'},
        json={"started_at": "2026-04-03T04:00:00Z"},  # Thursday 2 April, 21:00 PDT
    )
    assert moved.status_code == 200, moved.json
    after = {f["id"]: f for f in follow_ups(client, la_patient)}
    assert instant(after[items[0]["id"]]["due_at"]) == instant("2026-04-04T03:00:00Z")  # 3 April 20:00 PDT
    assert instant(after[items[2]["id"]]["due_at"]) == instant("2026-04-06T01:00:00Z")
    assert after[mood_follow_up["id"]]["due_at"] == mood_follow_up["due_at"]  # done: stays as it was
    # completed, then told the session's new start
    assert after[mood_follow_up["id"]]["version"] == mood_follow_up["version"] + 2
    assert {f["session_started_at"] for f in after.values()} == {moved.json["started_at"]}
    changes, cursor = drain(client, la_patient, cursor)
    moved_ids = {c["id"] for c in changes if c["type"] == "follow_up" and c["op"] == "upsert"}
    assert moved_ids == {f["id"] for f in items}
    assert {c["type"] for c in changes} == {"session", "follow_up"}

    gone = client.delete(
        f"/v1/sessions/{session['id']}",
        headers={**la_patient.headers, "If-Match": f'"{moved.json["version"]}"'},
    )
    assert gone.status_code == 204
    assert follow_ups(client, la_patient) == []
    assert_problem(client.get(f"/v1/follow-ups/{items[0]['id']}", headers=la_patient.headers), 404)
    changes, _ = drain(client, la_patient, cursor)
    tombstones = {c["id"] for c in changes if c["type"] == "follow_up" and c["op"] == "delete"}
    assert tombstones == {f["id"] for f in items}


def test_an_edit_that_keeps_the_start_moves_nothing(client, patient):
    session = record_session(client, patient, "2026-05-01T12:00:00Z")
    before = follow_ups(client, patient)
    edited = client.patch(
        f"/v1/sessions/{session['id']}",
        headers={**patient.headers, "If-Match": '"1"'},
        json={"notes": "calmer than last time", "started_at": "2026-05-01T12:00:00Z"},
    )
    assert edited.status_code == 200
    assert follow_ups(client, patient) == before


# --- completion -----------------------------------------------------------------------------------


def test_completion_by_id_shows_what_completed_it(client, patient):
    record_session(client, patient, iso(datetime.now(UTC) - timedelta(days=1, hours=1)))
    phq9 = next(f for f in follow_ups(client, patient) if f["instrument"] == "phq9")
    answers = [1, 1, 0, 1, 0, 0, 1, 0, 0]
    taken = client.post(
        "/v1/assessments",
        headers=patient.headers,
        json={"instrument": "phq9", "answers": answers, "follow_up_id": phq9["id"]},
    )
    assert taken.status_code == 201, taken.json
    assert "follow_up_id" not in taken.json
    done = client.get(f"/v1/follow-ups/{phq9['id']}", headers=patient.headers).json
    assert status_of(client, patient, phq9["id"]) == "done"
    assert done["completed_by"] == {"type": "assessment", "id": taken.json["id"]}
    assert done["completed_at"] == taken.json["taken_at"]
    # Once done, it takes no second record.
    again = client.post(
        "/v1/assessments",
        headers=patient.headers,
        json={"instrument": "phq9", "answers": answers, "follow_up_id": phq9["id"]},
    )
    assert_problem(again, 422)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/moods", {"mood": 5}),
        ("/v1/entries", {"body": "It was a lot."}),
        ("/v1/practices", {"practice": "meditation", "performed_at": NOW}),
        ("/v1/assessments", {"instrument": "gad7", "answers": [0, 1, 0, 1, 0, 1, 0]}),
    ],
)
def test_a_follow_up_of_another_kind_or_instrument_is_a_422_and_nothing_is_made(
    client, patient, database_rows, path, body
):
    record_session(client, patient, iso(datetime.now(UTC)))
    items = follow_ups(client, patient)
    # Another kind for the mood, entry and practice; another instrument for the GAD-7.
    wrong = next(f for f in items if f["instrument"] == "phq9")
    before = database_rows()
    refused = client.post(path, headers=patient.headers, json={**body, "follow_up_id": wrong["id"]})
    assert "follow_up_id" in assert_problem(refused, 422)["errors"]
    assert database_rows() == before


def test_another_patients_follow_up_is_a_404_and_nothing_is_made(
    client, patient, make_account, database_rows
):
    other = make_account("patient")
    record_session(client, other, iso(datetime.now(UTC)))
    theirs = next(f for f in follow_ups(client, other) if f["kind"] == "mood")
    before = database_rows()
    refused = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 5, "follow_up_id": theirs["id"]}
    )
    missing = client.post(
        "/v1/moods",
        headers=patient.headers,
        json={"mood": 5, "follow_up_id": "00000000-0000-4000-8000-000000000000"},
    )
    assert assert_problem(refused, 404)["detail"] == assert_problem(missing, 404)["detail"]
    assert database_rows() == before
    assert_problem(client.get(f"/v1/follow-ups/{theirs['id']}", headers=patient.headers), 404)
    assert_problem(
        client.patch(
            f"/v1/follow-ups/{theirs['id']}",
            headers={**patient.headers, "If-Match": '"1"'},
            json={"dismissed": True},
        ),
        404,
    )
    assert status_of(client, other, theirs["id"]) == "upcoming"


def test_a_record_inside_the_window_completes_the_follow_up_without_its_id(client, patient):
    assert (
        put_plan(client, patient, [step(1, "10:00", "mood"), step(3, "10:00", "mood")], '"1"').status_code
        == 200
    )
    record_session(client, patient, "2026-05-01T12:00:00Z")
    first, second = follow_ups(client, patient)
    before = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 4, "recorded_at": "2026-05-02T09:59:00Z"}
    )
    inside = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 4, "recorded_at": "2026-05-03T08:00:00Z"}
    )
    after = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 4, "recorded_at": "2026-05-06T10:00:00Z"}
    )
    entry = client.post(
        "/v1/entries", headers=patient.headers, json={"body": "x", "occurred_at": "2026-05-04T10:00:00Z"}
    )
    assert {r.status_code for r in (before, inside, after, entry)} == {201}
    first, second = follow_ups(client, patient)
    assert first["completed_by"] == {"type": "mood", "id": inside.json["id"]}
    assert first["completed_at"] == inside.json["recorded_at"]
    assert (
        second["completed_by"] is None and status_of(client, patient, second["id"]) == "missed"
    )  # 10:00 on the 6th is past 48 h


def test_overlapping_windows_complete_the_earliest_due_first(client, patient):
    assert put_plan(client, patient, [step(0, "10:00", "mood")], '"1"').status_code == 200
    record_session(client, patient, "2026-05-01T08:00:00Z")
    record_session(client, patient, "2026-05-02T08:00:00Z")
    one = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 4, "recorded_at": "2026-05-02T12:00:00Z"}
    )
    two = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 4, "recorded_at": "2026-05-02T13:00:00Z"}
    )
    first, second = follow_ups(client, patient)
    assert first["completed_by"]["id"] == one.json["id"] and second["completed_by"]["id"] == two.json["id"]


# --- listing and dismissing ------------------------------------------------------------------------


def test_status_is_worked_out_from_time_and_completion(client, patient):
    now = datetime.now(UTC)
    plan = [step(0, "00:00", "mood"), step(1, "00:00", "practice"), step(30, "00:00", "entry")]
    assert put_plan(client, patient, plan, '"1"').status_code == 200
    # Started 36 hours ago (the zone is UTC), on day S: day 0's mood was due at S 00:00 until day 1's
    # practice at S+1 00:00, which is due until S+3 00:00; now is between S+1 12:00 and S+2 12:00.
    session = record_session(client, patient, iso(now - timedelta(days=1, hours=12)))
    by_kind = {f["kind"]: f for f in follow_ups(client, patient)}
    assert {k: status_of(client, patient, f["id"]) for k, f in by_kind.items()} == {
        "mood": "missed",
        "practice": "due",
        "entry": "upcoming",
    }
    for status, kinds in (("missed", ["mood"]), ("due", ["practice"]), ("upcoming", ["entry"]), ("done", [])):
        assert [f["kind"] for f in follow_ups(client, patient, f"&status={status}")] == kinds
    assert len(follow_ups(client, patient, f"&session_id={session['id']}")) == 3
    assert follow_ups(client, patient, "&session_id=00000000-0000-4000-8000-000000000000") == []

    practice = by_kind["practice"]
    path = f"/v1/follow-ups/{practice['id']}"
    assert_problem(client.patch(path, headers=patient.headers, json={"dismissed": True}), 428)
    assert_problem(
        client.patch(path, headers={**patient.headers, "If-Match": '"9"'}, json={"dismissed": True}), 412
    )
    assert_problem(
        client.patch(path, headers={**patient.headers, "If-Match": '"1"'}, json={"dismissed": "yes"}), 422
    )
    dismissed = client.patch(path, headers={**patient.headers, "If-Match": '"1"'}, json={"dismissed": True})
    assert dismissed.status_code == 200 and dismissed.json["dismissed_at"] is not None
    assert dismissed.headers["ETag"] == '"2"'
    assert [f["kind"] for f in follow_ups(client, patient, "&status=dismissed")] == ["practice"]
    # A dismissed follow-up is not completed by a record in its window, nor by its id.
    performed = client.post(
        "/v1/practices", headers=patient.headers, json={"practice": "meditation", "performed_at": NOW}
    )
    assert performed.status_code == 201
    assert status_of(client, patient, practice["id"]) == "dismissed"
    refused = client.post(
        "/v1/practices",
        headers=patient.headers,
        json={
            "practice": "meditation",
            "performed_at": iso(datetime.now(UTC)),
            "follow_up_id": practice["id"],
        },
    )
    assert_problem(refused, 422)
    back = client.patch(path, headers={**patient.headers, "If-Match": '"2"'}, json={"dismissed": False})
    assert back.json["dismissed_at"] is None and status_of(client, patient, practice["id"]) == "due"
    done = client.post(
        "/v1/practices",
        headers=patient.headers,
        json={
            "practice": "meditation",
            "performed_at": iso(datetime.now(UTC)),
            "follow_up_id": practice["id"],
        },
    )
    assert done.status_code == 201
    assert_problem(
        client.patch(path, headers={**patient.headers, "If-Match": '"4"'}, json={"dismissed": True}), 422
    )


def test_follow_ups_page_latest_due_first_like_every_list(client, patient):
    record_session(client, patient, "2026-05-01T12:00:00Z")
    record_session(client, patient, "2026-04-01T12:00:00Z")
    everything = client.get("/v1/follow-ups?limit=100", headers=patient.headers).json["items"]
    assert len(everything) == 16
    keys = [(f["due_at"], f["id"]) for f in everything]
    assert keys == sorted(keys, reverse=True)
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/v1/follow-ups{query}", headers=patient.headers)
        assert page.status_code == 200
        seen += [f["id"] for f in page.json["items"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
        assert 'rel="next"' in page.headers["Link"]
    assert seen == [f["id"] for f in everything]
    for bad in ("?status=late", "?limit=0", "?cursor=nope", "?session_id=12"):
        assert_problem(client.get(f"/v1/follow-ups{bad}", headers=patient.headers), 422)


def test_follow_ups_need_a_patients_token(client, therapist):
    assert_problem(client.get("/v1/follow-ups"), 401)
    assert_problem(client.get("/v1/follow-ups", headers=therapist.headers), 403)


# --- offline: the sync feed ------------------------------------------------------------------------


def test_sync_carries_each_follow_up_as_its_own_get_shows_it(client, patient):
    _, cursor = drain(client, patient)
    session = record_session(client, patient, iso(datetime.now(UTC)))
    changes, cursor = drain(client, patient, cursor)
    assert [c["type"] for c in changes] == ["session"] + ["follow_up"] * 8
    for change in changes[1:]:
        own = client.get(f"/v1/follow-ups/{change['id']}", headers=patient.headers).json
        assert change["op"] == "upsert" and change["data"] == own
        assert own["session_id"] == session["id"]
    mood = next(c["data"] for c in changes if c["type"] == "follow_up" and c["data"]["kind"] == "mood")
    client.post("/v1/moods", headers=patient.headers, json={"mood": 7, "follow_up_id": mood["id"]})
    changes, _ = drain(client, patient, cursor)
    assert [(c["type"], c["op"]) for c in changes] == [("mood", "upsert"), ("follow_up", "upsert")]
    assert changes[1]["data"]["completed_by"] == {"type": "mood", "id": changes[0]["id"]}


# --- adherence --------------------------------------------------------------------------------------


def test_adherence_per_session_and_overall(client, patient, therapist, link, make_account):
    now = datetime.now(UTC)
    plan = [
        step(0, "00:00", "mood"),
        step(0, "00:00", "practice"),
        step(0, "00:00", "entry"),
        step(40, "00:00", "mood"),
    ]
    assert put_plan(client, patient, plan, '"1"').status_code == 200
    old = record_session(client, patient, iso(now - timedelta(days=5)))
    items = {
        f["kind"] + str(f["offset_days"]): f for f in follow_ups(client, patient, f"&session_id={old['id']}")
    }
    due = instant(items["mood0"]["due_at"])
    client.post(
        "/v1/moods",
        headers=patient.headers,
        json={
            "mood": 5,
            "recorded_at": iso(due + timedelta(minutes=90)),
            "follow_up_id": items["mood0"]["id"],
        },
    )
    client.post(
        "/v1/practices",
        headers=patient.headers,
        json={"practice": "meditation", "performed_at": iso(due + timedelta(minutes=30))},
    )
    # the entry is missed; day 40's mood is upcoming

    response = client.get("/v1/insights/follow-ups", headers=patient.headers)
    assert response.status_code == 200, response.json
    body = response.json
    expected = {
        "total": 4,
        "upcoming": 1,
        "due": 0,
        "missed": 1,
        "done": 2,
        "dismissed": 0,
        "rate": round(2 / 3, 4),
        "median_delay_minutes": 30,
    }
    assert body["overall"] == expected
    assert body["sessions"] == [{"session_id": old["id"], **expected}]
    assert body["recent"] == {**expected, "total": 3, "upcoming": 0}

    path = f"/v1/patients/{patient.id}/insights/follow-ups"
    assert_problem(client.get(path, headers=therapist.headers), 404)
    made = link(patient, therapist, ("moods",))
    assert_problem(client.get(path, headers=therapist.headers), 404)
    listed = client.get("/v1/patients", headers=therapist.headers).json["items"][0]
    assert listed["follow_up_rate_14d"] is None
    client.patch(
        f"/v1/care-team/{made['id']}",
        headers={**patient.headers, "If-Match": f'"{made["version"]}"'},
        json={"scopes": ["plan"]},
    )
    shown = client.get(path, headers=therapist.headers)
    assert shown.status_code == 200 and shown.json == body
    listed = client.get("/v1/patients", headers=therapist.headers).json["items"][0]
    assert listed["follow_up_rate_14d"] == round(2 / 3, 4)
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert [
        (e["resource_type"], e["outcome"]) for e in log if e["resource_type"] == "follow_up_insights"
    ] == [
        ("follow_up_insights", "allowed"),
        ("follow_up_insights", "denied"),
        ("follow_up_insights", "denied"),
    ]


def test_a_patient_with_no_follow_ups_has_no_rate(client, patient):
    body = client.get("/v1/insights/follow-ups", headers=patient.headers).json
    assert body["overall"]["total"] == 0 and body["overall"]["rate"] is None
    assert body["overall"]["median_delay_minutes"] is None and body["sessions"] == []


def test_a_completion_that_commits_while_its_session_is_deleted_never_fails_the_delete(app, client, patient):
    """The delete holds the account before it reads the session's follow-ups, as the create does
    before it completes one: the mood waits, then finds them gone; the delete is never a 412."""
    session = record_session(client, patient, iso(datetime.now(UTC) - timedelta(days=1, hours=1)))
    mood = next(f for f in follow_ups(client, patient) if f["kind"] == "mood")
    made = []

    def check_in():
        other = app.test_client()
        made.append(
            other.post("/v1/moods", headers=patient.headers, json={"mood": 6, "recorded_at": mood["due_at"]})
        )

    reads_them = lambda statement: statement.startswith("SELECT follow_ups.")  # noqa: E731
    with meanwhile(app, reads_them, check_in, at="after_cursor_execute", patience=1):
        gone = client.delete(f"/v1/sessions/{session['id']}", headers={**patient.headers, "If-Match": '"1"'})
    assert gone.status_code == 204, gone.json
    (created,) = made
    assert created.status_code == 201, created.json
    assert follow_ups(client, patient) == []


def test_follow_ups_filter_by_from_and_to_on_due_at(client, patient):
    record_session(client, patient, "2026-05-01T12:00:00Z")
    response = client.get(
        "/v1/follow-ups?from=2026-05-08T00:00:00Z&to=2026-05-09T00:00:00Z", headers=patient.headers
    )
    assert response.status_code == 200, response.json
    assert sorted((f["offset_days"], f["kind"]) for f in response.json["items"]) == [
        (7, "assessment"),
        (7, "assessment"),
        (7, "entry"),
    ]


# --- found by an outside tester ---------------------------------------------------------------------


def test_a_plan_naming_a_prompt_the_data_no_longer_has_still_lets_a_session_be_recorded(
    client, patient, monkeypatch
):
    """A stored plan keeps a prompt's id; a later prompts file may drop it. The follow-up then
    shows the first prompt that suits its day, and the session is recorded (it was a 500)."""
    dropped = "insights-one-sentence"  # suits day 1, but is not the day's first prompt
    plan = [step(1, "10:00", "entry", prompt_id=dropped)]
    assert put_plan(client, patient, plan, '"1"').status_code == 200

    from api.plans import data, service

    texts = {key: text for key, text in data.prompt_texts().items() if key != dropped}
    monkeypatch.setattr(service, "prompt_texts", lambda: texts)  # the prompts file, one release later
    record_session(client, patient, iso(datetime.now(UTC)))
    (item,) = follow_ups(client, patient)
    assert item["prompt_id"] == data.prompt_for_day(1)[0] and item["prompt_text"]
    assert item["prompt_id"] != dropped and item["prompt_text"] == texts[item["prompt_id"]]


def test_a_record_from_before_the_session_completes_none_of_its_follow_ups(client, patient):
    """Not by id (422), and not by window: a PHQ-9 from the day before is the session's baseline
    (/v1/insights/sessions), never also its day-14 follow-up."""
    started = datetime.now(UTC) - timedelta(days=20)
    record_session(client, patient, iso(started))
    day14 = next(
        f for f in follow_ups(client, patient) if f["instrument"] == "phq9" and f["offset_days"] == 14
    )
    body = {
        "instrument": "phq9",
        "answers": [1, 1, 0, 1, 0, 0, 1, 0, 0],
        "taken_at": iso(started - timedelta(days=1)),
    }
    refused = client.post(
        "/v1/assessments", headers=patient.headers, json={**body, "follow_up_id": day14["id"]}
    )
    assert "follow_up_id" in assert_problem(refused, 422)["errors"]
    assert client.post("/v1/assessments", headers=patient.headers, json=body).status_code == 201
    assert all(f["completed_by"] is None for f in follow_ups(client, patient))


def test_a_day_zero_step_is_never_due_before_its_session_started(client, patient):
    assert (
        put_plan(client, patient, [step(0, "08:00", "mood"), step(0, "22:00", "entry")], '"1"').status_code
        == 200
    )
    session = record_session(client, patient, "2026-05-01T21:00:00Z")
    mood, entry = follow_ups(client, patient)
    assert mood["due_at"] == session["started_at"]  # 08:00 had passed: due as the session starts
    assert instant(mood["window_ends_at"]) == instant("2026-05-01T22:00:00Z")
    assert instant(entry["due_at"]) == instant("2026-05-01T22:00:00Z")
    early = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": "2026-05-01T09:00:00Z"}
    )
    assert early.status_code == 201
    assert follow_ups(client, patient)[0]["completed_by"] is None


def test_erasing_the_therapist_who_set_the_plan_gives_the_plan_a_new_etag(client, patient, therapist, link):
    """Their name leaves the plan as an edit would: a new version, so a device's copy is stale."""
    link(patient, therapist, ALL_SCOPES)
    path = f"/v1/patients/{patient.id}/integration-plan"
    assert put_plan(client, therapist, [step(1, "10:00", "mood")], '"1"', path).status_code == 200
    seen = get_plan(client, patient)
    assert seen.json["updated_by"]["id"] == therapist.id
    assert client.delete("/v1/me", headers=therapist.headers, json={"password": PASSWORD}).status_code == 204
    now = get_plan(client, patient)
    assert now.json["updated_by"] is None and now.json["steps"] == seen.json["steps"]
    assert now.headers["ETag"] != seen.headers["ETag"]
    revalidated = client.get(
        "/v1/me/integration-plan", headers={**patient.headers, "If-None-Match": seen.headers["ETag"]}
    )
    assert revalidated.status_code == 200


def test_a_therapists_change_without_if_match_is_not_logged(client, patient, therapist, link):
    """A 428 changes nothing and shows nothing: no `update` in the patient's access log."""
    link(patient, therapist, ("plan",))
    path = f"/v1/patients/{patient.id}/integration-plan"
    assert_problem(client.put(path, headers=therapist.headers, json={"steps": []}), 428)
    assert get_plan(client, patient).json["is_default"] is True
    log = client.get("/v1/me/access-log", headers=patient.headers).json["items"]
    assert [e for e in log if e["resource_type"] == "integration_plan"] == []


def test_the_export_holds_the_patients_integration_plan(client, patient):
    """As JSON (the plan as its GET shows it) and as integration_plan.csv (a row per step)."""
    import csv
    import io
    import zipfile

    mine = [step(2, "07:45", "practice"), step(5, "21:10", "entry", prompt_id="body-first-sensations")]
    assert put_plan(client, patient, mine, '"1"').status_code == 200
    exported = client.get("/v1/me/export?format=json", headers=patient.headers)
    assert exported.status_code == 200
    assert json.loads(exported.get_data())["integration_plan"] == get_plan(client, patient).json
    zipped = client.get("/v1/me/export?format=csv", headers=patient.headers)
    with zipfile.ZipFile(io.BytesIO(zipped.get_data())) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("integration_plan.csv").decode())))
    assert [(row["offset_days"], row["local_time"], row["kind"], row["prompt_id"]) for row in rows] == [
        ("2", "07:45", "practice", ""),
        ("5", "21:10", "entry", "body-first-sensations"),
    ]


def test_deleting_the_record_that_completed_a_follow_up_opens_it_again(client, patient):
    """No `completed_by` names a deleted record: the follow-up is open again (a change in
    /v1/sync), and the next record of its kind can complete it."""
    record_session(client, patient, iso(datetime.now(UTC) - timedelta(days=1, hours=1)))
    mood = next(f for f in follow_ups(client, patient) if f["kind"] == "mood")
    first = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 3, "follow_up_id": mood["id"]}
    ).json
    _, cursor = drain(client, patient)
    gone = client.delete(f"/v1/moods/{first['id']}", headers={**patient.headers, "If-Match": '"1"'})
    assert gone.status_code == 204
    reopened = client.get(f"/v1/follow-ups/{mood['id']}", headers=patient.headers).json
    assert reopened["completed_by"] is None and reopened["completed_at"] is None
    changes, _ = drain(client, patient, cursor)
    assert sorted((c["type"], c["op"]) for c in changes) == [("follow_up", "upsert"), ("mood", "delete")]
    again = client.post("/v1/moods", headers=patient.headers, json={"mood": 4, "follow_up_id": mood["id"]})
    assert again.status_code == 201
    done = client.get(f"/v1/follow-ups/{mood['id']}", headers=patient.headers).json
    assert done["completed_by"] == {"type": "mood", "id": again.json["id"]}
    # a record that completed nothing deletes as before
    other = client.post(
        "/v1/moods", headers=patient.headers, json={"mood": 5, "recorded_at": "2026-01-01T00:00:00Z"}
    ).json
    assert (
        client.delete(f"/v1/moods/{other['id']}", headers={**patient.headers, "If-Match": '"1"'}).status_code
        == 204
    )
