"""/v1/invitations (therapists make codes) and /v1/care-team (patients link, scope and revoke)."""

from flask import url_for
from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import PATIENTS, THERAPISTS, auth_required
from api.care_team import service
from api.care_team.schemas import (
    CareLinkCreateSchema,
    CareLinkPageSchema,
    CareLinkSchema,
    CareLinkUpdateSchema,
    InvitationCreatedSchema,
    InvitationPageSchema,
    InvitationSchema,
)
from api.idempotency import idempotent
from api.pagination import PAGE_HEADERS, PageQuerySchema, page_position, page_response
from api.ratelimit import account_key, client_address, counts_failures, rate_limit
from api.smorest import Blueprint
from api.smorest.conventions import document_responses, operation
from api.smorest.etags import (
    CREATED_HEADERS,
    created_response,
    etag_headers,
    item_response,
    require_if_match,
    versioned,
)
from api.smorest.parsing import takes_no_body

invitations = Blueprint(
    "invitations",
    __name__,
    url_prefix="/v1/invitations",
    description="Therapists' invitation codes: single use, valid 72 hours, shown once.",
)
care_team = Blueprint(
    "care_team",
    __name__,
    url_prefix="/v1/care-team",
    description="The therapists a patient shares with, and what each may read.",
)


# Not idempotent (see createInvitation), so no Idempotent-Replayed header.
INVITATION_CREATED_HEADERS = {
    name: header for name, header in CREATED_HEADERS.items() if name != "Idempotent-Replayed"
}


@invitations.route("")
class InvitationList(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("listInvitations")
    @invitations.arguments(PageQuerySchema, location="query")
    @invitations.response(200, InvitationPageSchema, headers=PAGE_HEADERS)
    def get(self, query):
        """List your invitations, newest first.

        `status` says whether each is still `open`, `used` or `expired`. Codes are never shown again.
        """
        rows, more = service.list_invitations(
            therapist_id=current_user.id, limit=query["limit"], after=page_position(query)
        )
        return page_response(rows, more, time_field="created_at")

    @auth_required(roles=THERAPISTS)
    @takes_no_body
    @operation("createInvitation")
    @invitations.response(201, InvitationCreatedSchema, headers=INVITATION_CREATED_HEADERS)
    def post(self):
        """Create an invitation code for a patient.

        The code is in this response only: the server keeps nothing but its hash. It works once,
        for 72 hours. No request body. `Idempotency-Key` is not honoured here, because replaying
        the answer would mean storing the code; a retried request makes a second invitation, and
        the unused one expires (or delete it).
        """
        invitation, code = service.create_invitation(therapist_id=current_user.id)
        location = url_for(".InvitationItem", invitation_id=invitation.id)
        _, status, headers = created_response(invitation, location=location)
        shown_once = {name: getattr(invitation, name) for name in InvitationSchema().fields}
        return {**shown_once, "code": code}, status, headers


@invitations.route("/<uuid:invitation_id>")
class InvitationItem(MethodView):
    @auth_required(roles=THERAPISTS)
    @operation("getInvitation")
    @versioned
    @invitations.response(200, InvitationSchema)
    def get(self, invitation_id):
        """Read one of your invitations.

        Without its code, which only the creating response showed. Carries an ETag (If-None-Match → 304).
        """
        invitation = service.get_invitation(therapist_id=current_user.id, invitation_id=invitation_id)
        return item_response(invitation)

    @auth_required(roles=THERAPISTS)
    @takes_no_body
    @operation("deleteInvitation")
    @versioned
    @invitations.response(204)
    def delete(self, invitation_id):
        """Withdraw an invitation: its code stops working at once.

        Needs If-Match. A patient already linked with it stays linked.
        """
        invitation = service.get_invitation(therapist_id=current_user.id, invitation_id=invitation_id)
        require_if_match(invitation, InvitationSchema())
        service.delete_invitation(invitation, current=InvitationSchema().dump)


@care_team.route("")
class CareLinkList(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("listCareLinks")
    @care_team.arguments(PageQuerySchema, location="query")
    @care_team.response(200, CareLinkPageSchema, headers=PAGE_HEADERS)
    def get(self, query):
        """List the therapists on your care team, newest link first.

        Each link names the therapist and the scopes you grant them. Revoked links are gone from here.
        """
        rows, more = service.list_links(
            patient_id=current_user.id, limit=query["limit"], after=page_position(query)
        )
        return page_response(rows, more, time_field="created_at")

    @auth_required(roles=PATIENTS)
    @operation("createCareLink")
    # Unusable codes are counted per account and per address. A code has 73 bits, so this only
    # keeps a guesser from trying at all.
    @rate_limit("RATELIMIT_CODE_FAILURES_PER_ACCOUNT", key_func=account_key, counts=counts_failures(422))
    @rate_limit("RATELIMIT_CODE_FAILURES_PER_IP", key_func=client_address, counts=counts_failures(422))
    @document_responses(409)
    @care_team.arguments(CareLinkCreateSchema)
    @care_team.response(201, CareLinkSchema, headers=CREATED_HEADERS)
    @idempotent(lambda link_id: created_link(service.get_link(patient_id=current_user.id, link_id=link_id)))
    def post(self, data):
        """Link a therapist with their invitation code, choosing what they may read.

        Any code that cannot be used (mistyped, used, expired, withdrawn) gets the same 422, so
        codes cannot be probed; wrong codes are throttled (429). 409 when that therapist is
        already on your care team (the code is not used up).
        """
        return created_link(
            service.redeem(patient_id=current_user.id, code=data["code"], scopes=data["scopes"])
        )


def created_link(link):
    return created_response(link, location=url_for(".CareLinkItem", link_id=link.id))


@care_team.route("/<uuid:link_id>")
class CareLinkItem(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("getCareLink")
    @versioned
    @care_team.response(200, CareLinkSchema)
    def get(self, link_id):
        """Read one link of your care team.

        Carries an ETag: send it as If-Match to change scopes or revoke, or as If-None-Match (304).
        """
        return item_response(service.get_link(patient_id=current_user.id, link_id=link_id))

    @auth_required(roles=PATIENTS)
    @operation("updateCareLink")
    @versioned
    @care_team.arguments(CareLinkUpdateSchema)
    @care_team.response(200, CareLinkSchema)
    def patch(self, changes, link_id):
        """Change what a therapist may read; it applies to their very next request.

        Needs If-Match with the link's current ETag (428 without, 412 when stale).
        """
        link = service.get_link(patient_id=current_user.id, link_id=link_id)
        require_if_match(link, CareLinkSchema())
        link = service.change_scopes(link, scopes=changes["scopes"], current=CareLinkSchema().dump)
        return link, etag_headers(link)

    @auth_required(roles=PATIENTS)
    @takes_no_body
    @operation("deleteCareLink")
    @versioned
    @care_team.response(204)
    def delete(self, link_id):
        """Revoke a therapist's access at once.

        Needs If-Match. From the next request on, the therapist sees nothing of yours: lists,
        records and cached ETags all answer 404.
        """
        link = service.get_link(patient_id=current_user.id, link_id=link_id)
        require_if_match(link, CareLinkSchema())
        service.revoke(link, current=CareLinkSchema().dump)
