"""Worker memory of the API under gunicorn, at start and after a few hundred requests.

    .venv/bin/python -m bench.rss

Starts `wsgi:app` the way bench/stack/run.py does (the API's gunicorn.conf.py, gthread,
WEB_CONCURRENCY=2 workers x GUNICORN_THREADS=4 threads, APP_ENV=production, no REDIS_URL) on a
fresh SQLite file in a temporary folder migrated with `flask db upgrade`. Once every worker has
loaded the app it prints each worker's memory; then it registers and signs in a patient over HTTP,
sends REQUESTS (300) requests, CONCURRENCY (4) at a time, of a mix of mood and entry lists and
creates and sync pages, then GET /openapi.json once and one export in each format (json, csv,
fhir), and prints each worker's memory again.

Per worker: VmRSS from /proc/<pid>/status (resident pages, shared ones included), and from
/proc/<pid>/smaps_rollup Pss (shared pages divided among the processes that share them) and
Private (Private_Clean + Private_Dirty: what this worker alone holds); the same for the master,
and the sum of their Pss (the instance's memory).

Environment: REQUESTS, CONCURRENCY, WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_CMD_ARGS (passed
to gunicorn), RSS_GUNICORN_CONFIG (another config file to compare with, e.g. one that runs
gunicorn.conf.py and sets `preload_app = False`), RSS_OUT (keep the server log and database
there), RSS_DATABASE_URL (instead of the SQLite file, a PostgreSQL database to migrate and write
to, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test_rss: one you can throw away).
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.stack.run import ENTRY, MOOD, app_env, migrate

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"

REQUESTS = int(os.environ.get("REQUESTS", "300"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "4"))
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "2"))
PASSWORD = "rss bench passphrase 2026"

# One round of the mix: (method, path, body, expected status).
MIX = [
    ("GET", "/v1/moods", None, 200),
    ("POST", "/v1/moods", MOOD, 201),
    ("GET", "/v1/entries", None, 200),
    ("POST", "/v1/entries", ENTRY, 201),
    ("GET", "/v1/sync?limit=100", None, 200),
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory(pid):
    """(VmRSS, Pss, Private) of one process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    field = {name: int(kb) for name, kb in re.findall(r"^(\w+):\s+(\d+) kB", rollup, re.M)}
    private = field.get("Private_Clean", 0) + field.get("Private_Dirty", 0)
    return rss / 1024, field.get("Pss", 0) / 1024, private / 1024


def workers(master):
    found = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True)
    return sorted(int(pid) for pid in found.stdout.split())


def wait_until_loaded(master, port, log):
    """The port answers and every worker's RSS has held still for a second (the app is loaded)."""
    deadline = time.monotonic() + 60
    last, steady_since = None, None
    while time.monotonic() < deadline:
        if master.poll() is not None:
            sys.exit(f"rss: gunicorn exited while starting; see {log}")
        pids = workers(master)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                listening = True
        except OSError:
            listening = False
        sizes = [memory(pid)[0] for pid in pids] if len(pids) == WORKERS else None
        if listening and sizes and sizes == last:
            steady_since = steady_since or time.monotonic()
            if time.monotonic() - steady_since >= 1:
                return pids
        else:
            steady_since = None
        last = sizes
        time.sleep(0.25)
    sys.exit(f"rss: the workers did not settle within 60 s; see {log}")


def call(base, method, path, body=None, token=None, expect=200):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, data = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    if status != expect:
        sys.exit(f"rss: {method} {path} answered {status}, expected {expect}: {data[:300]!r}")
    return data


def load(base):
    email = f"rss-patient-{secrets.token_hex(4)}@example.org"  # a database may be used again
    register = {"email": email, "password": PASSWORD, "display_name": "RSS patient", "role": "patient"}
    call(base, "POST", "/v1/auth/register", register, expect=201)
    login = json.loads(call(base, "POST", "/v1/auth/login", {"email": email, "password": PASSWORD}))
    token = login["access_token"]

    def one(number):
        method, path, body, expect = MIX[number % len(MIX)]
        call(base, method, path, body, token, expect)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, range(REQUESTS)))
    call(base, "GET", "/openapi.json")
    for export_format in ("json", "csv", "fhir"):
        call(base, "GET", f"/v1/me/export?format={export_format}", token=token)
    return REQUESTS + 2 + 1 + 3


def report(label, master, pids):
    """Each worker's memory, the master's, and the Pss of them all: what the instance takes."""
    print(f"{label}:")
    total = 0.0
    for name, pid in [*(("worker", pid) for pid in pids), ("master", master.pid)]:
        rss, pss, private = memory(pid)
        total += pss
        print(f"  {name} {pid}: VmRSS {rss:6.1f} MB  Pss {pss:6.1f} MB  Private {private:6.1f} MB")
    print(f"  Pss of the master and its workers: {total:6.1f} MB")


def main():
    keep = os.environ.get("RSS_OUT")
    out = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-rss."))
    out.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("RSS_DATABASE_URL") or f"sqlite:///{out / 'rss.db'}"
    env = {**app_env(database_url, out), "WEB_CONCURRENCY": str(WORKERS)}
    log = out / "gunicorn.log"
    master = None
    try:
        with (out / "migrate.log").open("w") as migrate_log:
            migrate(env, migrate_log)
        port = free_port()
        master = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                os.environ.get("RSS_GUNICORN_CONFIG") or str(ROOT / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            env={**env, "PORT": str(port)},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        pids = wait_until_loaded(master, port, log)
        database = env["DATABASE_URL"].split(":")[0].split("+")[0]
        extra = "".join(
            f", {name}={env[name]!r}"
            for name in ("RSS_GUNICORN_CONFIG", "GUNICORN_CMD_ARGS")
            if env.get(name)
        )
        print(
            f"gunicorn gthread {WORKERS} workers x {env['GUNICORN_THREADS']} threads, {database}, "
            f"APP_ENV=production{extra}"
        )
        report("after start", master, pids)
        started = time.monotonic()
        sent = load(f"http://127.0.0.1:{port}")
        print(f"{sent} requests in {time.monotonic() - started:.1f} s")
        if workers(master) != pids:
            sys.exit("rss: a worker was replaced during the run; see the log")
        report("after the requests", master, pids)
    finally:
        if master is not None and master.poll() is None:
            master.send_signal(signal.SIGTERM)
            try:
                master.wait(30)
            except subprocess.TimeoutExpired:
                master.kill()
                master.wait()
        if not keep:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
