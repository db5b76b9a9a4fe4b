"""A mixed mobile workload for locust: patients writing and syncing, therapists reading, a bare probe.

Accounts come from prepare.py (LOAD_ACCOUNTS). Every keyed create is logged to LOAD_WRITE_LOG,
one JSON line when it is sent and one per answer, for verify.py to compare with the database;
each answer's status per request name and every response time go to LOAD_RESULTS at the end.

- PatientUser (weight 7): signs in on start; refreshes its tokens every LOAD_REFRESH_SECONDS,
  sometimes replaying the refresh token as a phone that lost the answer does (the same child
  refresh token must come back); posts moods, entries, practices and now and then a PHQ-9 with
  an Idempotency-Key, sometimes repeating the key after a "lost" answer or twice at once (the
  repeat must replay the same record, never make a second); lists its journal following keyset
  cursors; pulls /v1/sync and checks that every write acknowledged before the pull was in the
  feed; now and then closes the app (logout) and signs in again.
- TherapistUser (weight 1): the patient list, linked patients' shared entries, moods, practices,
  assessments, one shared entry, and open safety events.
- HealthProbe (LOAD_BARE_USERS users, fixed): GET /health/live, the bare endpoint, through the
  same proxy in the same run, every LOAD_BARE_WAIT seconds.

A write's time field (recorded_at, occurred_at, performed_at, taken_at) is unique in the run
(one millisecond apart, counted down from the start), so verify.py can tell which request made a
record without reading any text the server may encrypt. One locust process per run: the counter
is per process.
"""

import base64
import itertools
import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import gevent
from locust import FastHttpUser, between, constant, events, task

ACCOUNTS = json.load(open(os.environ["LOAD_ACCOUNTS"]))
WRITE_LOG = open(os.environ["LOAD_WRITE_LOG"], "a", buffering=1)
RESULTS = os.environ.get("LOAD_RESULTS")
REFRESH_SECONDS = float(os.environ.get("LOAD_REFRESH_SECONDS", "20"))
BARE_WAIT = float(os.environ.get("LOAD_BARE_WAIT", "0.1"))

# Shares of keyed creates that are repeated: the phone lost the 201 and retries the same key, or
# sends it twice at once (a double tap, a retry racing the first); the rest are sent once.
LOST_ANSWER_SHARE = 0.08
DOUBLE_SEND_SHARE = 0.04
REFRESH_REPLAY_SHARE = 0.1
SAFETY_ANSWER_SHARE = 0.3  # of PHQ-9s, an item 9 above 0: a safety event with the assessment
IN_FLIGHT_RETRIES = 20

RUN_START = datetime.now(UTC).replace(microsecond=0)
_stamps = itertools.count(1)
_patients = itertools.cycle(ACCOUNTS["patients"])
_therapists = itertools.cycle(ACCOUNTS["therapists"])
_statuses = defaultdict(Counter)
_times = defaultdict(list)  # request name -> response times, ms
_window = []  # wall-clock time of the first and the last answer

EMOTIONS = ["calm", "hopeful", "tender", "anxious", "grateful", "sad"]
PRACTICES = ["meditation", "breathwork", "yoga", "nature", "journaling", "music"]
ENTRY_KINDS = ["insight", "reflection", "intention", "gratitude", "dream", "general"]
COLLECTIONS = {"mood": "/v1/moods", "entry": "/v1/entries", "practice": "/v1/practices"}


def unique_stamp():
    """A time no other write of this run uses: RUN_START minus a fresh number of milliseconds."""
    return (RUN_START - timedelta(milliseconds=next(_stamps))).isoformat()


def claims(token):
    """(jti, fam, sub) of a JWT, read without verifying it: the client only compares them."""
    payload = token.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded.get("jti"), decoded.get("fam"), decoded.get("sub")


def log_write(**fields):
    WRITE_LOG.write(json.dumps(fields, separators=(",", ":")) + "\n")


@events.request.add_listener
def record(request_type, name, response_time, response, exception, **_):
    """Count every answer's status per request name, and keep every response time: verify.py
    reads the 5xx, report.py the exact percentiles (locust's own CSV rounds them)."""
    if request_type == "CHECK":
        _statuses[name]["failed check"] += 1
        return
    status = getattr(response, "status_code", 0) if response is not None else 0
    _statuses[name][str(status) if status else f"no answer: {type(exception).__name__}"] += 1
    _times[name].append(response_time)
    now = time.time()
    _window[:] = [_window[0] if _window else now, now]


@events.quitting.add_listener
def write_results(environment, **_):
    if RESULTS:
        with open(RESULTS, "w") as out:
            json.dump(
                {
                    "window_seconds": _window[1] - _window[0] if _window else 0,
                    "statuses": {name: dict(counts) for name, counts in sorted(_statuses.items())},
                    "response_times_ms": dict(sorted(_times.items())),
                },
                out,
            )


def report_failure(environment, name, message):
    """A broken promise seen by the client (not an HTTP error): counted as a failed request."""
    environment.events.request.fire(
        request_type="CHECK",
        name=name,
        response_time=0,
        response_length=0,
        response=None,
        context={},
        exception=AssertionError(message),
    )


class SignedIn(FastHttpUser):
    abstract = True

    def on_start(self):
        self.account = self.pick_account()
        self.sign_in()

    def pick_account(self):
        raise NotImplementedError

    def sign_in(self):
        with self.client.post(
            "/v1/auth/login",
            json={"email": self.account["email"], "password": self.account["password"]},
            name="POST /v1/auth/login",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"login {response.status_code}")
                self.tokens = None
                return
            self.tokens = response.json()
        self.refreshed_at = time.monotonic()

    def headers(self, **extra):
        return {"Authorization": f"Bearer {self.tokens['access_token']}", **extra}

    def keep_tokens_fresh(self):
        """Sign in when there is no session; refresh on schedule, now and then replaying the token."""
        if self.tokens is None:
            self.sign_in()
        elif time.monotonic() - self.refreshed_at > REFRESH_SECONDS:
            self.refresh(replay=random.random() < REFRESH_REPLAY_SHARE)
        return self.tokens is not None

    def refresh(self, *, replay):
        """Exchange the refresh token. With `replay`, send it again at once, as a phone that lost
        the answer would: within the grace window that must answer the same child refresh token
        (same jti and family; the JWTs are minted anew), and the phone goes on with that answer."""
        refresh_token = self.tokens["refresh_token"]
        pair = self._refresh_once(refresh_token, "POST /v1/auth/refresh")
        if pair and replay:
            again = self._refresh_once(refresh_token, "POST /v1/auth/refresh (replayed token)")
            if again and claims(again["refresh_token"])[:2] != claims(pair["refresh_token"])[:2]:
                report_failure(
                    self.environment,
                    "refresh replay within grace",
                    "a replayed refresh token within the grace window answered another child token",
                )
            pair = again
        self.tokens = pair
        self.refreshed_at = time.monotonic()

    def _refresh_once(self, refresh_token, name):
        with self.client.post(
            "/v1/auth/refresh",
            headers={"Authorization": f"Bearer {refresh_token}"},
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"refresh {response.status_code}")
                return None
            return response.json()

    def get_page(self, path, name, **params):
        """One page of a keyset list; its body, or None when it failed."""
        with self.client.get(
            path, params=params, headers=self.headers(), name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return None
            return response.json()

    def walk_list(self, path, name, pages):
        """Follow next_cursor for up to `pages` pages; ids must never repeat across pages."""
        seen, cursor = set(), None
        for number in range(pages):
            params = {"limit": 20} if cursor is None else {"limit": 20, "cursor": cursor}
            page = self.get_page(path, name if number == 0 else f"{name} (next page)", **params)
            if page is None:
                return []
            ids = [item.get("id") or item.get("patient_id") for item in page["items"]]
            if seen.intersection(ids):
                report_failure(self.environment, f"{name} keyset", "a record repeated across pages")
            seen.update(ids)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return list(seen)


class PatientUser(SignedIn):
    weight = 7
    wait_time = between(0.1, 0.6)

    def pick_account(self):
        return next(_patients)

    def on_start(self):
        super().on_start()
        self.sync_cursor = None
        self.unsynced = set()  # (type, id) acknowledged by a 201, not yet seen in /v1/sync
        if self.tokens:
            self.pull_sync()

    # -- keyed creates ---------------------------------------------------------------------------

    def create(self, kind, path, time_field, body, **logged):
        """POST with a fresh Idempotency-Key and a unique time; sometimes repeated as a flaky
        phone would. `logged` goes into the write log's line for the request."""
        key, stamp = str(uuid.uuid4()), unique_stamp()
        body = {**body, time_field: stamp}
        name = f"POST {path}"
        log_write(event="sent", kind=kind, key=key, owner=self.account["id"], stamp=stamp, **logged)
        draw = random.random()
        if draw < DOUBLE_SEND_SHARE:
            first, second = gevent.joinall(
                [
                    gevent.spawn(self.send_keyed, kind, path, body, key, name),
                    gevent.spawn(self.send_keyed, kind, path, body, key, f"{name} (same key, at once)"),
                ]
            )
            answers = [first.value, second.value]
        elif draw < DOUBLE_SEND_SHARE + LOST_ANSWER_SHARE:
            # The phone never saw this 201 (it is still logged: the server did answer it).
            answers = [self.send_keyed(kind, path, body, key, name, lost=True)]
            answers.append(self.send_keyed(kind, path, body, key, f"{name} (retry after lost answer)"))
            if answers[1] and answers[1][1] != "true" and answers[0]:
                report_failure(self.environment, f"{name} retry", "a retried key was not a replay")
        else:
            answers = [self.send_keyed(kind, path, body, key, name)]
        ids = {answer[0] for answer in answers if answer}
        if len(ids) > 1:
            report_failure(self.environment, f"{name} idempotency", f"one key, {len(ids)} records")
        for record_id in ids:
            self.unsynced.add((kind, record_id))

    def send_keyed(self, kind, path, body, key, name, *, lost=False):
        """Send until answered (a 409 means the same key is in flight: wait and retry).
        (id, Idempotent-Replayed) of the 201, or None."""
        for _ in range(IN_FLIGHT_RETRIES):
            with self.client.post(
                path,
                json=body,
                headers=self.headers(**{"Idempotency-Key": key}),
                name=name,
                catch_response=True,
            ) as response:
                status = response.status_code
                if status == 409:
                    response.success()  # the documented answer while the same key is in flight
                    log_write(event="answer", kind=kind, key=key, owner=self.account["id"], status=409)
                    gevent.sleep(0.05)
                    continue
                if status != 201:
                    log_write(event="answer", kind=kind, key=key, owner=self.account["id"], status=status)
                    response.failure(f"{status}")
                    return None
                record_id = response.json()["id"]
                replayed = response.headers.get("Idempotent-Replayed")
                log_write(
                    event="answer",
                    kind=kind,
                    key=key,
                    owner=self.account["id"],
                    status=201,
                    id=record_id,
                    replayed=replayed == "true",
                    lost=lost,
                )
                return record_id, replayed
        return None

    @task(6)
    def post_mood(self):
        if self.keep_tokens_fresh():
            self.create(
                "mood",
                "/v1/moods",
                "recorded_at",
                {
                    "mood": random.randint(1, 10),
                    "energy": random.randint(1, 10),
                    "anxiety": random.randint(1, 10),
                    "emotions": random.sample(EMOTIONS, 2),
                    "note": "Slept better; the heaviness is lifting.",
                    "timezone": "Europe/Berlin",
                },
            )

    @task(4)
    def post_entry(self):
        if self.keep_tokens_fresh():
            self.create(
                "entry",
                "/v1/entries",
                "occurred_at",
                {
                    "kind": random.choice(ENTRY_KINDS),
                    "title": "After the session",
                    "body": "What came up today, and what I want to carry into the week. " * 4,
                    "emotions": random.sample(EMOTIONS, 2),
                    "tags": ["integration"],
                    "visibility": random.choice(["private", "care_team"]),
                },
            )

    @task(3)
    def post_practice(self):
        if self.keep_tokens_fresh():
            self.create(
                "practice",
                "/v1/practices",
                "performed_at",
                {
                    "practice": random.choice(PRACTICES),
                    "duration_minutes": random.randint(5, 60),
                    "intensity": "moderate",
                    "mood_before": random.randint(1, 10),
                    "mood_after": random.randint(1, 10),
                    "notes": "Twenty minutes by the lake.",
                },
            )

    @task(1)
    def post_phq9(self):
        if self.keep_tokens_fresh():
            answers = [random.randint(0, 3) for _ in range(8)]
            answers.append(1 if random.random() < SAFETY_ANSWER_SHARE else 0)
            self.create(
                "assessment",
                "/v1/assessments",
                "taken_at",
                {"instrument": "phq9", "answers": answers},
                safety_event=answers[-1] > 0,
            )

    # -- reads -----------------------------------------------------------------------------------

    @task(6)
    def list_journal(self):
        if self.keep_tokens_fresh():
            kind = random.choice(list(COLLECTIONS))
            self.walk_list(COLLECTIONS[kind], f"GET {COLLECTIONS[kind]}", pages=random.choice([1, 1, 2, 3]))

    @task(4)
    def sync(self):
        if self.keep_tokens_fresh():
            self.pull_sync()

    def pull_sync(self):
        """Follow /v1/sync from the kept cursor to the end; every write acknowledged before the
        pull began must have come through by then."""
        expected = set(self.unsynced)
        while True:
            params = (
                {"limit": 100} if self.sync_cursor is None else {"limit": 100, "cursor": self.sync_cursor}
            )
            page = self.get_page("/v1/sync", "GET /v1/sync", **params)
            if page is None:
                return
            for change in page["changes"]:
                self.unsynced.discard((change["type"], change["id"]))
                expected.discard((change["type"], change["id"]))
            self.sync_cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        if expected:
            report_failure(
                self.environment,
                "sync feed",
                f"{len(expected)} acknowledged write(s) missing from /v1/sync",
            )
            self.unsynced -= expected

    @task(1)
    def reopen_app(self):
        """Sign out and in again: a new token family, an argon2id hash on the server."""
        if self.keep_tokens_fresh():
            with self.client.post(
                "/v1/auth/logout", headers=self.headers(), name="POST /v1/auth/logout", catch_response=True
            ) as response:
                if response.status_code != 204:
                    response.failure(f"{response.status_code}")
            self.sign_in()


class TherapistUser(SignedIn):
    weight = 1
    wait_time = between(0.2, 1.0)

    def pick_account(self):
        return next(_therapists)

    def on_start(self):
        super().on_start()
        self.patient_ids = [p["id"] for p in ACCOUNTS["patients"] if p["therapist_id"] == self.account["id"]]

    @task(2)
    def patient_list(self):
        if self.keep_tokens_fresh():
            self.walk_list("/v1/patients", "GET /v1/patients", pages=1)

    @task(6)
    def patient_records(self):
        if self.keep_tokens_fresh() and self.patient_ids:
            patient_id = random.choice(self.patient_ids)
            kind = random.choice(["entries", "moods", "practices", "assessments"])
            ids = self.walk_list(
                f"/v1/patients/{patient_id}/{kind}",
                f"GET /v1/patients/{{id}}/{kind}",
                pages=random.choice([1, 2]),
            )
            if kind == "entries" and ids:
                with self.client.get(
                    f"/v1/patients/{patient_id}/entries/{random.choice(ids)}",
                    headers=self.headers(),
                    name="GET /v1/patients/{id}/entries/{entry_id}",
                    catch_response=True,
                ) as response:
                    if response.status_code != 200:
                        response.failure(f"{response.status_code}")

    @task(2)
    def safety_events(self):
        if self.keep_tokens_fresh():
            self.walk_list("/v1/safety-events", "GET /v1/safety-events", pages=1)


class HealthProbe(FastHttpUser):
    """The bare endpoint, through the same proxy, measured while the API is under load."""

    fixed_count = int(os.environ.get("LOAD_BARE_USERS", "2"))
    wait_time = constant(BARE_WAIT)

    @task
    def live(self):
        self.client.get("/health/live", name="GET /health/live (bare)")
