"""/health: liveness and readiness probes for the platform."""

import marshmallow as ma
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import Problem
from api.extensions import db
from api.smorest import Blueprint
from api.smorest.conventions import document_responses, operation, public

blp = Blueprint("health", __name__, url_prefix="/health", description="Liveness and readiness probes.")


class HealthSchema(ma.Schema):
    status = ma.fields.Constant("ok")


class DatabaseUnavailable(Problem):
    status = 503
    slug = "service-unavailable"

    def __init__(self):
        super().__init__("The database is not reachable.", headers={"Retry-After": "5"})


@blp.route("/live")
@public
@operation("checkLiveness")
@blp.response(200, HealthSchema)
def live():
    """Answer while the process is up.

    For liveness probes; needs no token and touches no database.
    """
    return {"status": "ok"}


@blp.route("/ready")
@public
@operation("checkReadiness")
@document_responses(503)
@blp.response(200, HealthSchema)
def ready():
    """Answer 200 when the database is reachable, 503 when it is not.

    For readiness probes and load balancers; needs no token.
    """
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        raise DatabaseUnavailable() from None
    finally:
        db.session.remove()
    return {"status": "ok"}
