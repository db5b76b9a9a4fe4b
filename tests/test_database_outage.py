"""PostgreSQL goes away under a keyed write load and comes back: nothing lost, nothing doubled.

The app reaches the database through a TCP proxy this test controls (the shared server itself is
never touched). While the proxy is cut, every request answers 503 with Retry-After; phones retry
each create with its Idempotency-Key until it is acknowledged. Afterwards each create exists
exactly once, and every acknowledged one is there.
"""

import os
import socket
import threading
import time

import pytest

from api.app import create_app
from tests.helpers import assert_problem

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
    reason="needs a database server to cut off: runs in the PostgreSQL pass (TEST_DATABASE_URL=postgresql+psycopg://...)",
)


class Proxy:
    """Forwards TCP connections to `target` until cut; while cut, refuses them and drops the open ones."""

    def __init__(self, target):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.lock = threading.Lock()
        self.open = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.up.clear()
        with self.lock:
            dropped, self.open = self.open, []
        for end in dropped:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def restore(self):
        self.up.set()

    def close(self):
        self.cut()
        self.listener.close()


@pytest.fixture
def proxied_app(config_class):
    url = config_class.SQLALCHEMY_DATABASE_URI
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1) if ":" in host_port else (host_port, "5432")
    proxy = Proxy((host, int(port)))
    proxied = type(
        "Proxied",
        (config_class,),
        {"SQLALCHEMY_DATABASE_URI": url.replace(host_port, f"127.0.0.1:{proxy.port}")},
    )
    yield create_app(proxied), proxy
    proxy.close()


def test_a_database_outage_under_keyed_writes_loses_nothing_and_doubles_nothing(client, patient, proxied_app):
    app, proxy = proxied_app
    writers, creates_per_writer = 4, 30
    acknowledged, statuses, unexpected = {}, [], []
    progress = threading.Semaphore(0)

    def phone(number):
        phone_client = app.test_client()
        for index in range(creates_per_writer):
            note = f"phone {number} create {index}"
            headers = {**patient.headers, "Idempotency-Key": f"outage-{number}-{index}"}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                response = phone_client.post("/v1/moods", headers=headers, json={"mood": 5, "note": note})
                statuses.append(response.status_code)
                if response.status_code == 201:
                    acknowledged[note] = response.json["id"]
                    break
                if (
                    response.status_code != 503
                    or "Retry-After" not in response.headers
                    or response.mimetype != "application/problem+json"
                    or response.json["status"] != 503
                ):
                    unexpected.append((response.status_code, response.get_data(as_text=True)))
                    break
                time.sleep(0.05)
            progress.release()

    threads = [threading.Thread(target=phone, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    for _ in range(writers * creates_per_writer // 3):
        progress.acquire()
    # the database goes away for a while, in the middle of the load
    proxy.cut()
    time.sleep(0.5)
    assert_problem(app.test_client().get("/health/ready"), 503)
    time.sleep(1.0)
    proxy.restore()
    for thread in threads:
        thread.join()

    assert unexpected == [], unexpected[:3]
    assert set(statuses) == {201, 503}, "the outage must have been seen, and answered only with 503"
    assert len(acknowledged) == writers * creates_per_writer
    moods, cursor = [], None
    while True:
        page = client.get(
            "/v1/moods?limit=100" + (f"&cursor={cursor}" if cursor else ""), headers=patient.headers
        ).json
        moods += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    notes = [mood["note"] for mood in moods]
    assert len(notes) == len(set(notes)), "a create was doubled"
    assert {mood["note"]: mood["id"] for mood in moods} == acknowledged, "an acknowledged create was lost"
