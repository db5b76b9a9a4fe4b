"""Rate limits: declared on routes, enforced by one flask-limiter Limiter per app.

Routes say what they need with `@rate_limit(...)`; `init_app` builds the app's own Limiter
(in-memory, or Redis when REDIS_URL is set so every instance shares the counters) and applies
the declarations to the registered views. Two apps in one process never share counters.
"""

import hashlib
from dataclasses import dataclass

from flask import current_app, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter import HeaderNames, Limiter
from jwt import PyJWTError
from werkzeug.exceptions import HTTPException

from api import ratelimit_storage  # noqa: F401  (registers the sqlite-file:// storage)
from api.body import json_body
from api.errors import Problem

EXTENSION_KEY = "rate_limiter"


@dataclass(frozen=True)
class DeclaredLimit:
    config_key: str
    key_func: object = None
    deduct_when: object = None
    shared_by: str | None = None


def rate_limit(config_key, *, key_func=None, deduct_when=None, shared_by=None):
    """Limit a view by the limit string in app.config[config_key] (read per request).

    Views that name the same `shared_by` draw on one count (each view has its own otherwise).
    """

    def decorator(func):
        declared = DeclaredLimit(config_key, key_func, deduct_when, shared_by)
        func._rate_limits = [*getattr(func, "_rate_limits", []), declared]
        return func

    return decorator


def client_address():
    """The client's IP address (behind a proxy, ProxyFix has already put the real one here)."""
    return request.remote_addr or "unknown"


def config_limit(name):
    return lambda: current_app.config[name]


def hashed(value):
    """Keys hold digests, never the e-mail addresses or tokens themselves."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def login_email_key():
    """Failed sign-ins are counted per normalised e-mail, whether or not an account has it.

    A body that cannot be read counts under one shared key; the request is refused (400/413/422)
    before any password is checked.
    """
    try:
        body = json_body()
    except (Problem, HTTPException):
        body = None
    email = body.get("email") if isinstance(body, dict) else None
    email = email.strip().lower() if isinstance(email, str) else ""
    return "login-email:" + hashed(email)


def account_key():
    """Counted per account: the subject of the bearer token, once its signature, expiry, issuer
    and audience check out. However the header is spaced, and across refreshes and new sign-ins,
    the same person has one count.

    Runs before the view authenticates; a request whose token does not verify is refused there
    (401, never counted), so it shares one key here.
    """
    parts = request.headers.get("Authorization", "").split()
    try:
        if len(parts) != 2 or parts[0] != "Bearer":
            raise ValueError
        subject = decode_token(parts[1])["sub"]
    except (PyJWTError, JWTExtendedException, ValueError, KeyError):
        return "account:unverified"
    return f"account:{subject}"


def counts_failures(status):
    return lambda response: response.status_code == status


def _declared_limits(view):
    """(limit, methods) pairs declared on a view function or on a MethodView's methods."""
    declared = [(limit, None) for limit in getattr(view, "_rate_limits", [])]
    view_class = getattr(view, "view_class", None)
    for method in getattr(view_class, "methods", None) or ():
        handler = getattr(view_class, method.lower())
        declared += [(limit, [method]) for limit in getattr(handler, "_rate_limits", [])]
    return declared


# flask-limiter writes its Retry-After on every response; we keep it for 429s only.
LIMITER_RETRY_AFTER = "X-Limiter-Retry-After"


def _retry_after_on_429_only(response):
    retry_after = response.headers.pop(LIMITER_RETRY_AFTER, None)
    if response.status_code == 429 and retry_after is not None:
        response.headers["Retry-After"] = str(max(int(retry_after), 1))
    return response


def init_app(app):
    # Registered before the limiter's own hook, so it runs after it (Flask runs them in reverse).
    app.after_request(_retry_after_on_429_only)
    limiter = Limiter(
        key_func=client_address,
        default_limits=[config_limit("RATELIMIT_DEFAULT")],
        header_name_mapping={HeaderNames.RETRY_AFTER: LIMITER_RETRY_AFTER},
    )
    limiter.init_app(app)
    for endpoint, view in list(app.view_functions.items()):
        for declared, methods in _declared_limits(view):
            options = {"key_func": declared.key_func, "deduct_when": declared.deduct_when, "methods": methods}
            limit = config_limit(declared.config_key)
            if declared.shared_by:
                view = limiter.shared_limit(limit, declared.shared_by, **options)(view)
            else:
                view = limiter.limit(limit, **options)(view)
        app.view_functions[endpoint] = view
    app.extensions[EXTENSION_KEY] = limiter


def limiter_of(app):
    return app.extensions[EXTENSION_KEY]
