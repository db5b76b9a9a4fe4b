"""Floor and API in one process, called straight through WSGI: the CPU time and the wall time of
each case, with no HTTP server, no load generator and no other process on the cores, so a change
in the API's own work shows as a change of a few percent, which `make bench-stack` cannot see
through its run-to-run spread.

    .venv/bin/python -m bench.stack.inprocess                 # SQLite, 5 rounds of 200 requests a case
    DATABASE=postgresql REQUESTS=1000 .venv/bin/python -m bench.stack.inprocess
    CASES=list-moods,sync-100 .venv/bin/python -m bench.stack.inprocess
    PROFILE=list-moods .venv/bin/python -m bench.stack.inprocess   # cProfile of the API on one case
    PROFILER=pyinstrument PROFILE=create-mood ...                   # a call tree (pip install pyinstrument)

The API's request log lines go to standard error (as under gunicorn): add `2>/dev/null`.

One thread, one request at a time: this measures the cost of a request, not concurrency (the wrk
run does that). Each measured batch first runs 20 requests unmeasured. Creates add rows as they go, so
lists are measured first.
"""

import cProfile
import io
import json
import os
import pstats
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

from bench.stack.run import ENTRY, MOOD, app_env, migrate_and_seed, prepare_database

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = int(os.environ.get("REQUESTS", "200"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
DATABASE = os.environ.get("DATABASE", "sqlite")
PG_DATABASE = os.environ.get("BENCH_STACK_DATABASE", "bench_inprocess")
PROFILE = os.environ.get("PROFILE")
CASES = [case for case in os.environ.get("CASES", "").split(",") if case]  # default: all


def environ_factory(method, path, token, body=None, if_none_match=None):
    headers = {"Authorization": f"Bearer {token}"}
    if if_none_match:
        headers["If-None-Match"] = if_none_match
    builder = EnvironBuilder(
        path=path.split("?")[0],
        query_string=path.split("?")[1] if "?" in path else None,
        method=method,
        headers=headers,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json" if body is not None else None,
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    template = builder.get_environ()
    payload = template["wsgi.input"].read()

    def make():
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(payload)
        return environ

    return make


def call(app, make_environ, expect):
    status = []

    def start_response(line, headers, exc_info=None):
        status.append(int(line[:3]))

    body = app(make_environ(), start_response)
    try:
        for _ in body:
            pass
    finally:
        if hasattr(body, "close"):
            body.close()
    if status[0] != expect:
        raise SystemExit(f"inprocess: answered {status[0]}, expected {expect}")


def measure(app, make_environ, expect, *, profile=False):
    for _ in range(20):
        call(app, make_environ, expect)
    if profile and os.environ.get("PROFILER") == "pyinstrument":
        from pyinstrument import Profiler

        with Profiler(interval=0.0002) as sampler:
            for _ in range(REQUESTS):
                call(app, make_environ, expect)
        show_all = os.environ.get("PROFILE_ALL") == "1"  # library frames too
        print(sampler.output_text(show_all=show_all, short_mode=False, color=False))
        return 1.0, 1.0
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for _ in range(REQUESTS):
        call(app, make_environ, expect)
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
    return cpu / REQUESTS * 1000, wall / REQUESTS * 1000


def prepare(work):
    """A new database, migrated and seeded as `make bench-stack` does; this process takes its
    environment, so the apps built next run on it."""
    env = app_env(prepare_database(DATABASE, work, name=PG_DATABASE), work)
    env["LOG_LEVEL"] = os.environ.get("LOG_LEVEL", "INFO")
    seeded = migrate_and_seed(env, work)
    os.environ.update(env)
    return seeded


def main():

    with tempfile.TemporaryDirectory(prefix="bench-inprocess-") as folder:
        seeded = prepare(Path(folder))
        from api.app import create_app
        from bench.stack.floor import app as floor

        api = create_app()
        patient, therapist = seeded["patient_token"], seeded["therapist_token"]
        cases = [
            ("list-moods", "GET", "/v1/moods", patient, None, None, 200, True),
            ("list-entries", "GET", "/v1/entries", patient, None, None, 200, True),
            ("sync-100", "GET", "/v1/sync?limit=100", patient, None, None, 200, False),
            (
                "therapist-moods",
                "GET",
                f"/v1/patients/{seeded['patient_id']}/moods",
                therapist,
                None,
                None,
                200,
                False,
            ),
            (
                "mood-304",
                "GET",
                f"/v1/moods/{seeded['mood_id']}",
                patient,
                None,
                seeded["mood_etag"],
                304,
                False,
            ),
            ("create-mood", "POST", "/v1/moods", patient, MOOD, None, 201, True),
            ("create-entry", "POST", "/v1/entries", patient, ENTRY, None, 201, True),
        ]
        print(f"{DATABASE}: {REQUESTS} requests a case, one at a time; ms per request")
        columns = ("floor cpu", "api cpu", "api/floor", "floor wall", "api wall", "floor/api")
        print(f"{'case':18} " + " ".join(f"{column:>9}" for column in columns))
        for name, method, path, token, body, etag, expect, has_floor in cases:
            if (PROFILE and PROFILE != name) or (CASES and name not in CASES):
                continue
            make = environ_factory(method, path, token, body, etag)
            if PROFILE:
                measure(api, make, expect, profile=True)
                continue
            # Floor and API take turns in ROUNDS rounds; each figure is the fastest round's, so a
            # burst of other work on the machine moves neither side.
            rounds = {"api": [], "floor": []}
            for _ in range(ROUNDS):
                rounds["api"].append(measure(api, make, expect))
                if has_floor:
                    rounds["floor"].append(measure(floor, make, expect))
            api_cpu, api_wall = min(rounds["api"])
            if has_floor:
                floor_cpu, floor_wall = min(rounds["floor"])
                print(
                    f"{name:18} {floor_cpu:9.2f} {api_cpu:8.2f} {api_cpu / floor_cpu:8.2f}x "
                    f"{floor_wall:10.2f} {api_wall:8.2f} {floor_wall / api_wall:8.0%}",
                    flush=True,
                )
            else:
                print(f"{name:18} {'':9} {api_cpu:8.2f} {'':9} {'':10} {api_wall:8.2f}", flush=True)


if __name__ == "__main__":
    main()
