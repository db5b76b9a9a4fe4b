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
