"""Schemathesis hooks for `make fuzz` (scripts/fuzz.sh), loaded through schemathesis.toml.

Signs every generated request in as the account in FUZZ_EMAIL / FUZZ_PASSWORD on the server at
FUZZ_BASE_URL. Access tokens live at most 15 minutes, so the token is renewed every
FUZZ_TOKEN_REFRESH_SECONDS (default 600): with the refresh token from the last sign-in (single use;
it rotates), and by signing in again with the password if that fails. POST /v1/auth/refresh gets a
refresh token from a login of its own. Then `before_call` gives schema-valid requests the values
only the server can issue (see below).
"""

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta

import schemathesis

from api.errors import ValidationFailed
from api.pagination import decode_time_cursor, encode_cursor
from api.plans.data import prompt_texts
from api.reference.instruments import REGISTRY
from api.smorest.etags import ETAG
from api.sync.service import decode_sync_cursor, encode_sync_cursor

BASE_URL = os.environ.get("FUZZ_BASE_URL", "").rstrip("/")
EMAIL = os.environ.get("FUZZ_EMAIL", "")
PASSWORD = os.environ.get("FUZZ_PASSWORD", "")
# Well inside the 15-minute access-token lifetime (config.py caps ACCESS_TOKEN_MINUTES at 15).
REFRESH_SECONDS = int(os.environ.get("FUZZ_TOKEN_REFRESH_SECONDS", "600"))


def _post(path, body=None, token=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(BASE_URL + path, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


# Operations that need a fresh token; the others in that case (password change, erasure) are left
# out in schemathesis.toml.
FRESH_TOKEN_OPERATIONS = {"exportMyData"}


# retry_on=[]: a 401 is an answer under test (a refresh token where an access token belongs, a
# token the fuzzer mangled), not a sign that this login ended, so it must not trigger a new sign-in
# and a replay. The operations that do end the caller's login are left out in schemathesis.toml.
@schemathesis.auth(refresh_interval=REFRESH_SECONDS, retry_on=[])
class SignedIn:
    def __init__(self):
        self.refresh_token = None

    def get(self, case, ctx):
        if not (BASE_URL and EMAIL and PASSWORD):
            raise RuntimeError("set FUZZ_BASE_URL, FUZZ_EMAIL and FUZZ_PASSWORD (scripts/fuzz.sh does)")
        pair = None
        if self.refresh_token is not None:
            try:
                pair = _post("/v1/auth/refresh", token=self.refresh_token)
            except urllib.error.HTTPError:
                pair = None  # e.g. the login was revoked: sign in again below
        if pair is None:
            pair = _post("/v1/auth/login", {"email": EMAIL, "password": PASSWORD})
        self.refresh_token = pair["refresh_token"]
        return pair["access_token"]

    def set(self, case, data, ctx):
        operation_id = case.operation.definition.raw.get("operationId")
        if operation_id == "refreshTokens":
            # It takes a refresh token, and using one rotates it: each request gets a login of its
            # own, so the one this hook signs in with is never rotated or revoked by the fuzzer.
            data = _post("/v1/auth/login", {"email": EMAIL, "password": PASSWORD})["refresh_token"]
        elif operation_id in FRESH_TOKEN_OPERATIONS:
            # It needs a fresh token (from a password sign-in), which the token this hook renews by
            # refreshing stops being after the first renewal: sign in for each request, as the
            # app does before an export.
            data = _post("/v1/auth/login", {"email": EMAIL, "password": PASSWORD})["access_token"]
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# Values the server itself hands out. The schema can say what they look like but not which ones
# exist, and the contract answers any other well-formed one with 422: an Idempotency-Key sent again
# with another body, a `cursor` that is not a `next_cursor` the server gave, a `session_id` that is
# not one of the caller's sessions. A real client never sends those with a request it means to
# succeed, so a schema-valid (positive) request here carries values a client could have: its
# generated key made unique to this method, path and body (the same request again is still a
# replay), a cursor the server would mint, and the session scripts/fuzz_seed.py made. Negative
# requests are sent as generated. The operations' other 422s stay failures.
FUZZ_SESSION_ID = os.environ.get("FUZZ_SESSION_ID")
IDEMPOTENCY_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")
SESSION_ID_OPERATIONS = {"createEntry", "updateEntry", "createAssessment"}
FOLLOW_UP_OPERATIONS = {"createEntry", "createMood", "createPractice", "createAssessment"}
PLAN_OPERATIONS = {"setMyIntegrationPlan", "setPatientIntegrationPlan"}
# Mood insights take `from` and `to` each within 1900-2199 (the schema says so), `from` on or
# before `to`, and at most 366 days or 260 weeks between them, which no schema can tie together.
MOOD_INSIGHT_OPERATIONS = {"getMoodInsights", "getPatientMoodInsights"}
LAST_DATE = date(2199, 12, 31)


def _server_cursor(operation_id, generated):
    """A cursor of the shape the server mints, derived from the generated one (so still seeded)."""
    digest = hashlib.sha256(generated.encode()).digest()
    if operation_id == "syncChanges":
        return encode_sync_cursor(int.from_bytes(digest[:2], "big"))
    moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=int.from_bytes(digest[:4], "big"))
    return encode_cursor([moment, uuid.UUID(bytes=digest[:16])])


def _is_server_cursor(operation_id, cursor):
    """Whether the server's own decoder takes the cursor (the same code that answers the request)."""
    try:
        (decode_sync_cursor if operation_id == "syncChanges" else decode_time_cursor)(cursor)
    except ValidationFailed:
        return False
    return True


def _within_bounds(query):
    """A date range a client would ask for: the generated dates, in order, at most a year apart
    (`to` defaults to today, so a `from` alone gets a `to` of its own)."""
    try:
        first = date.fromisoformat(query["from"]) if isinstance(query.get("from"), str) else None
        last = date.fromisoformat(query["to"]) if isinstance(query.get("to"), str) else None
    except ValueError:
        return  # not a date after all: the 422 is the server's to give
    if first is None:
        return  # `from` defaults to a month or 12 weeks before `to`
    if last is None:
        last = min(first + timedelta(days=29), LAST_DATE)
    first, last = min(first, last), max(first, last)
    query["from"], query["to"] = max(first, last - timedelta(days=365)).isoformat(), last.isoformat()


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    operation_id = case.operation.definition.raw.get("operationId")
    query = case.query or {}
    cursor = query.get("cursor")
    if isinstance(cursor, str) and not _is_server_cursor(operation_id, cursor):
        query["cursor"] = _server_cursor(operation_id, cursor)
    body = case.body
    if (
        operation_id in SESSION_ID_OPERATIONS
        and FUZZ_SESSION_ID
        and isinstance(body, dict)
        and body.get("session_id") is not None
    ):
        body["session_id"] = FUZZ_SESSION_ID
    if operation_id in FOLLOW_UP_OPERATIONS and isinstance(body, dict) and body.get("follow_up_id"):
        # A client names a follow-up only when it records what that one asks for, once; which of
        # the patient's follow-ups are open and of this kind, no schema can say (any other is a
        # 422 or a 404 by contract). A positive create completes one by its window instead.
        body["follow_up_id"] = None
    if operation_id in PLAN_OPERATIONS and isinstance(body, dict) and isinstance(body.get("steps"), list):
        # What a step may carry depends on its `kind` (an instrument for an assessment only, a
        # prompt for an entry only), which the schema does not tie together; a client sends a
        # step as its kind has it.
        for step in body["steps"]:
            if isinstance(step, dict) and isinstance(step.get("kind"), str):
                if step["kind"] != "assessment":
                    step["instrument"] = None
                elif step.get("instrument") is None:
                    step["instrument"] = "phq9"
                if step["kind"] != "entry" or step.get("prompt_id") not in prompt_texts():
                    # ... and names a prompt the server lists (GET /v1/reference/prompts), or none.
                    step["prompt_id"] = None
        # ... and lists each step once (two that differ only in what their kind drops are one).
        seen, unique = set(), []
        for step in body["steps"]:
            key = json.dumps(
                {
                    name: step.get(name)
                    for name in ("offset_days", "local_time", "kind", "instrument", "prompt_id")
                }
                if isinstance(step, dict)
                else step,
                sort_keys=True,
                default=str,
            )
            if key not in seen:
                seen.add(key)
                unique.append(step)
        body["steps"] = unique
    if (
        operation_id == "createAssessment"
        and isinstance(body, dict)
        and isinstance(body.get("answers"), list)
    ):
        # How many answers an instrument has (9, 7, 20) and which values they take (0-3, 0-4)
        # depend on `instrument`, which the schema (7 to 20 items of 0 to 4) cannot tie together;
        # a client sends as many as its questionnaire has, each one of its answer options.
        entry = REGISTRY.instruments.get(body.get("instrument"))
        if entry:
            count = len(entry["items"])
            lowest, highest = entry["answer_options"][0]["value"], entry["answer_options"][-1]["value"]
            answers = (body["answers"] * count)[:count] or [lowest] * count
            body["answers"] = [min(highest, max(lowest, answer)) for answer in answers]
    if operation_id in MOOD_INSIGHT_OPERATIONS:
        _within_bounds(query)
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() in ("if-match", "if-none-match") and not ETAG.fullmatch(str(value)):
            # An ETag is the server's to issue. Schemathesis's coverage phase writes header values
            # in letters and digits only, so it cannot meet the ETag pattern (which needs quotes)
            # and sends e.g. "0" as if it were valid; a client sends the ETag it was given.
            headers[name] = '"1"'
    for name, key in list(headers.items()):
        if name.lower() == "idempotency-key" and isinstance(key, str) and IDEMPOTENCY_KEY.match(key):
            payload = json.dumps(case.body, sort_keys=True, default=str)
            digest = hashlib.sha256(f"{case.method} {case.formatted_path}\n{payload}".encode()).hexdigest()
            headers[name] = f"{key[:200]}.{digest[:32]}"
