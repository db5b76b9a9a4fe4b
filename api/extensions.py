"""Flask extensions, created unbound here and bound to an app in create_app (rate limits:
api/ratelimit.py)."""

from typing import TYPE_CHECKING

from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from api.models import Base

db = SQLAlchemy(model_class=Base)

# The base class of every table: Flask-SQLAlchemy's db.Model, which type checkers know as Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
jwt = JWTManager()
cors = CORS()
