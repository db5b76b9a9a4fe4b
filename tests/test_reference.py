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


# --- the instrument registry --------------------------------------------------------------------


def test_instruments_are_the_registry_as_published(client, patient):
    """PHQ-9, GAD-7 and PCL-5 with their items, answer options, bands, threshold, safety rule and
    LOINC codes; the file passes the published schema, and the answer is the file."""
    from api.reference.schemas import InstrumentListSchema

    listed = client.get("/v1/reference/instruments", headers=patient.headers)
    assert listed.status_code == 200
    document = json.loads((BASE_DIR / "api" / "reference" / "instruments.json").read_text())
    assert InstrumentListSchema().validate(document) == {}
    assert listed.json == document
    by_id = {entry["id"]: entry for entry in listed.json["instruments"]}
    assert list(by_id) == ["phq9", "gad7", "pcl5"]
    assert {key: len(entry["items"]) for key, entry in by_id.items()} == {"phq9": 9, "gad7": 7, "pcl5": 20}
    assert [option["value"] for option in by_id["pcl5"]["answer_options"]] == [0, 1, 2, 3, 4]
    assert [option["label"] for option in by_id["pcl5"]["answer_options"]] == [
        "Not at all",
        "A little bit",
        "Moderately",
        "Quite a bit",
        "Extremely",
    ]
    bands = {
        key: [(b["min"], b["max"], b["severity"]) for b in entry["bands"]] for key, entry in by_id.items()
    }
    assert bands == {
        "phq9": [
            (0, 4, "minimal"),
            (5, 9, "mild"),
            (10, 14, "moderate"),
            (15, 19, "moderately_severe"),
            (20, 27, "severe"),
        ],
        "gad7": [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")],
        "pcl5": [],
    }
    assert [(e["min_total"], e["max_total"]) for e in by_id.values()] == [(0, 27), (0, 21), (0, 80)]
    assert by_id["pcl5"]["threshold"]["min_total"] == 33
    assert by_id["phq9"]["threshold"] is None and by_id["gad7"]["threshold"] is None
    assert by_id["phq9"]["safety_rule"]["item"] == 9 and by_id["phq9"]["safety_rule"]["min_answer"] == 1
    assert by_id["gad7"]["safety_rule"] is None and by_id["pcl5"]["safety_rule"] is None
    totals = {key: entry["loinc_total"]["code"] for key, entry in by_id.items()}
    assert totals == {"phq9": "44261-6", "gad7": "70274-6", "pcl5": "101698-9"}
    assert by_id["pcl5"]["loinc_form"]["code"] == "101697-1"
    # PCL-5's item and answer codes were not verified: published as null, not guessed
    assert {item["loinc"] for item in by_id["pcl5"]["items"]} == {None}
    assert all(item["loinc"] for key in ("phq9", "gad7") for item in by_id[key]["items"])
    assert by_id["pcl5"]["items"][17]["text"] == "Feeling jumpy or easily startled?"
    assert "public domain" in by_id["pcl5"]["source"]["copyright"]
    assert "Pfizer" in by_id["phq9"]["source"]["copyright"]


@pytest.mark.parametrize("instrument", ["phq9", "gad7", "pcl5"])
def test_one_instrument_by_its_id(client, therapist, instrument):
    everything = client.get("/v1/reference/instruments", headers=therapist.headers).json["instruments"]
    one = client.get(f"/v1/reference/instruments/{instrument}", headers=therapist.headers)
    assert one.status_code == 200
    assert one.json == next(entry for entry in everything if entry["id"] == instrument)


@pytest.mark.parametrize("instrument", ["bdi", "PHQ9", "phq", "x" * 32, "x" * 33])
def test_an_instrument_that_is_not_in_the_registry_is_404(client, patient, instrument):
    assert_problem(client.get(f"/v1/reference/instruments/{instrument}", headers=patient.headers), 404)


def test_instruments_need_a_signed_in_user(client):
    assert_problem(client.get("/v1/reference/instruments"), 401)
    assert_problem(client.get("/v1/reference/instruments/pcl5"), 401)
    assert_problem(client.get("/v1/reference/instruments/bdi"), 401)
