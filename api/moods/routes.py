"""/v1/moods: the patient's mood check-ins."""

from flask import url_for
from flask.views import MethodView
from flask_jwt_extended import current_user

from api import records
from api.access import PATIENTS, auth_required
from api.idempotency import idempotent
from api.moods import service
from api.moods.models import Mood
from api.moods.schemas import MoodCreateSchema, MoodPageSchema, MoodQuerySchema, MoodSchema, MoodUpdateSchema
from api.pagination import decode_time_cursor, page_response
from api.sync import service as sync
from api.smorest import (
    CREATED_HEADERS,
    Blueprint,
    created_response,
    etag_headers,
    item_response,
    operation,
    require_if_match,
    versioned,
)

blp = Blueprint(
    "moods", __name__, url_prefix="/v1/moods", description="Mood check-ins: mood, energy, anxiety, sleep, emotions."
)
sync.register(Mood, MoodSchema)


@blp.route("")
class MoodList(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("listMoods")
    @blp.arguments(MoodQuerySchema, location="query")
    @blp.response(200, MoodPageSchema)
    def get(self, query):
        """List your mood check-ins, newest first.

        Filter by `from`/`to` (on `recorded_at`) and `emotion`; page with `cursor`.
        """
        after = decode_time_cursor(query["cursor"]) if "cursor" in query else None
        moods, more = service.list_moods(owner_id=current_user.id, query=query, after=after)
        return page_response(moods, more, time_field=Mood.TIME_FIELD)

    @auth_required(roles=PATIENTS)
    @operation("createMood")
    @idempotent
    @blp.arguments(MoodCreateSchema)
    @blp.response(201, MoodSchema, headers=CREATED_HEADERS)
    def post(self, data):
        """Record a mood check-in.

        `recorded_at` defaults to now; send the device's `timezone` so insights use its local day.
        """
        mood = service.create_mood(owner_id=current_user.id, data=data)
        return created_response(mood, location=url_for(".MoodItem", mood_id=mood.id))


@blp.route("/<uuid:mood_id>")
class MoodItem(MethodView):
    @auth_required(roles=PATIENTS)
    @operation("getMood")
    @versioned
    @blp.response(200, MoodSchema)
    def get(self, mood_id):
        """Read one mood check-in."""
        return item_response(records.get_owned(Mood, owner_id=current_user.id, record_id=mood_id))

    @auth_required(roles=PATIENTS)
    @operation("updateMood")
    @versioned
    @blp.arguments(MoodUpdateSchema)
    @blp.response(200, MoodSchema)
    def patch(self, changes, mood_id):
        """Change a mood check-in (needs If-Match)."""
        mood = records.get_owned(Mood, owner_id=current_user.id, record_id=mood_id)
        require_if_match(mood, MoodSchema())
        records.update_owned(mood, changes=changes, current=MoodSchema().dump)
        return mood, etag_headers(mood)

    @auth_required(roles=PATIENTS)
    @operation("deleteMood")
    @versioned
    @blp.response(204)
    def delete(self, mood_id):
        """Delete a mood check-in (needs If-Match); sync reports a tombstone."""
        mood = records.get_owned(Mood, owner_id=current_user.id, record_id=mood_id)
        require_if_match(mood, MoodSchema())
        records.delete_owned(mood, current=MoodSchema().dump)
