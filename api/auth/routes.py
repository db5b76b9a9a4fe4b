"""/v1/auth: register, sign in, refresh and sign out."""

from flask_jwt_extended import current_user

from api.access import auth_required
from api.auth import service
from api.auth.tokens import current_token_ids
from api.auth.schemas import LoginSchema, TokenPairSchema
from api.ratelimit import counts_failures, login_email_key, rate_limit
from api.smorest import Blueprint, document_responses, operation, public, takes_no_body
from api.users import service as users_service
from api.users.schemas import RegistrationSchema, UserSchema

blp = Blueprint(
    "auth",
    __name__,
    url_prefix="/v1/auth",
    description="Accounts and tokens: register, sign in, refresh a token pair, sign out.",
)

LOCATION = {
    "Location": {
        "description": "Where the created resource lives.",
        "schema": {"type": "string", "format": "uri-reference", "maxLength": 2048},
    }
}


@blp.route("/register", methods=["POST"])
@public
@operation("registerAccount")
@document_responses(409)
@rate_limit("RATELIMIT_REGISTER_PER_IP")
@blp.arguments(RegistrationSchema)
@blp.response(201, UserSchema, headers=LOCATION)
def register(data):
    """Create a patient or therapist account.

    The e-mail address is unique regardless of case (409 when taken) and stored in lower case.
    Passwords need at least 10 characters. `timezone` (IANA, default `UTC`) places mood check-ins
    on the right local day; `country` (ISO 3166-1 alpha-2) picks crisis resources. Sign in with
    `logIn` afterwards. Rate limited per IP.
    """
    user = users_service.register(**data)
    return user, {"Location": "/v1/me"}


@blp.route("/login", methods=["POST"])
@public
@operation("logIn")
@document_responses(401)
@rate_limit("RATELIMIT_LOGIN_PER_IP")
@rate_limit("RATELIMIT_LOGIN_FAILURES_PER_EMAIL", key_func=login_email_key, counts=counts_failures(401))
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairSchema)
def login(data):
    """Sign in with e-mail and password; returns a fresh token pair.

    Starts a new login (token family). The access token lives 15 minutes and is *fresh*, which
    password change and account erasure require. A wrong password and an unknown e-mail give the
    same 401. Repeated failures for one e-mail address, and many attempts from one IP, get 429
    with `Retry-After`.
    """
    return service.log_in(email=data["email"], password=data["password"])


@blp.route("/refresh", methods=["POST"])
@auth_required(refresh=True)
@takes_no_body
@operation("refreshTokens")
@blp.response(200, TokenPairSchema)
def refresh():
    """Exchange a refresh token (as the Bearer token) for a new pair.

    Refresh tokens are single-use. Retrying with the same token within 30 seconds (a lost
    response) returns the same new pair; replaying it later signs the whole login out (401
    `refresh-token-reused`). Access tokens from a refresh are not fresh.
    """
    family_id, jti = current_token_ids()
    return service.rotate_refresh_token(user_id=current_user.id, family_id=family_id, jti=jti)


@blp.route("/logout", methods=["POST"])
@auth_required()
@takes_no_body
@operation("logOut")
@blp.response(204)
def logout():
    """Sign out: this login's access and refresh tokens stop working at once.

    Other logins of the same account (other devices) stay signed in.
    """
    family_id, _ = current_token_ids()
    service.log_out(family_id=family_id)
