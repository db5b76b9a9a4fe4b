"""/v1/sync: one change feed across all of the patient's records, for offline apps."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from api.access import PATIENTS, auth_required
from api.smorest import Blueprint
from api.smorest.conventions import operation
from api.sync import service
from api.sync.schemas import SyncPageSchema, SyncQuerySchema

blp = Blueprint("sync", __name__, url_prefix="/v1/sync", description="Delta sync for offline-first apps.")


@blp.route("")
class Sync(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("syncChanges")
    @blp.arguments(SyncQuerySchema, location="query")
    @blp.response(200, SyncPageSchema)
    def get(self, query):
        """Changes to your records since a cursor: upserts and tombstones, oldest first.

        Start without a cursor; follow `next_cursor` while `has_more` is true, then keep the
        last `next_cursor` for the next sync. Every change appears exactly once, also when
        several devices write at the same moment; a record changed twice appears once, in
        its latest state, at its latest position.

        Besides your own records, the feed carries what the server makes for you: a
        `safety_event` when a PHQ-9's item 9 is above 0, and its acknowledgements; a `follow_up`
        for each step of your integration plan after a session, changed when it is moved,
        completed or dismissed and deleted with the session, so a device can schedule its own
        reminders offline. New types may be added: a client should skip a change whose `type` it
        does not know and go on paging.
        """
        after_seq = service.decode_sync_cursor(query["cursor"]) if "cursor" in query else 0
        return service.changes_since(owner_id=current_user.id, after_seq=after_seq, limit=query["limit"])
