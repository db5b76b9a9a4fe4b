"""Rate-limit keys and limits: who a request is counted against, and how much it may do."""

import hashlib

from flask import current_app, request


def client_address():
    """The client's IP address (behind a proxy, ProxyFix has already put the real one here)."""
    return request.remote_addr or "unknown"


def default_limit():
    return current_app.config["RATELIMIT_DEFAULT"]


def config_limit(name):
    """A limit read from configuration at request time, so deployments and tests can tune it."""
    return lambda: current_app.config[name]


def hashed(value):
    """Keys hold digests, never the e-mail addresses or tokens themselves."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def login_email_key():
    """Failed sign-ins are counted per normalised e-mail, whether or not an account has it."""
    body = request.get_json(silent=True)
    email = body.get("email") if isinstance(body, dict) else None
    email = email.strip().lower() if isinstance(email, str) else ""
    return "login-email:" + hashed(email)


def bearer_token_key():
    """Password checks behind a token are counted per token (only fresh tokens reach them)."""
    return "bearer:" + hashed(request.headers.get("Authorization", ""))


def counts_failures(status):
    return lambda response: response.status_code == status
