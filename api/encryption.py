"""Encryption at rest: the keyring (DATA_ENCRYPTION_KEYS), AES-256-GCM per value bound to its
column, the column types that use it, and the blind index that lets tags be filtered. `flask rotate-keys` is
in api/key_rotation.py.

A stored value reads `v1:<key id>:<base64url(nonce | ciphertext | tag)>`. The nonce is 96 random
bits per value; the associated data is the column's name (`entries.body`), so a value copied into
another column, or under another key, fails to decrypt instead of reading as something else.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Text, event, inspect
from sqlalchemy.orm import attributes
from sqlalchemy.types import TypeDecorator

from api.extensions import db

FORMAT = "v1"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
KEY_BYTES = 32
NONCE_BYTES = 12
HOW_TO_MAKE_A_KEY = (
    'make one with: echo "k1:$(openssl rand 32 | basenc --base64url)" '
    "(or python3 -c 'import secrets; print(\"k1:\" + secrets.token_urlsafe(32))')"
)
# A tag's blind index: 128 bits of HMAC-SHA256 are plenty to tell one person's tags apart.
DIGEST_HEX_CHARS = 32


class KeyringError(ValueError):
    """DATA_ENCRYPTION_KEYS is missing or malformed. Messages never quote key material."""


class DecryptionFailed(RuntimeError):
    """A stored value does not decrypt: tampered, copied from another column, or under another key."""


class UnknownDataKey(DecryptionFailed):
    """A stored value names a key id that DATA_ENCRYPTION_KEYS does not list (any more)."""


def _decode_key(key_id, encoded):
    """32 bytes of base64url, with or without `=` padding (`basenc --base64url` pads)."""
    text = encoded.strip().rstrip("=")
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise KeyringError(f"DATA_ENCRYPTION_KEYS: key {key_id!r} is not base64url")
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise KeyringError(f"DATA_ENCRYPTION_KEYS: key {key_id!r} is not base64url") from None
    if len(key) != KEY_BYTES:
        raise KeyringError(
            f"DATA_ENCRYPTION_KEYS: key {key_id!r} is {len(key)} bytes, not {KEY_BYTES}; {HOW_TO_MAKE_A_KEY}"
        )
    return key


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text):
    """The unpadded base64url that `_b64` writes, read as base64.urlsafe_b64decode reads it, in a
    third fewer steps. On other text the two may differ (padding inside, characters outside the
    alphabet), and a non-ASCII character is a ValueError: a value that is not ours fails its
    GCM tag either way (DecryptionFailed)."""
    return binascii.a2b_base64(text.encode("ascii").translate(_URLSAFE) + b"==")


@dataclass(frozen=True)
class DataKey:
    key_id: str
    aead: AESGCM
    index_key: bytes  # for blind indexes; derived, so the AES key itself is never used twice
    fingerprint_key: bytes  # for Idempotency-Key fingerprints (api/idempotency.py); derived too


def _derive(key, purpose):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


class Keyring:
    """The data keys, newest first: the newest encrypts, any of them decrypts what it made."""

    def __init__(self, keys):
        if not keys:
            raise KeyringError(f"DATA_ENCRYPTION_KEYS names no key; {HOW_TO_MAKE_A_KEY}")
        self.keys = [
            DataKey(
                key_id,
                AESGCM(key),
                _derive(key, b"integration-journal blind index v1"),
                _derive(key, b"integration-journal request fingerprint v1"),
            )
            for key_id, key in keys
        ]
        self.by_id = {key.key_id: key for key in self.keys}

    @classmethod
    def parse(cls, value):
        """`key_id:key,key_id:key`, newest first."""
        pairs: list[tuple[str, bytes]] = []
        for item in (value or "").split(","):
            item = item.strip()
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            key_id = key_id.strip()
            if not sep:
                raise KeyringError("DATA_ENCRYPTION_KEYS: each item is key_id:key")
            if not KEY_ID_PATTERN.fullmatch(key_id):
                # Not quoted: a key written before its id would show here.
                raise KeyringError(
                    f"DATA_ENCRYPTION_KEYS: item {len(pairs) + 1} has no valid key id (1 to 32 of "
                    "A-Z a-z 0-9 _ -, then a colon, then the key)"
                )
            if key_id in {seen for seen, _ in pairs}:
                raise KeyringError(f"DATA_ENCRYPTION_KEYS: key id {key_id!r} is listed twice")
            pairs.append((key_id, _decode_key(key_id, encoded)))
        return cls(pairs)

    @property
    def newest(self):
        return self.keys[0]

    def prefix(self, key=None):
        return f"{FORMAT}:{(key or self.newest).key_id}:"

    def encrypt(self, plaintext, context):
        key = self.newest
        nonce = os.urandom(NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode())
        return self.prefix(key) + _b64(nonce + sealed)

    def decrypt(self, stored, context):
        version, _, rest = stored.partition(":")
        key_id, _, payload = rest.partition(":")
        if version != FORMAT or not payload:
            raise DecryptionFailed(f"{context}: the stored value is not encrypted data of format {FORMAT}")
        key = self.by_id.get(key_id)
        if key is None:
            raise UnknownDataKey(
                f"{context}: the value is under key id {key_id!r}, which DATA_ENCRYPTION_KEYS does not "
                "list; add that key back (after the newest) and run `flask rotate-keys`"
            )
        try:
            raw = _unb64(payload)
            plaintext = key.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionFailed(
                f"{context}: the value under key id {key_id!r} does not decrypt (changed, or copied "
                "from another column)"
            ) from None
        return plaintext.decode("utf-8")

    def is_current(self, stored):
        return stored.startswith(self.prefix())

    def digest(self, value, context, owner_id, key=None):
        """The blind index of one list item: HMAC-SHA256 of its case-folded text and its owner
        under a key derived from a data key (the newest unless given). With the owner in it, the
        same tag of two people has two digests: a dump shows no one which patients share a tag,
        nor how often a tag occurs across the clinic (every filter is one owner's anyway)."""
        # Caseless and canonical: "Café" typed on one phone (NFC) and on another (NFD) is one tag.
        folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).casefold())
        message = f"{context}\x00{uuid.UUID(str(owner_id))}\x00{folded}".encode()
        mac = hmac.new((key or self.newest).index_key, message, hashlib.sha256)
        return mac.hexdigest()[:DIGEST_HEX_CHARS]

    def digests_of_any_key(self, value, context, owner_id):
        """What a stored index may hold for `value`: its digest under each configured key, so a
        filter still finds rows that `flask rotate-keys` has not reached yet."""
        return [self.digest(value, context, owner_id, key) for key in self.keys]

    def index(self, values, context, owner_id):
        return [self.digest(value, context, owner_id) for value in values]

    def fingerprint(self, message, key=None):
        """HMAC-SHA256 of a request (method, path, body) under a key derived from a data key (the
        newest unless given): stored, it cannot be used to confirm a guess at the text it was
        made from, as a plain hash of a short mood note could."""
        return hmac.new((key or self.newest).fingerprint_key, message, hashlib.sha256).hexdigest()

    def fingerprints_of_any_key(self, message):
        return [self.fingerprint(message, key) for key in self.keys]


def keyring():
    """The current app's keyring (set up by init_app)."""
    return current_app.extensions["data_encryption"]


class EncryptedText(TypeDecorator):
    """Text stored encrypted, bound to its column (`context`, e.g. "entries.body"). NULL stays NULL.

    Lengths are the schemas' business: a ciphertext is longer than its text, so the column is Text.
    Comparing such a column with a value in SQL finds nothing (every encryption differs); filters
    that need it use a blind index (EncryptedList).
    """

    impl = Text
    cache_ok = True
    migration_type = "sa.Text()"

    def __init__(self, context):
        super().__init__()
        self.context = context

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return keyring().encrypt(value, self.context)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return keyring().decrypt(value, self.context)


class EncryptedList(EncryptedText):
    """A JSON list of strings stored encrypted; `blind_index` names the column that keeps the
    items' digests (Keyring.index), kept in step by `_keep_blind_indexes` and by rotate-keys."""

    cache_ok = True

    def __init__(self, context, blind_index=None):
        super().__init__(context)
        self.blind_index = blind_index

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return super().process_bind_param(json.dumps(list(value), ensure_ascii=False), dialect)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return json.loads(super().process_result_value(value, dialect))


def encrypted_columns(table):
    return [column for column in table.columns if isinstance(column.type, EncryptedText)]


def blind_index_of(column):
    """The blind index column of an encrypted list attribute (e.g. Entry.tags -> Entry.tag_index)."""
    name = column.property.columns[0].type.blind_index
    return getattr(column.class_, name)


@event.listens_for(db.session, "before_flush")
def _keep_blind_indexes(session, flush_context, instances):
    """An encrypted list that is written (created or changed) gets its blind index recomputed in
    the same INSERT or UPDATE."""
    for record in (*session.new, *session.dirty):
        for name, column_type in _indexed_lists(inspect(record).mapper):
            if record in session.new or attributes.get_history(record, name).has_changes():
                _index(record, name, column_type)


def index_lists(record):
    """Set the blind index of each of a new record's encrypted lists (a record inserted without
    the ORM's flush, api/records.py)."""
    for name, column_type in _indexed_lists(inspect(record).mapper):
        _index(record, name, column_type)


def _index(record, name, column_type):
    values, owner_id = getattr(record, name), record.owner_id
    setattr(record, column_type.blind_index, keyring().index(values or [], column_type.context, owner_id))


@functools.cache
def _indexed_lists(mapper):
    """(attribute, type) of a mapper's encrypted lists that keep a blind index: found once per
    model, not on every flush."""
    return tuple(
        (mapper.get_property_by_column(column).key, column.type)
        for column in encrypted_columns(mapper.local_table)
        if isinstance(column.type, EncryptedList) and column.type.blind_index is not None
    )


def load_keyring(app):
    """DATA_ENCRYPTION_KEYS, else (development) the key file in instance/, made on first use."""
    configured = app.config.get("DATA_ENCRYPTION_KEYS")
    key_file = app.config.get("DATA_ENCRYPTION_KEY_FILE")
    if not configured and key_file:
        configured = _development_keys(Path(key_file))
    return Keyring.parse(configured)


def _development_keys(path):
    """One key for `make run`, kept across restarts in a file only its owner reads."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = f"dev{secrets.token_hex(4)}:{_b64(secrets.token_bytes(KEY_BYTES))}\n"
        # Written whole under a temporary name, then linked into place: two processes starting
        # at once keep whichever key came first, and neither ever reads a half-written file.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def init_app(app):
    app.extensions["data_encryption"] = load_keyring(app)
