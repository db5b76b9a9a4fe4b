"""Seed the database of one `make bench-stack` run through the API itself (Flask test client):
a patient with 120 mood check-ins and 120 journal entries, a therapist linked to them with every
scope, and fresh access tokens for both. Prints JSON for run.py. The environment is the servers'
(APP_ENV, DATABASE_URL, JWT_SECRET_KEY, DATA_ENCRYPTION_KEYS, raised rate limits), so the tokens
work on the API and on the floor app alike."""

import json
import sys

from api.app import create_app

PASSWORD = "bench stack passphrase 2026"
RECORDS = 120


def call(client, method, path, *, expect, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.open(path, method=method, headers=headers, **kwargs)
    if response.status_code != expect:
        sys.exit(
            f"seed: {method} {path} answered {response.status_code}, expected {expect}: {response.text[:300]}"
        )
    return response


def account(client, role):
    email = f"bench-stack-{role}@example.org"
    body = {"email": email, "password": PASSWORD, "display_name": f"Bench {role}", "role": role}
    user = call(client, "POST", "/v1/auth/register", expect=201, json=body).get_json()
    login = call(client, "POST", "/v1/auth/login", expect=200, json={"email": email, "password": PASSWORD})
    return user["id"], login.get_json()["access_token"]


def main():
    app = create_app()
    client = app.test_client()
    patient_id, patient = account(client, "patient")
    therapist_id, therapist = account(client, "therapist")
    code = call(client, "POST", "/v1/invitations", expect=201, token=therapist).get_json()["code"]
    scopes = ["entries", "moods", "assessments", "practices", "sessions"]
    call(client, "POST", "/v1/care-team", expect=201, token=patient, json={"code": code, "scopes": scopes})
    mood = None
    for number in range(RECORDS):
        mood = call(
            client,
            "POST",
            "/v1/moods",
            expect=201,
            token=patient,
            json={"mood": 1 + number % 10, "energy": 5, "emotions": ["calm"], "note": f"Check-in {number}."},
        )
        call(
            client,
            "POST",
            "/v1/entries",
            expect=201,
            token=patient,
            json={
                "body": f"Integration note {number}: a walk by the river after the session.",
                "title": "After the session",
                "tags": ["walk", "river"],
                "visibility": "care_team" if number % 2 else "private",
            },
        )
    assert mood is not None
    print(
        json.dumps(
            {
                "patient_id": patient_id,
                "therapist_id": therapist_id,
                "patient_token": patient,
                "therapist_token": therapist,
                "mood_id": mood.get_json()["id"],
                "mood_etag": mood.headers["ETag"],
            }
        )
    )


if __name__ == "__main__":
    main()
