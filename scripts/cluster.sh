#!/usr/bin/env bash
# `make cluster`: nginx on 127.0.0.1:8080 in front of two gunicorn instances of the app, on one
# PostgreSQL and one Redis, in the foreground; Ctrl-C (or TERM) stops all of it again.
#
#   DATABASE_URL       default postgresql+psycopg://postgres@127.0.0.1:5432/journal_cluster
#                      (created if missing, migrated once before the instances start)
#   REDIS_URL          default redis://127.0.0.1:6379/3
#   CLUSTER_LISTEN     default 127.0.0.1:8080 (nginx)
#   CLUSTER_INSTANCES  default 2; each serves 127.0.0.1 on a free port, INSTANCE_NAME app-1, app-2, ...
#   CLUSTER_DIR        default instance/cluster: rendered nginx config, logs, counter files, pids
#   JWT_SECRET_KEY     default: one generated and kept in $CLUSTER_DIR/jwt-secret (every instance
#                      must share it)
#   DATA_ENCRYPTION_KEYS  default: one key generated and kept in $CLUSTER_DIR/data-encryption-keys
# Other variables (WEB_CONCURRENCY, DB_POOL_SIZE, RATELIMIT_*, ...) reach every instance as they are.
# When everything answers it writes $CLUSTER_DIR/cluster.env (URL, ports and pids) and prints
# "cluster ready: <url>". nginx is installed from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON_BIN:-$ROOT/.venv/bin/python}

DATABASE_URL=${DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/journal_cluster}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/3}
CLUSTER_LISTEN=${CLUSTER_LISTEN:-127.0.0.1:8080}
CLUSTER_INSTANCES=${CLUSTER_INSTANCES:-2}
CLUSTER_DIR=$(mkdir -p "${CLUSTER_DIR:-instance/cluster}" && cd "${CLUSTER_DIR:-instance/cluster}" && pwd)
MAX_CONTENT_LENGTH=${MAX_CONTENT_LENGTH:-1048576}

say() { echo "cluster: $*" >&2; }

find_nginx() {
    command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

NGINX=$(find_nginx)
if [ -z "$NGINX" ]; then
    say "installing nginx (Debian's nginx-light)"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
    NGINX=$(find_nginx)
    [ -n "$NGINX" ] || { say "nginx could not be installed"; exit 1; }
fi
[ -x "$PY" ] || { say "$PY is missing: run make .venv/.installed first"; exit 1; }

export DATABASE_URL REDIS_URL MAX_CONTENT_LENGTH
export APP_ENV=production FLASK_APP=wsgi PROXY_FIX_X_FOR=1 FORWARDED_ALLOW_IPS=127.0.0.1
if [ -z "${JWT_SECRET_KEY:-}" ]; then
    [ -s "$CLUSTER_DIR/jwt-secret" ] || (umask 077 && "$PY" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$CLUSTER_DIR/jwt-secret")
    JWT_SECRET_KEY=$(cat "$CLUSTER_DIR/jwt-secret")
fi
export JWT_SECRET_KEY
# Every instance must hold the same data keys too (newest first); one is made once and kept.
if [ -z "${DATA_ENCRYPTION_KEYS:-}" ]; then
    [ -s "$CLUSTER_DIR/data-encryption-keys" ] || (umask 077 && "$PY" -c 'import secrets; print("cluster:" + secrets.token_urlsafe(32))' >"$CLUSTER_DIR/data-encryption-keys")
    DATA_ENCRYPTION_KEYS=$(cat "$CLUSTER_DIR/data-encryption-keys")
fi
export DATA_ENCRYPTION_KEYS

PIDS=()
stop() {
    [ ${#PIDS[@]} -gt 0 ] || return 0
    trap - INT TERM EXIT
    say "stopping"
    # nginx first (the last pid), so its idle connections to the instances close before they stop.
    for ((index = ${#PIDS[@]} - 1; index >= 0; index--)); do
        kill -TERM "${PIDS[index]}" 2>/dev/null || true
        wait "${PIDS[index]}" 2>/dev/null || true
    done
    rm -f "$CLUSTER_DIR/cluster.env"
    say "stopped"
}
trap stop EXIT
trap 'exit 0' INT TERM

# The database: created when missing (never one named `test`), then migrated once for all instances.
"$PY" - <<'PYTHON'
import os, sys
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from config import database_url

url = make_url(database_url(os.environ["DATABASE_URL"]))
if url.get_backend_name() == "postgresql":
    if url.database in (None, "", "test", "postgres"):
        sys.exit(f"cluster: refusing DATABASE_URL database {url.database!r}; name one of its own")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}).first():
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
            print(f"cluster: created database {url.database}", file=sys.stderr)
    admin.dispose()
PYTHON
"$PY" -m flask db upgrade >"$CLUSTER_DIR/migrate.log" 2>&1 || { cat "$CLUSTER_DIR/migrate.log" >&2; exit 1; }

free_port() { "$PY" -c 'import socket; s = socket.create_server(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

UPSTREAMS=""
ENV_LINES=()
for number in $(seq 1 "$CLUSTER_INSTANCES"); do
    name=app-$number
    mkdir -p "$CLUSTER_DIR/$name"
    port=$(free_port)
    INSTANCE_NAME=$name RATELIMIT_FILE="$CLUSTER_DIR/$name/ratelimits.sqlite" \
        "$PY" -m gunicorn -c gunicorn.conf.py --bind "127.0.0.1:$port" wsgi:app \
        >"$CLUSTER_DIR/$name/gunicorn.log" 2>&1 &
    PIDS+=($!)
    UPSTREAMS+="    server 127.0.0.1:$port max_fails=2 fail_timeout=10s;"$'\n'
    ENV_LINES+=("INSTANCE_${number}_NAME=$name" "INSTANCE_${number}_PORT=$port" "INSTANCE_${number}_PID=$!")
done

# nginx, with its configuration rendered from deploy/nginx.
mkdir -p "$CLUSTER_DIR/nginx"
UPSTREAMS=$UPSTREAMS "$PY" - "$CLUSTER_DIR/nginx" "$CLUSTER_LISTEN" <<'PYTHON'
import os, re, sys
from pathlib import Path

prefix, listen = Path(sys.argv[1]), sys.argv[2]
deploy = Path("deploy/nginx").resolve()
values = {
    "LISTEN": listen,
    "UPSTREAMS": os.environ["UPSTREAMS"].rstrip("\n"),
    "MAX_BODY": os.environ["MAX_CONTENT_LENGTH"],
    "DEPLOY": str(deploy),
    "ACCESS_LOG": str(prefix / "access.log"),
    "PREFIX": str(prefix),
}
for template, target in (("journal.conf.template", "journal.conf"), ("nginx-cluster.conf.template", "nginx.conf")):
    text = re.sub(r"\{\{([A-Z_]+)\}\}", lambda match: values[match.group(1)], (deploy / template).read_text())
    (prefix / target).write_text(text)
PYTHON
"$NGINX" -t -q -p "$CLUSTER_DIR/nginx" -c "$CLUSTER_DIR/nginx/nginx.conf"
"$NGINX" -p "$CLUSTER_DIR/nginx" -c "$CLUSTER_DIR/nginx/nginx.conf" 2>>"$CLUSTER_DIR/nginx/error.log" &
PIDS+=($!)
NGINX_PID=$!

URL="http://$CLUSTER_LISTEN"
"$PY" - "$URL" "${ENV_LINES[@]}" <<'PYTHON'
import sys, time, urllib.request

url, lines = sys.argv[1], sys.argv[2:]
ports = [line.split("=", 1)[1] for line in lines if "_PORT=" in line]
deadline = time.monotonic() + 60
for base in [f"http://127.0.0.1:{port}" for port in ports] + [url]:
    while True:
        try:
            urllib.request.urlopen(f"{base}/health/ready", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"cluster: {base} did not become ready")
            time.sleep(0.2)
PYTHON

{
    echo "CLUSTER_URL=$URL"
    echo "NGINX_PID=$NGINX_PID"
    printf '%s\n' "${ENV_LINES[@]}"
} >"$CLUSTER_DIR/cluster.env.tmp"
mv "$CLUSTER_DIR/cluster.env.tmp" "$CLUSTER_DIR/cluster.env"
say "logs in $CLUSTER_DIR (nginx/access.log, app-*/gunicorn.log)"
echo "cluster ready: $URL ($CLUSTER_INSTANCES instances, Ctrl-C stops)"

# Runs until interrupted; an instance that dies stays down (nginx passes over it) until restart.
while true; do
    sleep 1 &
    wait $! || true
done
