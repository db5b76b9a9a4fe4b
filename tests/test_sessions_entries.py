"""Treatment sessions and journal entries: fields, enums, ranges, links and filters."""

import pytest

from tests.helpers import assert_problem

SESSION = {"started_at": "2026-03-01T09:00:00+01:00"}


def post(client, account, path, body):
    return client.post(path, headers=account.headers, json=body)


def test_session_with_every_field(client, patient):
    body = {
        **SESSION,
        "medicine": "esketamine",
        "route": "intranasal",
        "dose_mg": 56,
        "duration_minutes": 120,
        "setting": "clinic",
        "provider": "Dr. Lee",
        "intention": "Meet the grief gently",
        "side_effects": ["nausea", "dissociation"],
        "vitals": [
            {"taken_at": "2026-03-01T09:40:00+01:00", "systolic": 138, "diastolic": 88, "heart_rate": 84}
        ],
        "notes": "Eyeshades helped",
    }
    response = post(client, patient, "/v1/sessions", body)
    assert response.status_code == 201, response.json
    session = response.json
    assert session["started_at"] == "2026-03-01T08:00:00+00:00"
    assert session["vitals"] == [
        {"taken_at": "2026-03-01T08:40:00+00:00", "systolic": 138, "diastolic": 88, "heart_rate": 84}
    ]
    assert client.get(f"/v1/sessions/{session['id']}", headers=patient.headers).json == session


def test_session_defaults(client, patient):
    session = post(client, patient, "/v1/sessions", SESSION).json
    assert session["medicine"] == "ketamine" and session["side_effects"] == [] and session["vitals"] == []
    assert session["route"] is None and session["setting"] is None


@pytest.mark.parametrize("field", ["medicine", "route", "setting"])
def test_session_enums(client, patient, field):
    values = {
        "medicine": ["ketamine", "esketamine", "psilocybin", "mdma", "other"],
        "route": ["iv", "im", "intranasal", "sublingual", "oral", "other"],
        "setting": ["clinic", "home", "other"],
    }[field]
    for value in values:
        assert post(client, patient, "/v1/sessions", {**SESSION, field: value}).json[field] == value
    for bad in ("IV", "lsd", "", 3):
        assert (
            field
            in assert_problem(post(client, patient, "/v1/sessions", {**SESSION, field: bad}), 422)["errors"]
        )


@pytest.mark.parametrize(
    "change, ok",
    [
        ({"dose_mg": 0}, False),
        ({"dose_mg": 0.5}, True),
        ({"dose_mg": 10000}, True),
        ({"dose_mg": 10000.1}, False),
        ({"duration_minutes": 0}, False),
        ({"duration_minutes": 1}, True),
        ({"duration_minutes": 1440}, True),
        ({"duration_minutes": 1441}, False),
        ({"side_effects": ["headache", "headache"]}, False),
        ({"side_effects": ["hallucination"]}, False),
        ({"side_effects": ["elevated_blood_pressure", "other"]}, True),
        ({"vitals": [{"taken_at": "2026-03-01T09:00:00Z", "systolic": 49}]}, False),
        (
            {
                "vitals": [
                    {"taken_at": "2026-03-01T09:00:00Z", "systolic": 260, "diastolic": 30, "heart_rate": 250}
                ]
            },
            True,
        ),
        ({"vitals": [{"taken_at": "2026-03-01T09:00:00Z", "heart_rate": 251}]}, False),
        ({"vitals": [{"systolic": 120}]}, False),
        ({"vitals": [{"taken_at": "2026-03-01T09:00:00"}]}, False),
        ({"started_at": "2026-03-01"}, False),
        ({"provider": "p" * 201}, False),
    ],
)
def test_session_ranges(client, patient, change, ok):
    response = post(client, patient, "/v1/sessions", {**SESSION, **change})
    assert (response.status_code == 201) is ok, response.json
    if not ok:
        assert set(change) & set(response.json["errors"])


def test_session_requires_started_at(client, patient):
    assert "started_at" in assert_problem(post(client, patient, "/v1/sessions", {}), 422)["errors"]


def test_session_filter_by_medicine_and_time(client, patient):
    post(client, patient, "/v1/sessions", {"started_at": "2026-01-05T10:00:00Z"})
    post(client, patient, "/v1/sessions", {"started_at": "2026-02-05T10:00:00Z", "medicine": "psilocybin"})
    listed = client.get("/v1/sessions?medicine=psilocybin", headers=patient.headers).json["items"]
    assert [session["medicine"] for session in listed] == ["psilocybin"]
    listed = client.get("/v1/sessions?to=2026-02-01T00:00:00Z", headers=patient.headers).json["items"]
    assert [session["started_at"][:7] for session in listed] == ["2026-01"]


def test_entry_defaults_and_fields(client, patient):
    entry = post(client, patient, "/v1/entries", {"body": "  Saw my younger self.  "}).json
    assert entry["body"] == "Saw my younger self."
    assert entry["kind"] == "general" and entry["visibility"] == "private"
    assert (
        entry["tags"] == []
        and entry["emotions"] == []
        and entry["session_id"] is None
        and entry["occurred_at"]
    )


@pytest.mark.parametrize(
    "kind", ["insight", "reflection", "intention", "gratitude", "dream", "body", "general"]
)
def test_entry_kinds(client, patient, kind):
    assert post(client, patient, "/v1/entries", {"body": "x", "kind": kind}).json["kind"] == kind


@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "poem"}, "kind"),
        ({"visibility": "public"}, "visibility"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": "x" * 20001}, "body"),
        ({"title": "t" * 201}, "title"),
        ({"emotions": ["serene-ish"]}, "emotions"),
        ({"tags": ["a"] * 31}, "tags"),
        ({"tags": ["Grief", "grief"]}, "tags"),
        ({"tags": ["t" * 51]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"occurred_at": "2026-03-01T10:00"}, "occurred_at"),
    ],
)
def test_invalid_entries(client, patient, change, field):
    assert (
        field in assert_problem(post(client, patient, "/v1/entries", {"body": "x", **change}), 422)["errors"]
    )


def test_entry_links_only_to_the_authors_live_sessions(client, make_account):
    author, other = make_account(), make_account()
    mine = post(client, author, "/v1/sessions", SESSION).json
    theirs = post(client, other, "/v1/sessions", SESSION).json
    linked = post(client, author, "/v1/entries", {"body": "x", "session_id": mine["id"]})
    assert linked.status_code == 201 and linked.json["session_id"] == mine["id"]

    for session_id in (theirs["id"], "00000000-0000-4000-8000-000000000000"):
        problem = assert_problem(
            post(client, author, "/v1/entries", {"body": "x", "session_id": session_id}), 422
        )
        assert problem["errors"] == {"session_id": ["No such session."]}
    # a deleted session cannot be linked either, on create or on update
    client.delete(f"/v1/sessions/{mine['id']}", headers={**author.headers, "If-Match": '"1"'})
    assert_problem(post(client, author, "/v1/entries", {"body": "x", "session_id": mine["id"]}), 422)
    entry = post(client, author, "/v1/entries", {"body": "y"}).json
    patch = client.patch(
        f"/v1/entries/{entry['id']}",
        headers={**author.headers, "If-Match": '"1"'},
        json={"session_id": mine["id"]},
    )
    assert_problem(patch, 422)


def test_entry_filters(client, patient):
    session = post(client, patient, "/v1/sessions", SESSION).json
    post(
        client,
        patient,
        "/v1/entries",
        {
            "body": "a",
            "kind": "insight",
            "tags": ["grief"],
            "emotions": ["sad"],
            "session_id": session["id"],
            "occurred_at": "2026-03-01T12:00:00Z",
        },
    )
    post(
        client,
        patient,
        "/v1/entries",
        {
            "body": "b",
            "kind": "dream",
            "tags": ["water"],
            "emotions": ["awe"],
            "visibility": "care_team",
            "occurred_at": "2026-03-02T12:00:00Z",
        },
    )
    post(
        client,
        patient,
        "/v1/entries",
        {"body": "c", "kind": "insight", "tags": ["grief", "water"], "occurred_at": "2026-03-03T12:00:00Z"},
    )

    def bodies(query):
        response = client.get(f"/v1/entries?{query}", headers=patient.headers)
        assert response.status_code == 200, response.json
        return [entry["body"] for entry in response.json["items"]]

    assert bodies("") == ["c", "b", "a"]
    assert bodies("kind=insight") == ["c", "a"]
    assert bodies("tag=grief") == ["c", "a"]
    assert bodies("tag=water&kind=insight") == ["c"]
    assert bodies("emotion=awe") == ["b"]
    assert bodies(f"session_id={session['id']}") == ["a"]
    assert bodies("visibility=care_team") == ["b"]
    assert bodies("from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z") == ["b"]


def test_a_reading_left_out_of_the_vitals_comes_back_as_null(client, patient):
    """The spec lists every reading of stored vitals as always sent (null when not taken)."""
    body = {
        "started_at": "2026-01-01T09:00:00Z",
        "vitals": [{"taken_at": "2026-01-01T09:10:00Z", "systolic": 120}],
    }
    created = client.post("/v1/sessions", headers=patient.headers, json=body)
    expected = [
        {"taken_at": "2026-01-01T09:10:00+00:00", "systolic": 120, "diastolic": None, "heart_rate": None}
    ]
    assert created.json["vitals"] == expected
    assert (
        client.get(f"/v1/sessions/{created.json['id']}", headers=patient.headers).json["vitals"] == expected
    )
    feed = client.get("/v1/sync", headers=patient.headers).json["changes"]
    assert [change["data"]["vitals"] for change in feed if change["type"] == "session"] == [expected]
