"""What a flood of bad input costs the server: 16 clients at once, each sending a 400 KB body of
200,000 invalid array items, while a probe times /health/live. Prints the size and time of each
answer, the worst /health/live latency during the flood, and the workers' RSS afterwards.

    .venv/bin/python bench/bench_bad_input.py

Starts its own gunicorn (gunicorn.conf.py, 2 workers) on a temporary SQLite database.
"""

import concurrent.futures
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16
ITEMS = 200_000


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(base, method, path, body=None, headers=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    folder = Path(tempfile.mkdtemp(prefix="bench-bad-input-"))
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": f"sqlite:///{folder / 'journal.db'}",
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "RATELIMIT_STORAGE_URI": f"sqlite-file://{folder / 'limits.sqlite'}",
        "RATELIMIT_DEFAULT": "100000 per minute",
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health/live", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        account = {
            "email": "bench@example.org",
            "password": "a long passphrase",
            "display_name": "Bench",
            "role": "patient",
        }
        request(base, "POST", "/v1/auth/register", account)
        token = json.loads(
            request(
                base, "POST", "/v1/auth/login", {"email": account["email"], "password": account["password"]}
            )[1]
        )["access_token"]
        body = ('{"body": "x", "tags": [' + ",".join(["1"] * ITEMS) + "]}").encode()

        probe_times, flooding = [], threading.Event()

        def probe():
            while flooding.is_set():
                start = time.perf_counter()
                request(base, "GET", "/health/live")
                probe_times.append(time.perf_counter() - start)
                time.sleep(0.05)

        def flood(_):
            start = time.perf_counter()
            status, answer = request(base, "POST", "/v1/entries", body, {"Authorization": f"Bearer {token}"})
            return status, len(answer), time.perf_counter() - start

        flooding.set()
        prober = threading.Thread(target=probe)
        prober.start()
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(flood, range(CLIENTS)))
        total = time.perf_counter() - start
        flooding.clear()
        prober.join()
        workers = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        statuses = sorted({status for status, _, _ in results})
        print(
            f"{CLIENTS} clients x {len(body) / 1000:.0f} KB bodies of {ITEMS:,} bad items, "
            "gunicorn 2 workers, SQLite"
        )
        print(f"  statuses {statuses}; answer size {max(size for _, size, _ in results):,} bytes")
        print(
            f"  per request: median {statistics.median(t for _, _, t in results) * 1000:.0f} ms, "
            f"max {max(t for _, _, t in results) * 1000:.0f} ms; all {CLIENTS} in {total * 1000:.0f} ms"
        )
        print(
            f"  /health/live during the flood: {len(probe_times)} probes, "
            f"worst {max(probe_times, default=0) * 1000:.0f} ms"
        )
        print(f"  worker RSS after: {', '.join(f'{rss_mb(int(pid)):.0f} MB' for pid in workers)}")
    finally:
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
