"""gunicorn settings for `web:` in the Procfile; tuned by environment variables."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Proxies whose X-Forwarded-* headers are trusted (set PROXY_FIX_X_FOR for the app too).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# Holds gunicorn's own messages to what the app's logs may hold (api/logs.py).
logger_class = "api.logs.GunicornLogger"
# gunicorn's control socket has one default path per user, so instances on one host would take
# it from each other; this service is managed by signals and its platform, not through it.
control_socket_disable = True
errorlog = "-"
# Method, path and protocol, never the query string (%(r)s and %(q)s would log filters such as
# ?tag=...); the server's request id, and the X-Request-ID answered (the client's when it sent one).
access_log_format = (
    '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms '
    "request_id=%({journal.request_id}e)s x_request_id=%({x-request-id}o)s"
)
