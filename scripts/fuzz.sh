#!/usr/bin/env bash
# `make fuzz`: Schemathesis against a live server, signed in as a patient and then as a therapist
# linked to that patient. Settings (seed, examples per operation, phases, checks, the operations
# left out and each configured exception) are in schemathesis.toml; the auth hook is
# scripts/fuzz_hooks.py and the seed data scripts/fuzz_seed.py.
#
# The server runs as in production (APP_ENV=production, gunicorn, migrations by `flask db upgrade`)
# on a fresh SQLite database in a temporary directory, on a free port of 127.0.0.1, and is always
# stopped on exit. Rate limits stay on, raised so that the fuzzer's volume is not all 429s.
#
# Environment: FUZZ_ROLES (default "patient therapist"), FUZZ_REPORT_DIR (default
# .schemathesis/reports: JUnit XML and the server log), FUZZ_KEEP=1 keeps the temporary directory.
# Any further arguments are passed to both `st run`s (e.g. --max-failures 1, --phases fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.venv/bin

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")
SERVER_PID=

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}

cleanup() {
    local rc=$?
    stop_server
    if [ -f "$WORK/server.log" ] && [ -n "${REPORT_DIR:-}" ] && [ -d "$REPORT_DIR" ]; then
        cp "$WORK/server.log" "$REPORT_DIR/server.log"
    fi
    if [ "${FUZZ_KEEP:-}" = 1 ]; then
        echo "fuzz: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT=$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE_URL="http://127.0.0.1:$PORT"

# The server's settings (config.py, README "Configuration").
export FLASK_APP=wsgi
export APP_ENV=production
export DATABASE_URL="sqlite:///$WORK/fuzz.db"
JWT_SECRET_KEY=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))')
export JWT_SECRET_KEY
DATA_ENCRYPTION_KEYS="fuzz:$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(32))')"
export DATA_ENCRYPTION_KEYS
export RATELIMIT_STORAGE_URI="sqlite-file://$WORK/ratelimits.sqlite"
export RATELIMIT_DEFAULT="100000 per minute"
export RATELIMIT_LOGIN_PER_IP="10000 per minute"
export RATELIMIT_LOGIN_FAILURES_PER_EMAIL="10000 per 15 minutes"
export RATELIMIT_REGISTER_PER_IP="100000 per hour"
export RATELIMIT_PASSWORD_CHECK_PER_USER="10000 per 15 minutes"
export RATELIMIT_CODE_FAILURES_PER_ACCOUNT="100000 per hour"
export RATELIMIT_CODE_FAILURES_PER_IP="100000 per hour"
export RATELIMIT_EXPORT_PER_USER="100000 per hour"
unset REDIS_URL CORS_ALLOWED_ORIGINS PROXY_FIX_X_FOR

echo "== fuzz: migrating $DATABASE_URL"
"$BIN/flask" db upgrade >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log" >&2; exit 1; }

echo "== fuzz: gunicorn on $BASE_URL"
PORT=$PORT "$BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$PORT" wsgi:app >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

ready=
for _ in $(seq 1 150); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        break
    fi
    if "$BIN/python" - "$BASE_URL/health/ready" <<'EOF' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
EOF
        ready=1
        break
    fi
    sleep 0.2
done
if [ -z "$ready" ]; then
    echo "fuzz: the server did not become ready; its log:" >&2
    cat "$WORK/server.log" >&2
    exit 1
fi

PASSWORD=$("$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(24))')
PATIENT_EMAIL=fuzz-patient@example.org
THERAPIST_EMAIL=fuzz-therapist@example.org
echo "== fuzz: seeding a linked patient and therapist"
SEEDED=$("$BIN/python" scripts/fuzz_seed.py "$BASE_URL" "$PASSWORD" "$PATIENT_EMAIL" "$THERAPIST_EMAIL")
FUZZ_PATIENT_ID=$(sed -n 's/^FUZZ_PATIENT_ID=//p' <<<"$SEEDED")
FUZZ_SESSION_ID=$(sed -n 's/^FUZZ_SESSION_ID=//p' <<<"$SEEDED")
FUZZ_EVENT_ID=$(sed -n 's/^FUZZ_EVENT_ID=//p' <<<"$SEEDED")
export FUZZ_PATIENT_ID FUZZ_SESSION_ID FUZZ_EVENT_ID FUZZ_BASE_URL=$BASE_URL FUZZ_PASSWORD=$PASSWORD

REPORT_DIR=${FUZZ_REPORT_DIR:-$ROOT/.schemathesis/reports}
rm -rf "$REPORT_DIR"
mkdir -p "$REPORT_DIR"

status=0
for role in ${FUZZ_ROLES:-patient therapist}; do
    case $role in
        patient) email=$PATIENT_EMAIL ;;
        therapist) email=$THERAPIST_EMAIL ;;
        *) echo "fuzz: unknown role $role" >&2; exit 2 ;;
    esac
    echo "== fuzz: st run as the $role ($email)"
    started=$SECONDS
    # PYTHONPATH: the hooks use the app's own cursor codecs (api.pagination, api.sync.service).
    FUZZ_EMAIL=$email PYTHONPATH="$ROOT" "$BIN/st" --config-file "$ROOT/schemathesis.toml" run \
        --checks all \
        --report junit --report-junit-path "$REPORT_DIR/$role.xml" \
        "$@" "$BASE_URL/openapi.json" |
        # Its closing line looks like pytest's ("=== 4 warnings in 54.84s ==="), which a reader of
        # the CI log could take for a pytest run that counted no test; it is reworded.
        sed -E 's/^=+ (.* in [0-9.]+s) =+$/schemathesis: \1/' || status=1
    echo "== fuzz: $role run took $((SECONDS - started)) s"
done

if [ "$status" -ne 0 ]; then
    echo "fuzz: failures above; JUnit reports and the server log are in $REPORT_DIR" >&2
fi
exit "$status"
