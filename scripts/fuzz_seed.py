"""Seed the fuzz server (scripts/fuzz.sh): a patient and a therapist, linked, and a few records.

Through the API only, as a client would: register both, sign in, the therapist creates an
invitation, the patient redeems its code at POST /v1/care-team with every scope, then the patient
writes one record of each journal kind (the entry shared with the care team) and a PHQ-9 that
opens a safety event, and the therapist keeps one open invitation, so that lists and reads as
either role find something.

Usage: fuzz_seed.py BASE_URL PASSWORD PATIENT_EMAIL THERAPIST_EMAIL
Prints `FUZZ_PATIENT_ID=`, `FUZZ_SESSION_ID=` and `FUZZ_EVENT_ID=` lines (uuids) for the caller.
"""

import json
import sys
import urllib.error
import urllib.request


def call(base_url, method, path, body=None, token=None, expect=(200, 201, 204)):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base_url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in expect:
        sys.exit(f"seed: {method} {path} answered {status}: {text[:500]}")
    return json.loads(text) if text else None


def main(base_url, password, patient_email, therapist_email):
    base_url = base_url.rstrip("/")
    accounts = {}
    for role, email in (("patient", patient_email), ("therapist", therapist_email)):
        user = call(
            base_url,
            "POST",
            "/v1/auth/register",
            {"email": email, "password": password, "display_name": f"Fuzz {role}", "role": role},
        )
        tokens = call(base_url, "POST", "/v1/auth/login", {"email": email, "password": password})
        accounts[role] = (user["id"], tokens["access_token"])
    patient_id, patient = accounts["patient"]
    _, therapist = accounts["therapist"]

    invitation = call(base_url, "POST", "/v1/invitations", token=therapist)
    scopes = ["sessions", "entries", "moods", "practices", "assessments", "plan"]
    call(base_url, "POST", "/v1/care-team", {"code": invitation["code"], "scopes": scopes}, token=patient)
    call(base_url, "POST", "/v1/invitations", token=therapist)  # one left open

    session = call(
        base_url, "POST", "/v1/sessions", {"started_at": "2026-03-01T09:00:00+01:00"}, token=patient
    )
    records = {
        "/v1/entries": {"body": "Felt the fog lift.", "visibility": "care_team", "session_id": session["id"]},
        "/v1/moods": {"mood": 6},
        "/v1/contacts": {"name": "Sam", "relationship": "friend"},
        "/v1/practices": {"practice": "meditation", "performed_at": "2026-03-02T07:00:00Z"},
        "/v1/assessments": {"instrument": "gad7", "answers": [1, 1, 1, 1, 1, 1, 1]},
    }
    for path, body in records.items():
        call(base_url, "POST", path, body, token=patient)
    # A PHQ-9 with item 9 above 0: a safety event for the therapist to read and acknowledge.
    flagged = {"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 1, 1, 1]}
    call(base_url, "POST", "/v1/assessments", flagged, token=patient)
    (event,) = call(base_url, "GET", "/v1/safety-events", token=therapist)["items"]

    print(f"FUZZ_PATIENT_ID={patient_id}")
    print(f"FUZZ_SESSION_ID={session['id']}")
    print(f"FUZZ_EVENT_ID={event['id']}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
