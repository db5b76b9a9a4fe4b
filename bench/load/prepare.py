"""Accounts for a load run, made through the API before the timed part: patients, therapists, links.

Registers `--patients` patients and `--therapists` therapists (e-mail addresses carry the run id,
so runs never collide), signs each therapist in, and links every patient to one therapist (round
robin) through an invitation code, with every scope. Writes the accounts to `--out` (JSON), which
the locustfile and verify.py read.

    .venv-load/bin/python bench/load/prepare.py --base-url http://127.0.0.1:8080 \
        --patients 32 --therapists 4 --run-id 20261122T101500 --out bench/load/out/accounts.json
"""

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import requests

PASSWORD = "load test passphrase 2026"
SCOPES = ["entries", "moods", "assessments", "practices", "sessions"]


class Api:
    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()

    def call(self, method, path, *, expect, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, self.base_url + path, headers=headers, timeout=60, **kwargs)
        if response.status_code != expect:
            sys.exit(
                f"prepare: {method} {path} answered {response.status_code}, expected {expect}: "
                f"{response.text[:300]}"
            )
        return response.json() if response.content else None


def register(api, run_id, role, number):
    email = f"load-{run_id}-{role}-{number}@example.org"
    user = api.call(
        "POST",
        "/v1/auth/register",
        expect=201,
        json={
            "email": email,
            "password": PASSWORD,
            "display_name": f"Load {role} {number}",
            "role": role,
            "timezone": "Europe/Berlin",
            "country": "DE",
        },
    )
    return {"id": user["id"], "email": email, "password": PASSWORD, "role": role}


def sign_in(api, account):
    return api.call(
        "POST", "/v1/auth/login", expect=200, json={"email": account["email"], "password": PASSWORD}
    )["access_token"]


def link(api, patient, therapist, therapist_token):
    code = api.call("POST", "/v1/invitations", expect=201, token=therapist_token)["code"]
    api.call(
        "POST",
        "/v1/care-team",
        expect=201,
        token=sign_in(api, patient),
        json={"code": code, "scopes": SCOPES},
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--therapists", type=int, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    api = Api(args.base_url)

    # A few at a time: registration and sign-in each hash a password with argon2id.
    with ThreadPoolExecutor(max_workers=4) as pool:
        patients = list(pool.map(lambda n: register(api, args.run_id, "patient", n), range(args.patients)))
        therapists = list(
            pool.map(lambda n: register(api, args.run_id, "therapist", n), range(args.therapists))
        )
        tokens = list(pool.map(lambda t: sign_in(api, t), therapists))
        pairs = [(p, i % len(therapists)) for i, p in enumerate(patients)]
        list(pool.map(lambda pair: link(api, pair[0], therapists[pair[1]], tokens[pair[1]]), pairs))
    for patient, therapist_index in pairs:
        patient["therapist_id"] = therapists[therapist_index]["id"]

    with open(args.out, "w") as out:
        json.dump({"run_id": args.run_id, "patients": patients, "therapists": therapists}, out, indent=1)
    print(f"prepare: {len(patients)} patients and {len(therapists)} therapists registered and linked")


if __name__ == "__main__":
    main()
