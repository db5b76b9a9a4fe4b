"""argon2id password hashing, tuned by configuration, with rehash when the parameters change."""

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

EXTENSION_KEY = "password_hasher"


class Passwords:
    def __init__(self, *, time_cost, memory_cost, parallelism):
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID
        )
        # Verified against when no account has the e-mail, so both paths cost the same time.
        self.decoy_hash = self.hasher.hash("decoy password for unknown accounts")

    def hash(self, password):
        return self.hasher.hash(password)

    def verify(self, password_hash, password):
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash):
        return self.hasher.check_needs_rehash(password_hash)

    def spend_equal_time(self, password):
        self.verify(self.decoy_hash, password)


def init_app(app):
    app.extensions[EXTENSION_KEY] = Passwords(
        time_cost=app.config["ARGON2_TIME_COST"],
        memory_cost=app.config["ARGON2_MEMORY_COST"],
        parallelism=app.config["ARGON2_PARALLELISM"],
    )


def passwords():
    return current_app.extensions[EXTENSION_KEY]
