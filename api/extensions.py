"""Flask extensions, created unbound here and bound to an app in create_app."""

from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from api.models import Base
from api.ratelimit import client_address, default_limit

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
limiter = Limiter(key_func=client_address, default_limits=[default_limit])
cors = CORS()
