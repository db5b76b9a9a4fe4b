"""The cost of encryption at rest on create and list: POST /v1/entries and GET /v1/entries?limit=100,
with the journal text encrypted (the app as it runs) and with the same app's encryption turned
off (in this benchmark only: a keyring that stores text as it is and indexes tags by their
case-folded text), against a bare Flask endpoint, plus the raw AES-GCM cost per value (the floor
of what encryption can cost).

Each app gets a database of its own (two SQLite files in a temporary directory, or, with
BENCH_DATABASE_URL, two databases on that PostgreSQL server, dropped and recreated), is seeded
through the API with 200 entries of 1,000 characters, then timed with BENCH_REQUESTS (300)
requests per case through the Flask test client, the two apps' cases interleaved.

    .venv/bin/python bench/bench_encryption.py
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_encryption \\
        .venv/bin/python bench/bench_encryption.py
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from api.app import create_app  # noqa: E402
from api.encryption import Keyring  # noqa: E402
from api.extensions import db  # noqa: E402
from config import TestingConfig  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL")
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SEEDED = 200
PASSWORD = "bench password 123"
BODY = ("In the session I saw my father at the lake house and, for once, I was not angry. " * 13)[:1000]
ENTRY = {"title": "What the lake showed me", "body": BODY, "tags": ["family", "lake", "insight"]}


class PlainKeyring(Keyring):
    """Encryption turned off, for comparison only: the text is stored as it is."""

    def encrypt(self, plaintext, context):
        return plaintext

    def decrypt(self, stored, context):
        return stored

    def digest(self, value, context, key=None):
        return value.casefold()


def database_urls(folder):
    if not DATABASE_URL:
        return {name: f"sqlite:///{folder / f'{name}.db'}" for name in ("encrypted", "plain")}
    base, name = DATABASE_URL.rsplit("/", 1)
    urls = {"encrypted": f"{base}/{name}", "plain": f"{base}/{name}_plain"}
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        for url in urls.values():
            database = url.rsplit("/", 1)[1]
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    return urls


def make_app(url, *, plain):
    class BenchConfig(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        RATELIMIT_DEFAULT = "1000000 per minute"

    app = create_app(BenchConfig)
    if plain:
        app.extensions["data_encryption"] = PlainKeyring.parse(BenchConfig.DATA_ENCRYPTION_KEYS)

    @app.route("/bench/bare")
    def bare():
        return {"ok": True}

    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    account = {"email": "bench@example.org", "password": PASSWORD, "display_name": "Bench", "role": "patient"}
    assert client.post("/v1/auth/register", json=account).status_code == 201
    token = client.post("/v1/auth/login", json={"email": account["email"], "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    for _ in range(SEEDED):
        assert client.post("/v1/entries", headers=headers, json=ENTRY).status_code == 201
    with app.app_context():
        stored = db.session.execute(text("SELECT body FROM entries LIMIT 1")).scalar()
    return app, client, headers, stored


def timed(call, n=REQUESTS):
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def aead_per_value():
    """Microseconds to encrypt and to decrypt one 1,000-character value, the AES-GCM floor."""
    ring = Keyring.parse(TestingConfig.DATA_ENCRYPTION_KEYS)
    sealed = ring.encrypt(BODY, "entries.body")
    n = 20000
    start = time.perf_counter()
    for _ in range(n):
        ring.encrypt(BODY, "entries.body")
    encrypt = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for _ in range(n):
        ring.decrypt(sealed, "entries.body")
    decrypt = (time.perf_counter() - start) / n * 1e6
    return encrypt, decrypt


def main():
    with tempfile.TemporaryDirectory() as folder:
        urls = database_urls(Path(folder))
        apps = {name: make_app(url, plain=name == "plain") for name, url in urls.items()}
        encrypted_stored, plain_stored = apps["encrypted"][3], apps["plain"][3]
        assert encrypted_stored.startswith("v1:") and plain_stored == BODY

        def post(name):
            _, client, headers, _ = apps[name]
            return lambda: _expect(client.post("/v1/entries", headers=headers, json=ENTRY), 201)

        def page(name):
            _, client, headers, _ = apps[name]
            return lambda: _expect(client.get("/v1/entries?limit=100", headers=headers), 200)

        def bare(name):
            _, client, headers, _ = apps[name]
            return lambda: _expect(client.get("/bench/bare", headers=headers), 200)

        backend = "PostgreSQL" if DATABASE_URL else "SQLite"
        print(
            f"{backend}; {SEEDED} entries of {len(BODY)} characters seeded per app; {REQUESTS} requests per case"
        )
        print(f"{'case':44} {'median ms':>10} {'p95 ms':>8} {'median - floor':>15}")
        floor = None
        results = {}
        cases = [
            ("bare Flask endpoint (floor)", bare("encrypted")),
            ("GET /v1/entries?limit=100, plain", page("plain")),
            ("GET /v1/entries?limit=100, encrypted", page("encrypted")),
            ("POST /v1/entries, plain", post("plain")),
            ("POST /v1/entries, encrypted", post("encrypted")),
        ]
        for name, call in cases:
            median, p95 = timed(call)
            floor = median if floor is None else floor
            results[name] = median
            print(f"{name:44} {median:10.2f} {p95:8.2f} {median - floor:15.2f}")
        encrypt, decrypt = aead_per_value()
        print(
            f"AES-256-GCM per {len(BODY)}-character value: encrypt {encrypt:.1f} us, decrypt {decrypt:.1f} us "
            f"(a page of 100 entries decrypts 300 values: title, body, tags)"
        )
        for operation in ("GET /v1/entries?limit=100", "POST /v1/entries"):
            plain, encrypted = results[f"{operation}, plain"], results[f"{operation}, encrypted"]
            print(
                f"{operation}: encryption adds {encrypted - plain:.2f} ms per request "
                f"({(encrypted - plain) / plain * 100:.0f}%)"
            )
        for app, *_ in apps.values():
            with app.app_context():
                db.engine.dispose()
        if DATABASE_URL:
            engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as connection:
                for url in urls.values():
                    connection.execute(
                        text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
                    )
            engine.dispose()


def _expect(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:200])


if __name__ == "__main__":
    main()
