#!/usr/bin/env bash
# `make bench-load`: the mixed mobile workload (bench/load/locustfile.py) against a deployment,
# then the clients' log of 201s against its database (verify.py) and the latency table (report.py).
#
# Environment:
#   USERS (32)          concurrent API users (7 patients to 1 therapist), plus BARE_USERS probes
#   DURATION (60s)      locust --run-time
#   BARE_USERS (2)      users hitting GET /health/live, the bare endpoint, in the same run
#   BASE_URL            a running deployment (e.g. http://127.0.0.1:8080 of `make cluster`); its
#                       DATABASE_URL is then required, for verify.py. Its rate limits must allow
#                       the run's volume from one client address (see what this script sets below).
#   DATABASE_URL        the deployment's database (SQLAlchemy or libpq URL)
#   LOAD_OUT            where the run's files go (default bench/load/out/<run id>)
#
# Without BASE_URL it starts its own deployment for the run (start_deployment below) and stops
# everything it started on exit. Exit code: verify.py's (0 only with no 5xx, no lost, duplicated
# or unexplained write and no failed client check).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
APP_BIN=$ROOT/.venv/bin
LOAD_BIN=$ROOT/.venv-load/bin

USERS=${USERS:-32}
DURATION=${DURATION:-60s}
BARE_USERS=${BARE_USERS:-2}
RUN_ID=$(date -u +%Y%m%dT%H%M%S)
OUT=${LOAD_OUT:-$ROOT/bench/load/out/$RUN_ID}
mkdir -p "$OUT"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-load.XXXXXX")
PIDS=()

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

cleanup() {
    local rc=$?
    stop_all
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$APP_BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ready() {
    for _ in $(seq 1 150); do
        if curl -fsS -o /dev/null "$1/health/ready"; then return 0; fi
        sleep 0.2
    done
    echo "bench-load: $1 did not become ready; logs in $OUT" >&2
    exit 1
}

# -- A deployment of its own: two gunicorn instances behind nginx, on PostgreSQL and Redis --------
# Kept small and in one place: `make cluster` (deploy/) is the deployment to measure once it lands.
start_deployment() {
    local admin_url=postgresql://postgres@127.0.0.1:5432/postgres
    local database=${BENCH_LOAD_DATABASE:-bench_load}
    case "$database" in
        test | test_* | *_test) echo "bench-load: refusing to use a test database ($database)" >&2; exit 1 ;;
    esac
    if ! command -v nginx >/dev/null; then
        echo "bench-load: installing nginx-light (Debian)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
    fi

    psql "$admin_url" -q -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" -c "CREATE DATABASE \"$database\""
    export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/$database
    export APP_ENV=production FLASK_APP=wsgi
    JWT_SECRET_KEY=$("$APP_BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))')
    # For the encryption at rest of issue 12 (production refuses to start without a key); unused before.
    DATA_ENCRYPTION_KEYS=bench:$("$APP_BIN/python" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')
    export JWT_SECRET_KEY DATA_ENCRYPTION_KEYS
    export REDIS_URL=${BENCH_LOAD_REDIS_URL:-redis://127.0.0.1:6379/13}
    export PROXY_FIX_X_FOR=1 FORWARDED_ALLOW_IPS=127.0.0.1
    # Every simulated phone reaches the app from the proxy's one address (127.0.0.1), so the
    # per-IP limits are raised for the bench: otherwise most of the run would be 429s. Argon2id
    # keeps its production cost; sign-ins are a small share of the mix instead.
    export RATELIMIT_DEFAULT="1000000 per minute"
    export RATELIMIT_LOGIN_PER_IP="100000 per minute"
    export RATELIMIT_REGISTER_PER_IP="100000 per hour"
    echo "bench-load: own deployment: APP_ENV=production, PostgreSQL database $database (new), REDIS_URL=$REDIS_URL"
    echo "bench-load: rate limits raised for the bench: RATELIMIT_DEFAULT='$RATELIMIT_DEFAULT'," \
        "RATELIMIT_LOGIN_PER_IP='$RATELIMIT_LOGIN_PER_IP', RATELIMIT_REGISTER_PER_IP='$RATELIMIT_REGISTER_PER_IP';" \
        "argon2id at its production cost (ARGON2_* unset)"
    "$APP_BIN/flask" db upgrade 2>"$OUT/migrate.log" || { cat "$OUT/migrate.log" >&2; exit 1; }

    local upstreams="" name port
    for name in a b; do
        port=$(free_port)
        "$APP_BIN/gunicorn" -c gunicorn.conf.py --bind "127.0.0.1:$port" wsgi:app \
            >"$OUT/instance-$name.log" 2>&1 &
        PIDS+=($!)
        wait_ready "http://127.0.0.1:$port"
        upstreams+="        server 127.0.0.1:$port;"$'\n'
        echo "bench-load: instance $name on 127.0.0.1:$port (gunicorn, WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}, GUNICORN_THREADS=${GUNICORN_THREADS:-4})"
    done

    port=$(free_port)
    mkdir -p "$WORK/nginx"
    cat >"$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $OUT/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    upstream app {
$upstreams        keepalive 32;
        # Below gunicorn's keepalive (5 s, gunicorn.conf.py): otherwise nginx may send a request
        # on a connection gunicorn is closing as idle, and a POST, which nginx does not retry,
        # answers 502 ("upstream prematurely closed connection"; bench/README.md, first run).
        keepalive_timeout 4s;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }
}
NGINX
    nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$OUT/nginx-error.log" -g 'daemon off;' &
    PIDS+=($!)
    BASE_URL=http://127.0.0.1:$port
    wait_ready "$BASE_URL"
    echo "bench-load: nginx on $BASE_URL in front of both (round robin, keepalive to the upstreams)"
}

if [ -z "${BASE_URL:-}" ]; then
    start_deployment
else
    : "${DATABASE_URL:?bench-load: with BASE_URL, set DATABASE_URL to the database of that deployment for verify.py}"
    echo "bench-load: against $BASE_URL; its per-IP rate limits must allow this run from one address"
fi

THERAPISTS=$(((USERS + 7) / 8))
"$LOAD_BIN/python" bench/load/prepare.py --base-url "$BASE_URL" --run-id "$RUN_ID" \
    --patients $((USERS - THERAPISTS)) --therapists "$THERAPISTS" --out "$OUT/accounts.json"

echo "bench-load: $USERS API users + $BARE_USERS bare-endpoint users for $DURATION against $BASE_URL"
locust_rc=0
LOAD_ACCOUNTS=$OUT/accounts.json LOAD_WRITE_LOG=$OUT/writes.jsonl LOAD_RESULTS=$OUT/results.json \
    LOAD_BARE_USERS=$BARE_USERS \
    "$LOAD_BIN/locust" -f bench/load/locustfile.py --headless --only-summary \
    -u $((USERS + BARE_USERS)) -r $((USERS + BARE_USERS)) --run-time "$DURATION" \
    -H "$BASE_URL" --csv "$OUT/locust" --loglevel WARNING 2>&1 | tee "$OUT/locust-summary.txt" || locust_rc=$?
echo "bench-load: locust exited $locust_rc (non-zero when any request failed; verify.py decides)"

echo
echo "== verify (clients' 201s against $OUT and the database)"
verify_rc=0
"$LOAD_BIN/python" bench/load/verify.py --accounts "$OUT/accounts.json" --writes "$OUT/writes.jsonl" \
    --results "$OUT/results.json" | tee "$OUT/verify.txt" || verify_rc=$?
echo
echo "== latency"
"$LOAD_BIN/python" bench/load/report.py "$OUT/results.json" | tee "$OUT/report.md"
if [ -n "${PIDS[*]}" ]; then
    grep -h -E '" 5[0-9][0-9] |unhandled' "$OUT"/instance-*.log >"$OUT/server-errors.log" || true
    echo "bench-load: server log lines of 5xx or unhandled errors: $(wc -l <"$OUT/server-errors.log") ($OUT/server-errors.log)"
fi
echo "bench-load: files in $OUT"
exit "$verify_rc"
