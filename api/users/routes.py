"""/v1/me: the signed-in person's profile, password and erasure."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import auth_required
from api.auth.tokens import current_token_ids
from api.ratelimit import account_key, counts_failures, rate_limit
from api.smorest import Blueprint, etag_headers, item_response, operation, require_if_match, versioned
from api.users import service
from api.users.schemas import AccountErasureSchema, PasswordChangeSchema, ProfileUpdateSchema, UserSchema

blp = Blueprint("me", __name__, url_prefix="/v1/me", description="The signed-in person's own account.")

# Password change and erasure check the same password, so their wrong guesses count together.
password_check_limit = rate_limit(
    "RATELIMIT_PASSWORD_CHECK_PER_USER", key_func=account_key, counts=counts_failures(403), shared_by="password-check"
)


@blp.route("")
class Me(MethodView):
    @auth_required()
    @operation("getMe")
    @versioned
    @blp.response(200, UserSchema)
    def get(self):
        """Read your profile.

        Carries an `ETag`; send it back in `If-None-Match` to get 304 when nothing changed.
        """
        return item_response(current_user)

    @auth_required()
    @operation("updateMe")
    @versioned
    @blp.arguments(ProfileUpdateSchema)
    @blp.response(200, UserSchema)
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
    @blp.arguments(AccountErasureSchema)
    @blp.response(204)
    def delete(self, data):
        """Erase your account and everything it owns.

        Needs a fresh token (from a password sign-in) and the password; the data is deleted for
        real, every login ends, and the e-mail address becomes free. Wrong passwords are
        throttled.
        """
        service.erase_account(user=current_user, password=data["password"])


@blp.route("/password", methods=["POST"])
@auth_required(fresh=True)
@operation("changePassword")
@password_check_limit
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
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
