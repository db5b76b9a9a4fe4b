"""Insight latency for a patient with 100,000 mood check-ins, against a bare Flask endpoint.

Seeds, in SQL, one patient (profile zone Europe/Berlin) with 100,000 check-ins every 5 minutes
over the year up to 2026-11-20 (a third without a zone, a third in America/Los_Angeles, a third in
Asia/Tokyo, so three zones and both clock changes of each are in every long range), 1,000
practices and 60 treatment sessions with a PHQ-9 and a GAD-7 on either side of each, and a
therapist linked with every scope. Then times requests through the real app in one process.

Runs on PostgreSQL (BENCH_DATABASE_URL, default the local `bench_insights` database, dropped and
recreated; BENCH_ADMIN_URL is the connection that does it) or, with BENCH_SQLITE=1, on a new
SQLite file.

    .venv/bin/python bench/bench_insights.py
    BENCH_SQLITE=1 .venv/bin/python bench/bench_insights.py
"""

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import flask_migrate
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app  # noqa: E402
from api.extensions import db  # noqa: E402
from config import TestingConfig  # noqa: E402

SQLITE = os.environ.get("BENCH_SQLITE") == "1"
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_insights"
)
CHECKINS, PRACTICES, SESSIONS = 100_000, 1_000, 60
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "50"))
PASSWORD = "bench password 123"
END = "2026-11-20 12:00:00"


def recreate_database():
    name = DATABASE_URL.rsplit("/", 1)[1]
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


# The dialects' spellings of: a new id, a series 1..n as `g`, and END minus some minutes.
if SQLITE:
    NEW_ID = "lower(hex(randomblob(16)))"
    SERIES = "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT g FROM s) AS series"

    def minutes_before(minutes):
        return f"(strftime('%Y-%m-%d %H:%M:%S', '{END}', (-({minutes})) || ' minutes') || '.000000')"

    EMPTY_LIST = "'[]'"
else:
    NEW_ID = "gen_random_uuid()"
    SERIES = "generate_series(1, {n}) AS g"

    def minutes_before(minutes):
        return f"(timestamptz '{END}+00' - ({minutes}) * interval '1 minute')"

    EMPTY_LIST = "'[]'::jsonb"


def series(n):
    return SERIES.format(n=n)


def seed(client, app):
    patient = register(client, "patient", "bench-patient@example.org", timezone="Europe/Berlin")
    therapist = register(client, "therapist", "bench-therapist@example.org")
    code = client.post("/v1/invitations", headers=therapist).json["code"]
    scopes = ["entries", "moods", "assessments", "practices", "sessions"]
    assert (
        client.post("/v1/care-team", headers=patient, json={"code": code, "scopes": scopes}).status_code
        == 201
    )
    owner = "(SELECT id FROM users WHERE email = 'bench-patient@example.org')"
    zone = "CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN 'America/Los_Angeles' ELSE 'Asia/Tokyo' END"
    answers = "'[1, 1, 1, 1, 1, 1, 1]'" if SQLITE else "'[1, 1, 1, 1, 1, 1, 1]'::jsonb"
    statements = [
        f"INSERT INTO moods (id, owner_id, mood, emotions, recorded_at, timezone, version, created_at, updated_at, sync_seq) "
        f"SELECT {NEW_ID}, {owner}, 1 + g % 10, {EMPTY_LIST}, {minutes_before('g * 5')}, {zone}, 1, "
        f"{minutes_before('0')}, {minutes_before('0')}, 1000 + g FROM {series(CHECKINS)}",
        f"INSERT INTO practices (id, owner_id, practice, performed_at, duration_minutes, mood_before, mood_after, version, created_at, updated_at, sync_seq) "
        f"SELECT {NEW_ID}, {owner}, CASE g % 4 WHEN 0 THEN 'meditation' WHEN 1 THEN 'yoga' WHEN 2 THEN 'breathwork' ELSE 'nature' END, "
        f"{minutes_before('g * 521')}, 10 + g % 50, 1 + g % 7, 3 + g % 8, 1, "
        f"{minutes_before('0')}, {minutes_before('0')}, 200000 + g FROM {series(PRACTICES)}",
        f"INSERT INTO sessions (id, owner_id, started_at, medicine, side_effects, vitals, version, created_at, updated_at, sync_seq) "
        f"SELECT {NEW_ID}, {owner}, {minutes_before('g * 8640')}, 'ketamine', {EMPTY_LIST}, {EMPTY_LIST}, 1, "
        f"{minutes_before('0')}, {minutes_before('0')}, 300000 + g FROM {series(SESSIONS)}",
        # A PHQ-9 and a GAD-7 2 days before and 2 days after each session (every 6 days).
        f"INSERT INTO assessments (id, owner_id, instrument, answers, taken_at, score, severity, safety_flag, version, created_at, updated_at, sync_seq) "
        f"SELECT {NEW_ID}, {owner}, CASE WHEN g % 2 = 0 THEN 'phq9' ELSE 'gad7' END, {answers}, "
        f"{minutes_before('(g / 4) * 8640 + CASE WHEN g % 4 < 2 THEN 2880 ELSE -2880 END')}, 7, 'mild', false, 1, "
        f"{minutes_before('0')}, {minutes_before('0')}, 400000 + g FROM {series(SESSIONS * 4)}",
        f"UPDATE sync_clocks SET last_seq = 500000 WHERE user_id = {owner}",
    ]
    with app.app_context():
        for statement in statements:
            db.session.execute(text(statement))
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        counts = {
            table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("moods", "practices", "sessions", "assessments")
        }
        patient_id = db.session.execute(text(f"SELECT id FROM users WHERE id = {owner}")).scalar()
    return patient, therapist, patient_id, counts


def register(client, role, email, **fields):
    body = {"email": email, "password": PASSWORD, "display_name": "Bench", "role": role, **fields}
    assert client.post("/v1/auth/register", json=body).status_code == 201
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json
    return {"Authorization": f"Bearer {login['access_token']}"}


def timed(client, url, headers, n=REQUESTS):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:200])
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def main():
    if SQLITE:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-insights-')}/bench.db"
    else:
        recreate_database()
        url = DATABASE_URL

    class BenchConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(BenchConfig)

    @app.route("/bench/bare")
    def bare():
        return {"ok": True}

    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    started = time.perf_counter()
    patient, therapist, patient_id, counts = seed(client, app)
    seeded_in = time.perf_counter() - started
    patient_id = uuid.UUID(str(patient_id))  # SQLite gives it as 32 hex digits
    shared = f"/v1/patients/{patient_id}/insights"
    year = "from=2025-11-20&to=2026-11-20"
    cases = [
        ("bare Flask endpoint (floor)", "/bench/bare", patient),
        ("moods list, first page (for scale)", "/v1/moods", patient),
        (
            "mood by day, 30 days (~8,600 check-ins)",
            "/v1/insights/mood?from=2026-10-22&to=2026-11-20",
            patient,
        ),
        ("mood by day, 366 days (100,000)", "/v1/insights/mood?from=2025-11-19&to=2026-11-19", patient),
        ("mood by week, 53 weeks (100,000)", f"/v1/insights/mood?bucket=week&{year}", patient),
        (
            "mood by week, 260 weeks (100,000)",
            "/v1/insights/mood?bucket=week&from=2021-12-20&to=2026-12-13",
            patient,
        ),
        ("therapist: mood by day, 366 days", f"{shared}/mood?from=2025-11-19&to=2026-11-19", therapist),
        ("practices (1,000)", "/v1/insights/practices", patient),
        ("therapist: practices", f"{shared}/practices", therapist),
        ("sessions, first page of 20", "/v1/insights/sessions", patient),
        ("sessions, page of 60", "/v1/insights/sessions?limit=60", patient),
        ("therapist: sessions, first page", f"{shared}/sessions", therapist),
    ]
    engine = "SQLite" if SQLITE else "PostgreSQL"
    print(f"{engine}; rows: {counts} (seeded in {seeded_in:.0f} s); {REQUESTS} requests per case")
    print(f"{'case':48} {'median ms':>10} {'p95 ms':>8} {'median - floor':>15}")
    floor = None
    for name, path, headers in cases:
        median, p95 = timed(client, path, headers)
        floor = median if floor is None else floor
        print(f"{name:48} {median:10.2f} {p95:8.2f} {median - floor:15.2f}")


if __name__ == "__main__":
    main()
