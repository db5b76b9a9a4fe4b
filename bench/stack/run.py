"""`make bench-stack`: bare, floor and API side by side with wrk, on SQLite and on PostgreSQL.

For each database: a fresh database (a SQLite file in a temporary folder; the PostgreSQL database
BENCH_STACK_DATABASE, default `bench_stack`, dropped and recreated), migrated with `flask db
upgrade`, seeded through the API (seed.py), then three gunicorn servers with the API's own
gunicorn.conf.py (WEB_CONCURRENCY=2 workers, GUNICORN_THREADS=4 threads, gthread): bare.py, floor.py and
wsgi:app (APP_ENV=production, its per-IP limits raised for the run). Each case runs DURATION
seconds (10) of wrk, THREADS (2) threads x CONNECTIONS (16) connections, after WARMUP seconds
(2) of the same load, in ROUNDS (3) passes over all cases of DURATION / ROUNDS seconds each; the
table shows each measure's median over the rounds. Prints one table per database: req/s, p50,
p99, answers other than the expected status, and the ratios the issue sets targets for.

Environment: DURATION, WARMUP, THREADS, CONNECTIONS, DATABASES (`sqlite,postgresql`), CASES (run
only the cases whose name holds one of these words, and the moods list: `CASES=therapist,create`),
BENCH_STACK_DATABASE, BENCH_STACK_ADMIN_URL (postgresql://postgres@127.0.0.1:5432/postgres),
BENCH_STACK_OUT (where server logs and wrk outputs go; default a temporary folder, removed),
BENCH_WORKER_CONNECTIONS (each worker's share of the connections; default an equal share),
BENCH_STACK_PROFILE=1 (record the API's first worker with py-spy during each API case: needs
py-spy on PATH).
"""

import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
LUA = str(ROOT / "bench" / "stack" / "request.lua")

DURATION = int(os.environ.get("DURATION", "10"))
WARMUP = int(os.environ.get("WARMUP", "2"))
THREADS = int(os.environ.get("THREADS", "2"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
DATABASES = os.environ.get("DATABASES", "sqlite,postgresql").split(",")
PG_DATABASE = os.environ.get("BENCH_STACK_DATABASE", "bench_stack")
PG_ADMIN = os.environ.get("BENCH_STACK_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PROFILE = os.environ.get("BENCH_STACK_PROFILE") == "1"
ROUNDS = int(os.environ.get("ROUNDS", "3"))
ONLY = [word for word in os.environ.get("CASES", "").split(",") if word]  # cases whose name holds one

MOOD = {
    "mood": 7,
    "energy": 6,
    "anxiety": 3,
    "sleep_hours": 7.5,
    "emotions": ["calm", "hopeful"],
    "note": "Slept well after Tuesday's session; the heaviness in my chest has eased.",
    "timezone": "Europe/Berlin",
}
ENTRY = {
    "body": "In the session I saw my father at the lake house and, for once, I was not angry. "
    "I want to call him this week.",
    "title": "What the lake showed me",
    "kind": "insight",
    "emotions": ["tender", "hopeful"],
    "tags": ["family", "insight"],
    "visibility": "care_team",
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, name, app, env, out):
        self.name, self.port = name, free_port()
        self.log = out / f"{name}.log"
        self.process = subprocess.Popen(
            [GUNICORN, "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{self.port}", app],
            env={**env, "PORT": str(self.port)},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def workers(self):
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split()]

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wrk(url, env, seconds):
    completed = subprocess.run(
        [
            "wrk",
            "-t",
            str(THREADS),
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            LUA,
            url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout


def cpu_seconds(pids):
    """The user and system CPU time the processes have used so far (/proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:  # a worker gunicorn replaced: its time is gone with it
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(name, url, env, out, *, expect, seconds, warmup, workers, profile_pid=None):
    if warmup:
        wrk(url, env, WARMUP)
    cpu = cpu_seconds(workers)
    spy = None
    if profile_pid:
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(profile_pid),
                "--duration",
                str(seconds),
                "--format",
                "raw",
                "--output",
                str(out / f"profile-{name}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    text = wrk(url, env, seconds)
    cpu = cpu_seconds(workers) - cpu
    if spy:
        spy.wait()
    with (out / f"wrk-{name}.txt").open("a") as log:
        log.write(text)
    result = dict(re.findall(r"(\w+)=(\d+)", re.search(r"^RESULT (.*)$", text, re.M).group(1)))
    statuses = dict(re.findall(r"(\d+)=(\d+)", re.search(r"^STATUSES (.*)$", text, re.M).group(1)))
    requests = int(result["requests"])
    unexpected = requests - int(statuses.get(str(expect), 0)) + int(result["errors"])
    return {
        "rps": requests / (int(result["duration_us"]) / 1e6),
        "p50": int(result["p50_us"]) / 1000,
        "p99": int(result["p99_us"]) / 1000,
        "unexpected": unexpected,
        "statuses": statuses,
        "cpu_ms": cpu / max(requests, 1) * 1000,
    }


def combine(rows):
    """One figure of a case's rounds: the median of each measure, every unexpected answer."""
    return {
        "rps": statistics.median(row["rps"] for row in rows),
        "p50": statistics.median(row["p50"] for row in rows),
        "p99": statistics.median(row["p99"] for row in rows),
        "unexpected": sum(row["unexpected"] for row in rows),
        "cpu_ms": statistics.median(row["cpu_ms"] for row in rows),
        "rounds": [round(row["rps"]) for row in rows],
    }


def refresh_statistics(kind, name=PG_DATABASE):
    """PostgreSQL: ANALYZE the database before each case, as autovacuum would in production.

    The creates add thousands of records to one patient within seconds; with no statistics
    newer than the seed (and autovacuum off on the shared server here), the planner took that
    patient for one with 55 records and read every record and sorted them for each page, where
    an index gives the first 20 in order: the lists of later rounds ran at 60% of the first.
    """
    if kind == "postgresql":
        admin = PG_ADMIN.rpartition("/")[0] + f"/{name}"
        subprocess.run(["psql", admin, "-q", "-v", "ON_ERROR_STOP=1", "-c", "ANALYZE"], check=True)


def prepare_database(kind, work, name=PG_DATABASE):
    """A new database: a SQLite file in `work`, or the PostgreSQL database `name`, dropped and
    recreated."""
    if kind == "sqlite":
        return f"sqlite:///{work / 'bench.db'}"
    for statement in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", PG_ADMIN, "-q", "-v", "ON_ERROR_STOP=1", "-c", statement], check=True)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def app_env(database_url, work):
    """The environment every benchmark runs the API (and the floor) with: production settings,
    fresh secrets, the rate-limit file in `work`, no Redis, and the per-IP limits raised (one
    client address, 127.0.0.1, makes every request of a run, or most of it would be 429s)."""
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_ENCRYPTION_KEYS": "bench:"
        + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
        "RATELIMIT_FILE": str(work / "ratelimits.sqlite"),
        "RATELIMIT_DEFAULT": "100000000 per minute",
        "RATELIMIT_LOGIN_PER_IP": "100000 per minute",
        "RATELIMIT_REGISTER_PER_IP": "100000 per hour",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
        "GUNICORN_THREADS": os.environ.get("GUNICORN_THREADS", "4"),
        "FLASK_APP": "wsgi",
    }
    env.pop("REDIS_URL", None)
    return env


def migrate(env, log):
    """`flask db upgrade` on the environment's database, its output to `log`."""
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=log,
        stderr=log,
    )


def migrate_and_seed(env, work):
    """Migrate, then seed through the API (seed.py); the seed's JSON. Their output (the API's
    request lines) goes to work/setup.log, not the table's terminal."""
    with (work / "setup.log").open("w") as log:
        migrate(env, log)
        seeded = subprocess.run(
            [PYTHON, "-m", "bench.stack.seed"],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        ).stdout
    return json.loads(seeded)


def worker_connections():
    """How many connections each gunicorn worker of the run may hold: an equal share of wrk's.

    wrk opens its connections at once and keeps them; which worker accepts each is a race, and
    the split stays for the whole window. A 15/1 split runs at about half the speed of 8/8 (the
    bare endpoint: 4,500 against 6,500 req/s), which had moved a case by up to 3x between
    rounds. With gthread's `worker_connections` at an equal share each worker takes its half;
    gunicorn then closes some kept-alive connections, and wrk reconnects, for every server
    alike. BENCH_WORKER_CONNECTIONS overrides it (1000, gunicorn's default, for the race).
    """
    workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
    return os.environ.get("BENCH_WORKER_CONNECTIONS", str(-(-CONNECTIONS // workers)))


def run_database(kind, out):
    work = out / kind
    work.mkdir()
    env = app_env(prepare_database(kind, work), work)
    env["GUNICORN_CMD_ARGS"] = f"--worker-connections {worker_connections()}"
    seeded = migrate_and_seed(env, work)
    servers = {
        "bare": Server("bare", "bench.stack.bare:app", env, work),
        "floor": Server("floor", "bench.stack.floor:app", env, work),
        "api": Server("api", "wsgi:app", env, work),
    }
    try:
        for server in servers.values():
            wait_for_port(server)
        patient, therapist = seeded["patient_token"], seeded["therapist_token"]
        check_floor_rows(servers, patient)
        post_mood = {"WRK_METHOD": "POST", "WRK_BODY": json.dumps(MOOD), "WRK_TOKEN": patient}
        post_entry = {"WRK_METHOD": "POST", "WRK_BODY": json.dumps(ENTRY), "WRK_TOKEN": patient}
        as_patient = {"WRK_TOKEN": patient}
        cases = [
            ("bare GET /bare", [("bare", "/bare", {}, 200)]),
            (
                "list 20 moods",
                [("floor", "/v1/moods", as_patient, 200), ("api", "/v1/moods", as_patient, 200)],
            ),
            (
                "list 20 entries",
                [("floor", "/v1/entries", as_patient, 200), ("api", "/v1/entries", as_patient, 200)],
            ),
            ("create mood", [("floor", "/v1/moods", post_mood, 201), ("api", "/v1/moods", post_mood, 201)]),
            (
                "create entry",
                [("floor", "/v1/entries", post_entry, 201), ("api", "/v1/entries", post_entry, 201)],
            ),
            ("sync 100 changes", [("api", "/v1/sync?limit=100", as_patient, 200)]),
            (
                "therapist: shared moods page",
                [("api", f"/v1/patients/{seeded['patient_id']}/moods", {"WRK_TOKEN": therapist}, 200)],
            ),
            (
                "mood read, If-None-Match: 304",
                [
                    (
                        "api",
                        f"/v1/moods/{seeded['mood_id']}",
                        {"WRK_TOKEN": patient, "WRK_IF_NONE_MATCH": seeded["mood_etag"]},
                        304,
                    )
                ],
            ),
        ]
        if ONLY:  # the moods list stays: the other API cases are costed against it
            cases = [
                (case, runs)
                for case, runs in cases
                if case == "list 20 moods" or any(word in case for word in ONLY)
            ]
        # ROUNDS passes over every case, DURATION / ROUNDS seconds a row each: each figure is the
        # median of its rounds, so a slow spell of the machine moves one round, not one case.
        rounds = {}
        for number in range(ROUNDS):
            for case, runs in cases:
                refresh_statistics(kind)
                for target, path, wrk_env, expect in runs:
                    slug = re.sub(r"[^a-z0-9]+", "-", f"{target} {case}".lower()).strip("-")
                    profile_pid = (
                        servers["api"].workers()[0] if PROFILE and target == "api" and number == 0 else None
                    )
                    row = measure(
                        slug,
                        servers[target].url + path,
                        wrk_env,
                        work,
                        expect=expect,
                        seconds=max(1, round(DURATION / ROUNDS)),
                        warmup=number == 0,
                        workers=servers[target].workers(),
                        profile_pid=profile_pid,
                    )
                    rounds.setdefault((case, target), []).append(row)
                    print(
                        f"  {kind:10} round {number + 1} {case:32} {target:5} {row['rps']:8.0f} req/s",
                        flush=True,
                    )
        results = {key: combine(rows) for key, rows in rounds.items()}
        rss = {name: rss_mb(server) for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    return results, [case for case, _ in cases], rss


def http(method, url, token, body=None):
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def check_floor_rows(servers, token):
    """What the floor writes, the API reads back as its own (same columns, encryption, sync number)."""
    for path, body in (("/v1/moods", MOOD), ("/v1/entries", ENTRY)):
        status, made = http("POST", servers["floor"].url + path, token, body)
        assert status == 201, (path, status)
        status, read = http("GET", f"{servers['api'].url}{path}/{made['id']}", token)
        assert status == 200 and all(read[name] == value for name, value in body.items()), (path, read)
        assert read["version"] == 1 and read["created_at"] is not None, read


def wait_for_port(server):
    for _ in range(300):
        if server.process.poll() is not None:
            sys.exit(f"bench-stack: {server.name} exited while starting; see {server.log}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"bench-stack: {server.name} did not start; see {server.log}")


def rss_mb(server):
    sizes = []
    for pid in server.workers():
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024)
    return sizes


def table(kind, results, cases, rss):
    lines = [
        f"{kind}: gunicorn gthread {os.environ.get('WEB_CONCURRENCY', '2')} workers x "
        f"{os.environ.get('GUNICORN_THREADS', '4')} threads, {worker_connections()} connections each; "
        f"wrk {THREADS} threads x {CONNECTIONS} connections, {DURATION} s per row in {ROUNDS} rounds "
        f"(medians; warm-up {WARMUP} s)",
        f"{'case':32} {'server':6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'other':>6} {'cpu ms':>6}  "
        "ratio  (req/s by round)",
    ]
    own_list = results.get(("list 20 moods", "api"))
    for case in cases:
        for target in ("bare", "floor", "api"):
            row = results.get((case, target))
            if row is None:
                continue
            ratio = ""
            floor = results.get((case, "floor"))
            if target == "api" and floor:
                ratio = f"API/floor {row['rps'] / floor['rps']:.0%}"
            elif target == "api" and own_list and case != "list 20 moods":
                ratio = f"cost {own_list['rps'] / row['rps']:.2f}x the API's moods list page"
            lines.append(
                f"{case:32} {target:6} {row['rps']:8.0f} {row['p50']:8.1f} {row['p99']:8.1f} "
                f"{row['unexpected']:6d} {row['cpu_ms']:6.2f}  {ratio}  {row['rounds']}"
            )
    lines.append(
        "worker RSS after the run (MB): "
        + "; ".join(f"{name} " + ", ".join(f"{size:.0f}" for size in sizes) for name, sizes in rss.items())
    )
    lines.append(
        "`other`: answers with another status than the case expects (201, 200 or 304), plus socket errors;"
        " `cpu ms`: the server's workers' CPU time (user and system) per request"
    )
    return "\n".join(lines)


def main():
    if not shutil.which("wrk"):
        sys.exit("bench-stack: wrk is missing (run.sh installs Debian's package)")
    keep = os.environ.get("BENCH_STACK_OUT")
    out = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-stack."))
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tables = []
    try:
        for kind in DATABASES:
            results, cases, rss = run_database(kind, out)
            tables.append(table(kind, results, cases, rss))
    finally:
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    print()
    print("\n\n".join(tables))
    print(f"\nbench-stack: {time.monotonic() - started:.0f} s" + (f"; files in {out}" if keep else ""))


if __name__ == "__main__":
    main()
