"""Peak memory and time of GET /v1/me/export at 10,000 and 100,000 records, per format.

Seeds one patient per size (records spread over every kind, sessions with two vitals readings,
a flagged PHQ-9 among the assessments) into a database, then measures each export in a fresh
subprocess, so that each peak is its own: the process's peak resident set (VmHWM from
/proc/self/status, else ru_maxrss) once the app is up, signed in and warmed by a bare endpoint
(the baseline), and again after the export has streamed to the end. The body is read chunk by
chunk and counted, never kept. The same subprocess times a bare Flask endpoint (the floor).

    .venv/bin/python bench/bench_export.py          # SQLite file in a temporary directory
    BENCH_EXPORT_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test_export \\
        .venv/bin/python bench/bench_export.py      # drops and recreates that database's schema
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402
from sqlalchemy import create_engine, insert, text, update  # noqa: E402

from api.app import create_app  # noqa: E402
from api.extensions import db  # noqa: E402
from api.records import SyncClock  # noqa: E402
from config import TestingConfig  # noqa: E402

SIZES = tuple(int(size) for size in os.environ.get("BENCH_EXPORT_SIZES", "10000,100000").split(","))
FORMATS = ("json", "csv", "fhir")
PASSWORD = "bench password 123"
# Of every 20 records: 8 moods, 5 entries, 2 sessions, 2 assessments, 2 practices, 1 contact.
MIX = (("moods", 8), ("entries", 5), ("sessions", 2), ("assessments", 2), ("practices", 2), ("contacts", 1))


def config_for(url):
    class BenchConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        RATELIMIT_EXPORT_PER_USER = "1000 per hour"

    return BenchConfig


def email_for(size):
    return f"export-{size}@example.org"


def rows_for(kind, owner_id, n, start):
    moment = start + timedelta(minutes=n)
    common = {
        "id": uuid.uuid4(),
        "owner_id": owner_id,
        "version": 1,
        "created_at": moment,
        "updated_at": moment,
    }
    text_ = f"Record {n}: what the session showed me, and what I want to keep from it. " * 3
    if kind == "moods":
        return {
            **common,
            "mood": 1 + n % 10,
            "energy": 5,
            "anxiety": 3,
            "emotions": ["calm"],
            "recorded_at": moment,
        }
    if kind == "entries":
        return {
            **common,
            "body": text_,
            "title": f"Entry {n}",
            "kind": "insight",
            "emotions": ["hopeful"],
            "tags": ["integration"],
            "occurred_at": moment,
            "visibility": "private",
        }
    if kind == "sessions":
        vitals = [
            {"taken_at": moment.isoformat(), "systolic": 128, "diastolic": 82, "heart_rate": 76},
            {"taken_at": (moment + timedelta(minutes=40)).isoformat(), "heart_rate": 80},
        ]
        return {
            **common,
            "started_at": moment,
            "medicine": "ketamine",
            "route": "iv",
            "dose_mg": 35.0,
            "duration_minutes": 60,
            "side_effects": ["nausea"],
            "vitals": vitals,
            "notes": text_,
        }
    if kind == "assessments":
        return {
            **common,
            "instrument": "phq9",
            "answers": [1, 2, 1, 1, 0, 1, 2, 1, 0],
            "taken_at": moment,
            "score": 9,
            "severity": "mild",
            "safety_flag": False,
        }
    if kind == "practices":
        return {
            **common,
            "practice": "meditation",
            "performed_at": moment,
            "duration_minutes": 20,
            "mood_before": 4,
            "mood_after": 6,
            "notes": text_,
        }
    return {**common, "name": f"Contact {n}", "relationship": "friend", "phone": "+1 555 0100"}


def seed(app, size):
    """One patient with `size` records, inserted in batches (sync numbers in order)."""
    from api.kinds import KINDS

    client = app.test_client()
    body = {"email": email_for(size), "password": PASSWORD, "display_name": "Bench", "role": "patient"}
    owner_id = uuid.UUID(client.post("/v1/auth/register", json=body).json["id"])
    tables = {kind.model.__tablename__: kind.model.__table__ for kind in KINDS}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    per_cycle = sum(weight for _, weight in MIX)
    with app.app_context():
        seq, n = 0, 0
        for kind, weight in MIX:
            count = size * weight // per_cycle
            for first in range(0, count, 5000):
                rows = []
                for _ in range(first, min(first + 5000, count)):
                    seq, n = seq + 1, n + 1
                    rows.append({**rows_for(kind, owner_id, n, start), "sync_seq": seq})
                db.session.execute(insert(tables[kind]), rows)
        db.session.execute(update(SyncClock).where(SyncClock.user_id == owner_id).values(last_seq=seq))
        db.session.commit()
    return n


def peak_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(url, size, export_format):
    """One export in this process: baseline peak, then the export's peak, time and bytes."""
    app = create_app(config_for(url))

    @app.route("/bench/bare")
    def bare():
        return {"ok": True}

    client = app.test_client()
    token = client.post("/v1/auth/login", json={"email": email_for(size), "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        client.get("/bench/bare", headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
    baseline = peak_kib()
    started = time.perf_counter()
    response = client.get(f"/v1/me/export?format={export_format}", headers=headers, buffered=False)
    assert response.status_code == 200, response.status_code
    sent = sum(len(chunk) for chunk in response.iter_encoded())
    response.close()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "baseline_kib": baseline,
                "peak_kib": peak_kib(),
                "seconds": seconds,
                "bytes": sent,
                "bare_ms": statistics.median(samples),
            }
        )
    )


def prepare(url):
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app(config_for(url))
    with app.app_context():
        flask_migrate.upgrade()
    return app


def main():
    url = os.environ.get("BENCH_EXPORT_DATABASE_URL")
    workdir = tempfile.mkdtemp(prefix="bench-export-")
    url = url or f"sqlite:///{workdir}/export.db"
    app = prepare(url)
    print(f"database: {url.split('://')[0]}; one subprocess per export")
    print(
        f"{'records':>8} {'format':<6} {'baseline MiB':>12} {'peak MiB':>9} {'export MiB':>10} "
        f"{'seconds':>8} {'MB out':>7} {'bare ms':>8}"
    )
    results = {}
    for size in SIZES:
        started = time.perf_counter()
        made = seed(app, size)
        seeded = time.perf_counter() - started
        for export_format in FORMATS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, str(size), export_format],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results[(size, export_format)] = result
            baseline, peak = result["baseline_kib"] / 1024, result["peak_kib"] / 1024
            print(
                f"{made:>8} {export_format:<6} {baseline:>12.1f} {peak:>9.1f} {peak - baseline:>10.1f} "
                f"{result['seconds']:>8.2f} {result['bytes'] / 1e6:>7.1f} {result['bare_ms']:>8.2f}"
            )
        print(f"  (seeded {made} records in {seeded:.1f} s)")
    if len(SIZES) >= 2:
        small, large = SIZES[0], SIZES[-1]
        for export_format in FORMATS:
            ratio = results[(large, export_format)]["peak_kib"] / results[(small, export_format)]["peak_kib"]
            print(f"peak at {large} / peak at {small}, {export_format}: {ratio:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
