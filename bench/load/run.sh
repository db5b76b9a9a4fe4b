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

# -- A deployment of its own: `scripts/cluster.sh` (what `make cluster` runs: deploy/nginx in front
# of two gunicorn instances) on a fresh PostgreSQL database and a Redis database index ------------
start_deployment() {
    local admin_url=postgresql://postgres@127.0.0.1:5432/postgres
    local database=${BENCH_LOAD_DATABASE:-bench_load}
    case "$database" in
        test | test_* | *_test) echo "bench-load: refusing to use a test database ($database)" >&2; exit 1 ;;
    esac
    psql "$admin_url" -q -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS \"$database\" WITH (FORCE)" -c "CREATE DATABASE \"$database\""
    export DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/$database
    export REDIS_URL=${BENCH_LOAD_REDIS_URL:-redis://127.0.0.1:6379/13}
    export CLUSTER_DIR=$WORK/cluster CLUSTER_LISTEN=127.0.0.1:$(free_port)
    # Every simulated phone reaches the app from the proxy's one address (127.0.0.1), so the
    # per-IP limits are raised for the bench: otherwise most of the run would be 429s. Argon2id
    # keeps its production cost; sign-ins are a small share of the mix instead.
    export RATELIMIT_DEFAULT="1000000 per minute"
    export RATELIMIT_LOGIN_PER_IP="100000 per minute"
    export RATELIMIT_REGISTER_PER_IP="100000 per hour"
    echo "bench-load: own deployment: scripts/cluster.sh (APP_ENV=production), PostgreSQL database $database (new), REDIS_URL=$REDIS_URL"
    echo "bench-load: rate limits raised for the bench: RATELIMIT_DEFAULT='$RATELIMIT_DEFAULT'," \
        "RATELIMIT_LOGIN_PER_IP='$RATELIMIT_LOGIN_PER_IP', RATELIMIT_REGISTER_PER_IP='$RATELIMIT_REGISTER_PER_IP';" \
        "argon2id at its production cost (ARGON2_* unset)"
    scripts/cluster.sh >"$OUT/cluster.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 300); do
        [ -s "$CLUSTER_DIR/cluster.env" ] && break
        kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$OUT/cluster.log" >&2; exit 1; }
        sleep 0.2
    done
    [ -s "$CLUSTER_DIR/cluster.env" ] || { echo "bench-load: the cluster did not start; $OUT/cluster.log" >&2; exit 1; }
    BASE_URL=$(sed -n 's/^CLUSTER_URL=//p' "$CLUSTER_DIR/cluster.env")
    echo "bench-load: nginx (deploy/nginx) on $BASE_URL in front of two instances" \
        "(gunicorn, WEB_CONCURRENCY=${WEB_CONCURRENCY:-2}, GUNICORN_THREADS=${GUNICORN_THREADS:-4})"
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
    cp -r "$CLUSTER_DIR" "$OUT/cluster"
    grep -h -E '"status": 5[0-9][0-9]|"event": "error"' "$OUT"/cluster/app-*/gunicorn.log >"$OUT/server-errors.log" || true
    echo "bench-load: server log lines of 5xx or unhandled errors: $(wc -l <"$OUT/server-errors.log") ($OUT/server-errors.log)"
fi
echo "bench-load: files in $OUT"
exit "$verify_rc"
