"""The browser hardening headers on every response, and the Content-Security-Policy of each page.

API responses are data, never a page: their policy lets them load nothing and be framed by
nothing. The two documentation pages (/docs, Swagger UI; /redoc, ReDoc) load the vendored
assets from this server only (api/static/docs/), Swagger UI's one inline script carries a nonce
made for the request (api/templates/; ReDoc's page has none), and they fetch the spec from
/openapi.json; nothing comes from elsewhere, nothing is evaluated from a string (no 'unsafe-eval').
"""

import secrets

from flask import g, request

# Sent over TLS only (RFC 6797 §7.2: a user agent ignores it on plain HTTP, and it would say
# nothing true there): two years, subdomains included.
HSTS = "max-age=63072000; includeSubDomains"

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# What both documentation pages share; `script-src` and `style-src` are per page.
DOCS_POLICY = (
    "default-src 'none'; connect-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# Swagger UI: its stylesheet is a file; React sets its inline styles through the DOM (CSSOM),
# which a policy does not restrict.
SWAGGER_UI_ENDPOINT = "openapi_swagger_ui"
# ReDoc renders with styled-components, which writes <style> elements at run time with no way
# to give them the page's nonce from outside its bundle: styles (only) need 'unsafe-inline'.
# Styles cannot run code. Its search index runs in a Web Worker that the bundle makes from its
# own code as a blob: URL; only script already running on the page can make one, so
# `worker-src blob:` admits no code from elsewhere. The page has no inline script.
REDOC_ENDPOINT = "openapi_redoc"


def csp_nonce():
    """This request's nonce (one per response, unguessable), for the docs templates' inline script."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy():
    page = (request.endpoint or "").rpartition(".")[2]
    if page == SWAGGER_UI_ENDPOINT:
        return f"{DOCS_POLICY}; script-src 'self' 'nonce-{csp_nonce()}'; style-src 'self'"
    if page == REDOC_ENDPOINT:
        return f"{DOCS_POLICY}; script-src 'self'; worker-src blob:; style-src 'self' 'unsafe-inline'"
    return API_POLICY


def add_security_headers(response):
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Content-Security-Policy"] = content_security_policy()
    if request.is_secure:  # behind the proxy: X-Forwarded-Proto, trusted through ProxyFix
        headers["Strict-Transport-Security"] = HSTS
    return response


def init_app(app):
    app.after_request(add_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
