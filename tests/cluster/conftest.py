"""The cluster the multi-instance tests run against: scripts/cluster.sh (what `make cluster` runs)
with nginx in front of two gunicorn instances, a fresh PostgreSQL database of its own and a
redis-server of its own, which the tests may stop and start again. Everything is torn down after.

Something missing (PostgreSQL, redis-server, nginx that cannot be installed) fails the run: these
tests never skip. `make test-cluster` runs them; plain `make test` does not collect them.
"""

import os
import secrets
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import BASE_DIR
from tests.processes import RedisServer, free_port

ADMIN_URL = os.environ.get("CLUSTER_TEST_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# One database per run, so two runs on one PostgreSQL (two checkouts, CI beside a developer)
# never drop each other's.
DATABASE = os.environ.get("CLUSTER_TEST_DATABASE", f"test_cluster_{os.getpid()}")
RETRY_SECONDS = 0.5


@dataclass
class Cluster:
    url: str  # through nginx
    instances: dict  # name -> {"url", "pid", "log"}
    redis: RedisServer
    folder: Path
    process: subprocess.Popen

    def instance_url(self, name):
        return self.instances[name]["url"]


def fresh_database():
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    except Exception as error:
        pytest.fail(f"the cluster tests need PostgreSQL at {ADMIN_URL} ({type(error).__name__}: {error})")
    finally:
        admin.dispose()
    return make_url(ADMIN_URL).set(database=DATABASE).render_as_string(hide_password=False)


def drop_database():
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


def read_env(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    redis = RedisServer(folder)
    redis.start()
    database_url = fresh_database()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis.url,
        "CLUSTER_LISTEN": f"127.0.0.1:{free_port()}",
        "CLUSTER_DIR": str(folder / "run"),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
        "RATELIMIT_REDIS_RETRY_SECONDS": str(RETRY_SECONDS),
        "RATELIMIT_KEY_PREFIX": "cluster-tests",
    }
    for name in ("RATELIMIT_STORAGE_URI", "RATELIMIT_FILE", "TEST_DATABASE_URL", "APP_ENV"):
        env.pop(name, None)
    output = (folder / "cluster.out").open("w")
    process = subprocess.Popen(
        [str(BASE_DIR / "scripts" / "cluster.sh")],
        cwd=BASE_DIR,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    state = folder / "run" / "cluster.env"
    deadline = time.monotonic() + 120
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            redis.stop()
            drop_database()
            pytest.fail("scripts/cluster.sh did not start:\n" + (folder / "cluster.out").read_text()[-4000:])
        time.sleep(0.2)
    values = read_env(state)
    instances = {}
    for number in (1, 2):
        name = values[f"INSTANCE_{number}_NAME"]
        instances[name] = {
            "url": f"http://127.0.0.1:{values[f'INSTANCE_{number}_PORT']}",
            "pid": int(values[f"INSTANCE_{number}_PID"]),
            "log": folder / "run" / name / "gunicorn.log",
        }
    urllib.request.urlopen(values["CLUSTER_URL"] + "/health/ready", timeout=5).read()
    yield Cluster(values["CLUSTER_URL"], instances, redis, folder / "run", process)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    output.close()
    redis.stop()
    drop_database()
