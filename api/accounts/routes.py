"""/v1/auth (register, sign in, refresh, sign out) and /v1/me (the signed-in person's profile,
password and erasure)."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import auth_required
from api.accounts import logins, service
from api.accounts.schemas import (
    AccountErasureSchema,
    LoginSchema,
    PasswordChangeSchema,
    ProfileUpdateSchema,
    RegistrationSchema,
    TokenPairSchema,
    UserSchema,
)
from api.accounts.tokens import current_token_ids
from api.ratelimit import account_key, counts_failures, login_email_key, rate_limit
from api.smorest import Blueprint
from api.smorest.conventions import document, document_responses, operation, public
from api.smorest.etags import etag_headers, item_response, require_if_match, versioned
from api.smorest.parsing import takes_no_body

auth = Blueprint(
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


@auth.route("/register", methods=["POST"])
@public
@operation("registerAccount")
@document_responses(409)
@rate_limit("RATELIMIT_REGISTER_PER_IP")
@auth.arguments(RegistrationSchema)
@auth.response(201, UserSchema, headers=LOCATION)
def register(data):
    """Create a patient or therapist account.

    The e-mail address is unique regardless of case (409 when taken) and stored in lower case.
    Passwords need at least 10 characters. `timezone` (IANA, default `UTC`) places mood check-ins
    on the right local day; `country` (ISO 3166-1 alpha-2) picks crisis resources. Sign in with
    `logIn` afterwards. Rate limited per IP.
    """
    user = service.register(**data)
    return user, {"Location": "/v1/me"}


@auth.route("/login", methods=["POST"])
@public
@operation("logIn")
@document_responses(401)
@rate_limit("RATELIMIT_LOGIN_PER_IP")
@rate_limit("RATELIMIT_LOGIN_FAILURES_PER_EMAIL", key_func=login_email_key, counts=counts_failures(401))
@auth.arguments(LoginSchema)
@auth.response(200, TokenPairSchema)
def login(data):
    """Sign in with e-mail and password; returns a fresh token pair.

    Starts a new login (token family). The access token lives 15 minutes and is *fresh*, which
    password change and account erasure require. A wrong password and an unknown e-mail give the
    same 401. Repeated failures for one e-mail address, and many attempts from one IP, get 429
    with `Retry-After`.
    """
    return logins.log_in(email=data["email"], password=data["password"])


@auth.route("/refresh", methods=["POST"])
@auth_required(refresh=True)
@takes_no_body
@operation("refreshTokens")
@document(security=[{"refreshToken": []}])
@auth.response(200, TokenPairSchema)
def refresh():
    """Exchange a refresh token (as the Bearer token) for a new pair.

    Refresh tokens are single-use. A phone that lost the response may retry with the same
    token within 30 seconds, while the new refresh token is still unused: it gets that same new
    refresh token again, with a new access token. Any other reuse signs the whole login out
    (401 `refresh-token-reused`). Access tokens from a refresh are not fresh.
    """
    family_id, jti = current_token_ids()
    return logins.rotate_refresh_token(user_id=current_user.id, family_id=family_id, jti=jti)


@auth.route("/logout", methods=["POST"])
@auth_required()
@takes_no_body
@operation("logOut")
@auth.response(204)
def logout():
    """Sign out: this login's access and refresh tokens stop working at once.

    Other logins of the same account (other devices) stay signed in.
    """
    family_id, _ = current_token_ids()
    logins.log_out(family_id=family_id)


me = Blueprint("me", __name__, url_prefix="/v1/me", description="The signed-in person's own account.")

# Password change and erasure check the same password, so their wrong guesses count together.
password_check_limit = rate_limit(
    "RATELIMIT_PASSWORD_CHECK_PER_USER",
    key_func=account_key,
    counts=counts_failures(403),
    shared_by="password-check",
)


@me.route("")
class Me(MethodView):
    @auth_required()
    @operation("getMe")
    @versioned
    @me.response(200, UserSchema)
    def get(self):
        """Read your profile.

        Carries an `ETag`; send it back in `If-None-Match` to get 304 when nothing changed.
        """
        return item_response(current_user)

    @auth_required()
    @operation("updateMe")
    @versioned
    @me.arguments(ProfileUpdateSchema)
    @me.response(200, UserSchema)
    def patch(self, changes):
        """Change your display name, time zone or country.

        Needs `If-Match` with the profile's current ETag: 428 without it, 412 (with the current
        profile under `current`) when another device changed it first. `country: null` clears it.
        """
        require_if_match(current_user, UserSchema())
        user = service.update_profile(user=current_user, changes=changes)
        return user, etag_headers(user)

    @auth_required(fresh=True)
    @operation("deleteMe")
    @password_check_limit
    @me.arguments(AccountErasureSchema)
    @me.response(204)
    def delete(self, data):
        """Erase your account and everything it owns.

        Needs a fresh token (from a password sign-in) and the password; the data is deleted for
        real, every login ends, and the e-mail address becomes free. Wrong passwords are
        throttled.
        """
        service.erase_account(user=current_user, password=data["password"])


@me.route("/password", methods=["POST"])
@auth_required(fresh=True)
@operation("changePassword")
@document_responses(409)
@password_check_limit
@me.arguments(PasswordChangeSchema)
@me.response(204)
def change_password(data):
    """Change your password (needs a fresh sign-in); signs out your other logins.

    This login stays signed in; every other device must sign in again with the new password.
    A wrong `current_password` is 403, and wrong passwords are throttled.
    """
    service.change_password(
        user=current_user,
        family_id=current_token_ids()[0],
        current_password=data["current_password"],
        new_password=data["new_password"],
    )
