"""Users and API keys: who owns agents, blocks, sources and keys, and how a request proves it is that user.

Every object belongs to a user; storage queries are scoped by the user's id, so another user's object
answers "not found". The embedded default has one local user (:data:`LOCAL_USER_ID`), which needs no row.
An API key is 256 random bits, shown once when it is made and stored only as its SHA-256 hash (a key that
random needs no slow password hash: there is nothing to guess), with a short prefix to tell keys apart.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from memgpt.errors import ValidationError
from memgpt.memory.agent_state import LOCAL_USER_ID
from memgpt.memory.types import new_id, utcnow
from memgpt.validation import normalize_name

KEY_PREFIX = "mgpt_"
SHOWN_PREFIX = 12  # characters of a key kept in clear to tell keys apart ("mgpt_AbCdEfG")
USER_NAME = re.compile(r"^[\w.@+-]{1,100}$")

__all__ = ["LOCAL_USER_ID", "ApiKey", "NewApiKey", "User", "check_user_name", "hash_key", "new_key"]


@dataclass(slots=True)
class User:
    name: str
    id: str = field(default_factory=lambda: new_id("user"))
    created_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class ApiKey:
    """A stored key: never the key itself, only its hash and the first characters."""

    user_id: str
    key_hash: str
    prefix: str
    name: str = ""
    id: str = field(default_factory=lambda: new_id("key"))
    created_at: datetime = field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A key just made: ``secret`` is shown to the user once and is not stored anywhere."""

    key: ApiKey
    secret: str = field(repr=False)


def new_key(user_id: str, name: str = "") -> NewApiKey:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewApiKey(
        ApiKey(user_id=user_id, key_hash=hash_key(secret), prefix=secret[:SHOWN_PREFIX], name=name), secret
    )


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def check_user_name(name: object) -> str:
    """A user name: 1-100 letters, digits, ``_ . @ + -`` (an e-mail address works), in NFC."""
    value = normalize_name(name, "A user name")
    if not USER_NAME.match(value):
        raise ValidationError(f"User name {value!r} must be 1-100 letters, digits or _ . @ + -.")
    return value
