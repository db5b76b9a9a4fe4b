"""gunicorn settings for `web:` in the Procfile; tuned by environment variables."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
# deploy/nginx keeps idle upstream connections 4 s, below this, so it never reuses one being closed.
keepalive = 5
# Proxies whose X-Forwarded-* headers are trusted (set PROXY_FIX_X_FOR for the app too).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The app writes one JSON line per request (api/logs.py): gunicorn's own access log would be a
# second line for each, so it is off.
accesslog = None
# gunicorn's own messages (start, workers, requests it cannot parse, timeouts) go to stderr as
# JSON too (LOG_FORMAT), held to what the app's logs may hold (api/logs.py).
logger_class = "api.logs.GunicornLogger"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's control socket has one default path per user, so instances on one host would take
# it from each other; this service is managed by signals and its platform, not through it.
control_socket_disable = True
# If the access log is turned on (--access-logfile), it writes no query string (%(r)s and
# %(q)s would log filters such as ?tag=...): method, encoded path, protocol, status and ids.
access_log_format = (
    '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms '
    "request_id=%({journal.request_id}e)s x_request_id=%({x-request-id}o)s"
)


def pre_request(worker, req):
    """Nothing: gunicorn's default writes each request's path at debug level, and a path holds
    ids and whatever a client put there. The app's own line names the route template instead."""


# Behind nginx (deploy/nginx), whose limits are met first and answer in problem+json: a request
# line up to 4094 bytes (nginx's 4 KiB buffer less its CRLF), and header lines counted by nginx's
# total size rather than by gunicorn's default of 100.
limit_request_line = 4094
limit_request_fields = 32768
# The scheme comes only from X-Forwarded-Proto, which nginx sets (and only from
# FORWARDED_ALLOW_IPS); gunicorn's other scheme headers are not read.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}


# How often a thread that wants the GIL gets it from one that holds it: 1 ms, not Python's 5 ms.
# A request whose database call has returned (a COMMIT, or the handing on of SQLite's writer
# turn, api/connections.py) waits for the GIL while another thread of its worker runs Python;
# at 5 ms a turn was held that much longer and every writer behind it waited too. At 16
# connections, SQLite creates' p99 went from 97-120 ms to 89-94 ms (bench/README.md).
def _switch_interval():
    setting = os.environ.get("GIL_SWITCH_INTERVAL_MS", "1")
    try:
        milliseconds = float(setting)
    except ValueError:
        milliseconds = 0.0
    if not 0.01 <= milliseconds <= 1000:  # below that Python rounds the interval down to nothing
        raise SystemExit(
            f"GIL_SWITCH_INTERVAL_MS must be a number of milliseconds from 0.01 to 1000, not {setting!r}"
        )
    return milliseconds / 1000


switch_interval = _switch_interval()


def post_worker_init(worker):
    """Each worker, once it has loaded the app: the GIL's switch interval above."""
    import sys

    sys.setswitchinterval(switch_interval)
