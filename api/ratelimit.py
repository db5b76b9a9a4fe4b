"""Rate limits: declared on routes, enforced by one flask-limiter Limiter per app.

Routes say what they need with `@rate_limit(...)`; `init_app` builds the app's own Limiter
(counters in Redis when REDIS_URL is set, so every instance shares them; else in a SQLite file
that every worker process of this instance shares) and applies the declarations to the
registered views. Two apps in one process never share counters.

A limit on failures (`counts=`: wrong passwords, unusable codes) takes its slot when the request
starts, in one atomic increment, and gives it back when the answer is not a failure. Checking
first and counting afterwards would let a burst of simultaneous guesses all pass the check.
"""

import functools
import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, has_request_context, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter import HeaderNames, Limiter
from jwt import PyJWTError
from limits import WindowStats, parse
from limits.errors import StorageError
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from werkzeug.exceptions import HTTPException

from api import ratelimit_storage  # noqa: F401  (registers the sqlite-file:// storage)
from api.body import json_body
from api.errors import Problem

EXTENSION_KEY = "rate_limiter"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeclaredLimit:
    config_key: str
    key_func: object = None
    counts: object = None
    shared_by: str | None = None


def rate_limit(config_key, *, key_func=None, counts=None, shared_by=None):
    """Limit a view by the limit string in app.config[config_key] (read per request).

    With `counts` (a status -> bool), only answers it picks count: a limit on failures. Views
    that name the same `shared_by` draw on one count (each view has its own otherwise).
    """

    def decorator(func):
        declared = DeclaredLimit(config_key, key_func, counts, shared_by)
        func._rate_limits = [*getattr(func, "_rate_limits", []), declared]
        return func

    return decorator


def client_address():
    """The client's IP address (behind a proxy, ProxyFix has already put the real one here)."""
    return request.remote_addr or "unknown"


def config_limit(name):
    return lambda: current_app.config[name]


def hashed(value):
    """Keys hold keyed digests, never the e-mail addresses themselves, nor a plain hash that
    anyone reading Redis could match against a list of addresses. The key is derived from
    JWT_SECRET_KEY, which every instance shares."""
    secret = _rate_limit_key(current_app.config["JWT_SECRET_KEY"])
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]


@functools.cache
def _rate_limit_key(jwt_secret):
    """Derived once per secret, not on every sign-in."""
    return hashlib.sha256(b"rate-limit keys\x00" + jwt_secret.encode()).digest()


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


def bearer_token():
    """The token of `Authorization: Bearer <token>`, read as flask-jwt-extended reads it (the
    header may list other schemes, comma-separated); None when there is not exactly one."""
    header = request.headers.get("Authorization", "").strip().strip(",")
    bearers = [value for value in re.split(r",\s*", header) if value and value.split()[0] == "Bearer"]
    parts = bearers[0].split() if len(bearers) == 1 else []
    return parts[1] if len(parts) == 2 else None


def account_key():
    """Counted per account: the subject of the bearer token, once its signature, expiry, issuer
    and audience check out. However the header is written, and across refreshes and new
    sign-ins, the same person has one count.

    Runs before the view authenticates. A request whose token does not verify is refused there
    (401, which no failure limit counts); it is keyed by its address, so such requests cannot
    use up a count anyone else depends on.
    """
    try:
        subject = decode_token(bearer_token() or "")["sub"]
    except (PyJWTError, JWTExtendedException, KeyError):
        return f"unverified:{client_address()}"
    return f"account:{subject}"


def counts_failures(status):
    return lambda answered: answered == status


class TooManyFailures(Problem):
    status = 429
    slug = "rate-limited"

    def __init__(self, limit, retry_after):
        super().__init__(
            f"Too many requests ({limit}); retry after the seconds in Retry-After.",
            headers={"Retry-After": str(retry_after)},
        )


class LimitUnavailable(Problem):
    status = 503
    slug = "service-unavailable"

    def __init__(self):
        super().__init__(
            "The rate-limit counters cannot be reached; retry shortly.", headers={"Retry-After": "5"}
        )


def _storage_errors(strategy):
    return (StorageError, *_as_tuple(strategy.storage.base_exceptions))


def _as_tuple(exceptions):
    return exceptions if isinstance(exceptions, tuple) else (exceptions,)


def _status_of(error):
    return getattr(error, "code", None) or getattr(error, "status", None) or 500


def limit_failures(view, declared, limiter, methods):
    """Enforce a limit on failures atomically: every attempt holds a slot while it runs."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if methods and request.method not in methods:
            return view(*args, **kwargs)
        item = parse(current_app.config[declared.config_key])
        scope = declared.shared_by or request.endpoint
        identity = (current_app.config["RATELIMIT_KEY_PREFIX"], declared.key_func(), scope)
        strategy = limiter.limiter
        try:
            allowed = strategy.hit(item, *identity)
        except _storage_errors(strategy) as error:
            # An attempt that cannot be counted is not let through: this limit guards passwords.
            log.warning("rate-limit storage failed (%s) in %s", type(error).__name__, request.endpoint)
            raise LimitUnavailable() from None
        if not allowed:
            # Refused: the slot goes back at once. Only if the count is full without it are
            # there (nearly always) that many failures; otherwise it is attempts still running.
            full = _give_back(strategy, item, identity) >= item.amount
            reset = strategy.get_window_stats(item, *identity).reset_time
            raise TooManyFailures(item, max(int(reset + 1) - int(time.time()), 1) if full else 1)
        answered = 500
        try:
            response = current_app.make_response(view(*args, **kwargs))
            answered = response.status_code
            return response
        except Exception as error:
            answered = _status_of(error)
            raise
        finally:
            if not declared.counts(answered):
                _give_back(strategy, item, identity)

    return wrapper


def _give_back(strategy, item, identity):
    """Return a slot taken by `hit`; the count that remains. If the storage fails, the slot stays
    taken (the safe side) until its window ends."""
    key = item.key_for(*identity)
    try:
        if strategy.storage.get(key) > 0:
            return strategy.storage.incr(key, item.get_expiry(), amount=-1)
    except _storage_errors(strategy) as error:
        log.warning("rate-limit storage failed (%s) giving a slot back", type(error).__name__)
        return item.amount
    return 0


def _declared_limits(view):
    """(limit, methods) pairs declared on a view function or on a MethodView's methods."""
    declared: list[tuple[object, list[str] | None]]
    declared = [(limit, None) for limit in getattr(view, "_rate_limits", [])]
    view_class = getattr(view, "view_class", None)
    for method in getattr(view_class, "methods", None) or ():
        handler = getattr(view_class, method.lower())
        declared += [(limit, [method]) for limit in getattr(handler, "_rate_limits", [])]
    return declared


class FixedWindowAfterHit(FixedWindowRateLimiter):
    """flask-limiter's fixed window, whose X-RateLimit-* headers come from the request's own hit.

    flask-limiter counts a request with one `hit` (one upsert that returns the new count and the
    window's end) and then reads the same counter back for its headers (`get_window_stats`: two
    more reads). Here a hit remembers, for the rest of its request (in `g`), what its storage
    returned, and the headers use that: one storage round trip per limit instead of three. A
    limit is still enforced by the hit's atomic count alone, as before; outside a request, or
    with a storage that does not say (Redis), the counter is read as ever.
    """

    NAME = "fixed-window-after-hit"

    def hit(self, item, *identifiers, cost=1):
        key = item.key_for(*identifiers)
        count = self.storage.incr(key, item.get_expiry(), amount=cost)
        window = getattr(self.storage, "window_after_increment", lambda key: None)(key)
        if window is not None and has_request_context():
            g.setdefault("rate_limit_windows", {})[key] = window
        return count <= item.amount

    def get_window_stats(self, item, *identifiers):
        windows = g.get("rate_limit_windows") if has_request_context() else None
        window = windows.pop(item.key_for(*identifiers), None) if windows else None
        if window is None:
            return super().get_window_stats(item, *identifiers)
        count, expires_at = window
        return WindowStats(expires_at, max(0, item.amount - count))


STRATEGIES[FixedWindowAfterHit.NAME] = FixedWindowAfterHit

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
        strategy=FixedWindowAfterHit.NAME,
    )
    limiter.init_app(app)
    for endpoint, view in list(app.view_functions.items()):
        for declared, methods in _declared_limits(view):
            if declared.counts:
                view = limit_failures(view, declared, limiter, methods)
                continue
            options = {"key_func": declared.key_func, "methods": methods}
            limit = config_limit(declared.config_key)
            if declared.shared_by:
                view = limiter.shared_limit(limit, declared.shared_by, **options)(view)
            else:
                view = limiter.limit(limit, **options)(view)
        app.view_functions[endpoint] = view
    app.extensions[EXTENSION_KEY] = limiter


def limiter_of(app):
    return app.extensions[EXTENSION_KEY]
