"""Support contacts and practices: fields, enums and ranges."""

import pytest

from tests.helpers import assert_problem

RELATIONSHIPS = [
    "partner",
    "family",
    "friend",
    "therapist",
    "psychiatrist",
    "physician",
    "peer_support",
    "sitter",
    "crisis_line",
    "other",
]
PRACTICES = [
    "meditation",
    "breathwork",
    "exercise",
    "yoga",
    "therapy",
    "journaling",
    "nature",
    "art",
    "music",
    "nutrition",
    "sleep_hygiene",
    "community",
    "other",
]
PRACTICE = {"practice": "yoga", "performed_at": "2026-03-02T07:00:00Z"}


def test_contact_with_every_field_and_defaults(client, patient):
    full = {
        "name": "Dr. Rivera",
        "relationship": "psychiatrist",
        "phone": "+1 (555) 010-0200",
        "email": "rivera@clinic.example",
        "notes": "Mon-Thu",
        "is_emergency_contact": True,
        "is_session_support": False,
    }
    contact = client.post("/v1/contacts", headers=patient.headers, json=full).json
    assert {key: contact[key] for key in full} == full
    minimal = client.post(
        "/v1/contacts", headers=patient.headers, json={"name": "Jo", "relationship": "friend"}
    ).json
    assert minimal["is_emergency_contact"] is False and minimal["is_session_support"] is False


@pytest.mark.parametrize("relationship", RELATIONSHIPS)
def test_every_relationship(client, patient, relationship):
    response = client.post(
        "/v1/contacts", headers=patient.headers, json={"name": "A", "relationship": relationship}
    )
    assert response.json["relationship"] == relationship
    listed = client.get(f"/v1/contacts?relationship={relationship}", headers=patient.headers).json["items"]
    assert len(listed) == 1


@pytest.mark.parametrize(
    "change, field",
    [
        ({"relationship": "boss"}, "relationship"),
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"phone": "call me"}, "phone"),
        ({"phone": "1" * 41}, "phone"),
        ({"email": "nope"}, "email"),
        ({"is_emergency_contact": "maybe"}, "is_emergency_contact"),
    ],
)
def test_invalid_contacts(client, patient, change, field):
    body = {"name": "A", "relationship": "friend", **change}
    assert (
        field
        in assert_problem(client.post("/v1/contacts", headers=patient.headers, json=body), 422)["errors"]
    )


def test_contact_requires_name_and_relationship(client, patient):
    assert {"name", "relationship"} <= assert_problem(
        client.post("/v1/contacts", headers=patient.headers, json={}), 422
    )["errors"].keys()


@pytest.mark.parametrize("practice", PRACTICES)
def test_every_practice(client, patient, practice):
    assert (
        client.post("/v1/practices", headers=patient.headers, json={**PRACTICE, "practice": practice}).json[
            "practice"
        ]
        == practice
    )


@pytest.mark.parametrize(
    "change, ok",
    [
        ({"intensity": "low"}, True),
        ({"intensity": "moderate"}, True),
        ({"intensity": "high"}, True),
        ({"intensity": "extreme"}, False),
        ({"mood_before": 0}, False),
        ({"mood_before": 1, "mood_after": 10}, True),
        ({"mood_after": 11}, False),
        ({"duration_minutes": 0}, False),
        ({"duration_minutes": 1440}, True),
        ({"duration_minutes": 1441}, False),
        ({"practice": "sleeping"}, False),
        ({"performed_at": "2026-03-02"}, False),
        ({"notes": "n" * 5001}, False),
    ],
)
def test_practice_ranges(client, patient, change, ok):
    response = client.post("/v1/practices", headers=patient.headers, json={**PRACTICE, **change})
    assert (response.status_code == 201) is ok, response.json


def test_practice_requires_practice_and_time(client, patient):
    problem = assert_problem(client.post("/v1/practices", headers=patient.headers, json={}), 422)
    assert {"practice", "performed_at"} <= problem["errors"].keys()


def test_practice_filters(client, patient):
    client.post("/v1/practices", headers=patient.headers, json={**PRACTICE, "practice": "exercise"})
    client.post("/v1/practices", headers=patient.headers, json=PRACTICE)
    listed = client.get("/v1/practices?practice=exercise", headers=patient.headers).json["items"]
    assert [item["practice"] for item in listed] == ["exercise"]
