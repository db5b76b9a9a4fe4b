"""Reference data: the emotion vocabulary and crisis resources, from data files."""

import json

import pytest

from api.reference.data import emotion_names
from config import BASE_DIR
from tests.helpers import assert_problem


def test_emotions_are_grouped_and_unique(client, patient):
    vocabulary = client.get("/v1/reference/emotions", headers=patient.headers).json
    names = [name for group in vocabulary["groups"] for name in group["emotions"]]
    assert len(names) == len(set(names)) >= 40
    assert set(names) == set(emotion_names())
    assert {"awe", "grieving", "dissociated", "calm"} <= set(names)


def test_any_signed_in_user_reads_reference_data(client, therapist):
    assert client.get("/v1/reference/emotions", headers=therapist.headers).status_code == 200
    assert_problem(client.get("/v1/reference/emotions"), 401)


@pytest.mark.parametrize(
    "country, expected",
    [
        ("US", {"988", "741741"}),
        ("us", {"988"}),
        ("GB", {"116 123", "85258"}),
        ("CA", {"988"}),
        ("AU", {"13 11 14"}),
        ("NZ", {"1737", "0800 543 354"}),
        ("IE", {"116 123", "50808", "112"}),
        ("IN", {"14416", "112"}),
    ],
)
def test_crisis_resources_by_country(client, patient, country, expected):
    body = client.get(f"/v1/reference/crisis-resources?country={country}", headers=patient.headers).json
    numbers = {value for line in body["resources"] for value in (line["phone"], line["sms"]) if value}
    assert body["country"] == country.upper()
    assert expected <= numbers


def test_uk_means_gb(client, patient):
    body = client.get("/v1/reference/crisis-resources?country=UK", headers=patient.headers).json
    assert body["country"] == "GB" and any(line["name"] == "Samaritans" for line in body["resources"])


def test_unlisted_country_gets_the_international_fallback(client, patient):
    body = client.get("/v1/reference/crisis-resources?country=BR", headers=patient.headers).json
    assert body["country"] is None and body["coverage"] == "international"
    assert any("findahelpline" in (line["url"] or "") for line in body["resources"])


@pytest.mark.parametrize("country", ["DE", "FR", "HU", "SE"])
def test_an_eu_country_without_its_own_list_gets_the_eu_lines(client, patient, country):
    body = client.get(f"/v1/reference/crisis-resources?country={country}", headers=patient.headers).json
    numbers = {line["phone"] for line in body["resources"]}
    assert body["country"] is None and body["coverage"] == "eu" and {"112", "116 123"} <= numbers


def test_every_line_names_the_page_that_publishes_it():
    data = json.loads((BASE_DIR / "api" / "reference" / "crisis_resources.json").read_text())
    lists = [*data["countries"].values(), *(region["resources"] for region in data["regions"].values())]
    for line in (line for resources in lists for line in resources):
        assert line["source"].startswith(("https://", "http://")), line
        assert line["phone"] or line["sms"] or line["url"], line
    assert len(data["regions"]["EU"]["countries"]) == 27
    assert all(len(code) == 2 and code.isupper() for code in data["regions"]["EU"]["countries"])


def test_default_is_the_profile_country(client, make_account):
    patient = make_account(country="AU")
    assert client.get("/v1/reference/crisis-resources", headers=patient.headers).json["country"] == "AU"


def test_invalid_country_is_422(client, patient):
    assert_problem(client.get("/v1/reference/crisis-resources?country=XX", headers=patient.headers), 422)


def test_reflection_prompts_are_data_enough_for_every_theme_and_day_of_two_weeks(client, patient):
    """At least 30 prompts with stable, unique ids; every theme has some; every day of the first
    two weeks after a session has several; the file itself passes the published schema."""
    from api.reference.data import PROMPT_THEMES, reflection_prompts
    from api.reference.schemas import PromptListSchema

    listed = client.get("/v1/reference/prompts", headers=patient.headers)
    assert listed.status_code == 200
    items = listed.json["prompts"]
    assert len(items) >= 30
    assert len({item["id"] for item in items}) == len(items)
    assert {item["theme"] for item in items} == set(PROMPT_THEMES)
    assert all(item["days_from"] <= item["days_to"] and item["text"].strip() for item in items)
    for day in range(15):
        assert len([item for item in items if item["days_from"] <= day <= item["days_to"]]) >= 5, day
    assert PromptListSchema().validate(reflection_prompts()) == {}
    assert items == reflection_prompts()["prompts"]
    assert {item["language"] for item in items} == {"en"}
    assert "crisis-resources" in listed.json["care_note"] and "therapist" in listed.json["care_note"]


def test_prompts_filter_by_theme_day_and_language(client, patient):
    headers = patient.headers
    body = client.get("/v1/reference/prompts?theme=body", headers=headers).json["prompts"]
    assert body and {item["theme"] for item in body} == {"body"}
    day_ten = client.get("/v1/reference/prompts?day=10", headers=headers).json["prompts"]
    assert day_ten and all(item["days_from"] <= 10 <= item["days_to"] for item in day_ten)
    everything = client.get("/v1/reference/prompts", headers=headers).json["prompts"]
    assert [item for item in everything if item["days_from"] <= 10 <= item["days_to"]] == day_ten
    first = client.get("/v1/reference/prompts?day=0&theme=insights&language=en", headers=headers).json
    assert [item["id"] for item in first["prompts"]] == ["insights-what-stood-out", "insights-images"]
    assert client.get("/v1/reference/prompts?day=365", headers=headers).json["prompts"] == []
    assert client.get("/v1/reference/prompts?language=en-GB", headers=headers).json["prompts"] == everything
    assert client.get("/v1/reference/prompts?language=EN", headers=headers).json["prompts"] == everything
    assert client.get("/v1/reference/prompts?language=de", headers=headers).json["prompts"] == []


@pytest.mark.parametrize(
    "query",
    [
        "theme=dreams",
        "day=-1",
        "day=366",
        "day=seven",
        "language=e",
        "language=en_GB",
        "language=AA-00000000-00000000-0000000-0000000",
        "day=1.5",
        "day=%201",
        "day=%2B5",
        "day=%EF%BC%91",
        "day=1_0",
        "theme=",
    ],
)
def test_a_prompt_filter_out_of_range_is_422(client, patient, query):
    assert_problem(client.get(f"/v1/reference/prompts?{query}", headers=patient.headers), 422)


def test_prompts_need_a_signed_in_user_of_either_role(client, therapist):
    assert client.get("/v1/reference/prompts", headers=therapist.headers).status_code == 200
    assert_problem(client.get("/v1/reference/prompts"), 401)
