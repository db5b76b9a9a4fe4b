"""List and sync latency over a journal of 1,000,000+ rows, against a bare Flask endpoint.

Seeds PostgreSQL (BENCH_DATABASE_URL, default the local `bench` database, recreated) with
1,000 patients x 1,000 mood check-ins and 1,000 journal entries each (1 in 10 entries shared
with the care team), one heavy patient with 200,000 check-ins, and a therapist linked to 101
patients. Then times requests through the real app in one process: a bare endpoint (the floor:
Flask, routing, hooks), first and deep list pages for a light and the heavy patient, a
therapist's pages of shared records and of linked patients (each also writing its audit
events), and /v1/sync at the start and deep into the heavy patient's feed.

    .venv/bin/python bench/bench_lists.py            # make bench
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

import flask_migrate
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app  # noqa: E402
from api.encryption import keyring  # noqa: E402
from api.extensions import db  # noqa: E402
from api.sync.service import encode_sync_cursor  # noqa: E402
from config import TestingConfig  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
USERS, PER_USER, HEAVY = 1000, 1000, 200_000
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
PASSWORD = "bench password 123"


def recreate_database():
    name = DATABASE_URL.rsplit("/", 1)[1]
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def seed(app):
    from api.accounts.passwords import passwords

    with app.app_context():
        password_hash = passwords().hash(PASSWORD)
        ring = keyring()
        statements = [
            (
                "INSERT INTO users (id, email, password_hash, display_name, role, timezone, version, created_at, updated_at) "
                "SELECT gen_random_uuid(), 'bench-' || g || '@example.org', :hash, 'Bench ' || g, 'patient', 'UTC', 1, now(), now() "
                "FROM generate_series(0, :users) g",
                {"hash": password_hash, "users": USERS},
            ),
            ("INSERT INTO sync_clocks (user_id, last_seq) SELECT id, 0 FROM users", {}),
            (
                "INSERT INTO moods (id, owner_id, mood, emotions, recorded_at, version, created_at, updated_at, sync_seq) "
                "SELECT gen_random_uuid(), u.id, 1 + g % 10, '[\"calm\"]'::jsonb, now() - g * interval '7 minutes', 1, now(), now(), g "
                "FROM users u CROSS JOIN generate_series(1, :per_user) g WHERE u.email <> 'bench-0@example.org'",
                {"per_user": PER_USER},
            ),
            (
                # Journal text is stored encrypted (api/encryption.py): one ciphertext made here
                # for every row's body and tags, and the tags' blind index.
                "INSERT INTO entries (id, owner_id, body, kind, emotions, tags, tag_index, occurred_at, visibility, version, created_at, updated_at, sync_seq) "
                "SELECT gen_random_uuid(), u.id, :body, 'insight', '[]'::jsonb, "
                ":tags, CAST(:tag_index AS jsonb), now() - g * interval '11 minutes', "
                "CASE WHEN g % 10 = 0 THEN 'care_team' ELSE 'private' END, 1, now(), now(), :per_user + g "
                "FROM users u CROSS JOIN generate_series(1, :per_user) g WHERE u.email <> 'bench-0@example.org'",
                {
                    "per_user": PER_USER,
                    "body": ring.encrypt("An entry: what the session showed me.", "entries.body"),
                    "tags": ring.encrypt(json.dumps(["integration"]), "entries.tags"),
                    "tag_index": "[]",  # per owner: set below for the patient the tag filter is timed for
                },
            ),
            (
                "INSERT INTO moods (id, owner_id, mood, emotions, recorded_at, version, created_at, updated_at, sync_seq) "
                "SELECT gen_random_uuid(), u.id, 1 + g % 10, '[]'::jsonb, now() - g * interval '3 minutes', 1, now(), now(), g "
                "FROM users u CROSS JOIN generate_series(1, :heavy) g WHERE u.email = 'bench-0@example.org'",
                {"heavy": HEAVY},
            ),
            (
                "INSERT INTO users (id, email, password_hash, display_name, role, timezone, version, created_at, updated_at) "
                "VALUES (gen_random_uuid(), 'bench-therapist@example.org', :hash, 'Bench therapist', 'therapist', 'UTC', 1, now(), now())",
                {"hash": password_hash},
            ),
            (
                # The therapist is linked to 100 patients (and bench-500), with every scope.
                "INSERT INTO care_links (id, patient_id, therapist_id, scopes, created_at, updated_at, version) "
                "SELECT gen_random_uuid(), u.id, t.id, "
                '\'["entries", "moods", "assessments", "practices", "sessions"]\'::jsonb, '
                "now() - (substring(u.email from 'bench-([0-9]+)')::int) * interval '1 minute', now(), 1 "
                "FROM users u, users t WHERE t.email = 'bench-therapist@example.org' "
                "AND u.email ~ '^bench-([1-9][0-9]?|100|500)@example.org$'",
                {},
            ),
            (
                "UPDATE sync_clocks SET last_seq = CASE WHEN user_id = (SELECT id FROM users WHERE email = 'bench-0@example.org') "
                "THEN :heavy ELSE 2 * :per_user END",
                {"heavy": HEAVY, "per_user": PER_USER},
            ),
        ]
        for statement, params in statements:
            db.session.execute(text(statement), params)
        light = db.session.execute(
            text("SELECT id FROM users WHERE email = 'bench-500@example.org'")
        ).scalar()
        db.session.execute(
            text("UPDATE entries SET tag_index = CAST(:tag_index AS jsonb) WHERE owner_id = :owner"),
            {"tag_index": json.dumps(ring.index(["integration"], "entries.tags", light)), "owner": light},
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        counts = {
            table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("users", "moods", "entries")
        }
    return counts


def token(client, email):
    response = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json['access_token']}"}


def cursor_after(client, headers, path, skip):
    """The cursor that starts a page `skip` records deep (walked once, not timed)."""
    url, seen = f"{path}?limit=100", 0
    while seen < skip:
        body = client.get(url, headers=headers).json
        seen += 100
        url = (
            f"{path}?limit=20&cursor={body['next_cursor']}"
            if seen >= skip
            else f"{path}?limit=100&cursor={body['next_cursor']}"
        )
    return url


def timed(client, url, headers, n=REQUESTS):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:200])
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main():
    recreate_database()

    class BenchConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = DATABASE_URL
        # Seeding is a few INSERT ... SELECT of a million rows each, past the API's 10 s.
        DB_STATEMENT_TIMEOUT_MS = 0

    app = create_app(BenchConfig)

    @app.route("/bench/bare")
    def bare():
        return {"ok": True}

    with app.app_context():
        flask_migrate.upgrade()
    started = time.perf_counter()
    counts = seed(app)
    seeded_in = time.perf_counter() - started
    client = app.test_client()
    light, heavy = token(client, "bench-500@example.org"), token(client, "bench-0@example.org")
    therapist = token(client, "bench-therapist@example.org")
    with app.app_context():
        light_id = db.session.execute(
            text("SELECT id FROM users WHERE email = 'bench-500@example.org'")
        ).scalar()
    sync_deep = "/v1/sync?limit=100&cursor=" + encode_sync_cursor(150_000)
    cases = [
        ("bare Flask endpoint (floor)", "/bench/bare", light),
        ("moods, first page, light patient (1k)", "/v1/moods", light),
        ("moods, first page, heavy patient (200k)", "/v1/moods", heavy),
        ("moods, page 900 deep, light patient", cursor_after(client, light, "/v1/moods", 900), light),
        ("moods, page 150,000 deep, heavy patient", cursor_after(client, heavy, "/v1/moods", 150_000), heavy),
        ("entries, first page, tag filter", "/v1/entries?tag=integration", light),
        ("therapist: shared entries (1 in 10), first page", f"/v1/patients/{light_id}/entries", therapist),
        ("therapist: shared moods, first page", f"/v1/patients/{light_id}/moods", therapist),
        ("therapist: patient list, 20 patients", "/v1/patients", therapist),
        ("therapist: patient list, 100 patients", "/v1/patients?limit=100", therapist),
        ("sync, first 100 changes, light patient", "/v1/sync?limit=100", light),
        ("sync, 100 changes from seq 150,000, heavy", sync_deep, heavy),
    ]
    print(
        f"rows: {counts} (seeded in {seeded_in:.0f} s); {REQUESTS} requests per case, in-process test client"
    )
    print(f"{'case':48} {'median ms':>10} {'p95 ms':>8} {'median - floor':>15}")
    floor = None
    for name, url, headers in cases:
        median, p95 = timed(client, url, headers)
        floor = median if floor is None else floor
        print(f"{name:48} {median:10.2f} {p95:8.2f} {median - floor:15.2f}")
    with app.app_context():
        plan = (
            db.session.execute(
                text(
                    "EXPLAIN SELECT * FROM moods WHERE owner_id = (SELECT id FROM users WHERE email = 'bench-0@example.org') "
                    "AND deleted_at IS NULL ORDER BY recorded_at DESC, id DESC LIMIT 21"
                )
            )
            .scalars()
            .all()
        )
    print("plan of a first page:\n  " + "\n  ".join(plan))


if __name__ == "__main__":
    main()
