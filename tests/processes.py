"""Servers a test starts for itself on free ports of 127.0.0.1 and stops itself."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        return listener.getsockname()[1]


def wait_for_port(port, process, log, what, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"{what} did not start on port {port}:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)


class RedisServer:
    """A redis-server of the test's own (never the machine's shared one): no persistence, so a
    restart starts empty, as a Redis that lost its memory would."""

    def __init__(self, folder):
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("these tests need redis-server on PATH (apt-get install redis-server)")
        self.executable = executable
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        log = self.folder / f"redis-{self.port}.log"
        command = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.folder), "--logfile", str(log)]
        log.touch()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.process, log, "redis-server")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class ServerDidNotStart(RuntimeError):
    """The server exited or did not answer in time; the message ends with its log."""


def start_gunicorn(env, log, timeout=30):
    """gunicorn (gunicorn.conf.py, wsgi:app) on a port of 127.0.0.1 bound here and handed over,
    so no other process can take it in between; its output goes to `log`. Returns (base URL,
    process, listening socket) once /health/live answers; the caller stops the process and closes
    the socket."""
    listener = socket.create_server(("127.0.0.1", 0))
    root = Path(__file__).resolve().parent.parent
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"fd://{listener.fileno()}",
                "wsgi:app",
            ],
            cwd=root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
        )
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{base}/health/live", timeout=1)
            return base, process, listener
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                listener.close()
                raise ServerDidNotStart("gunicorn did not start:\n" + Path(log).read_text()) from None
            time.sleep(0.1)
