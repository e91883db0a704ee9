"""Text and JSON checks shared by every boundary where outside input enters (LLM replies, API calls, files).

Two kinds of function:

- ``check_*`` refuse what cannot be stored or sent back to an LLM, with a :class:`ValidationError` that
  says what is wrong. The stores call them on every row they write (so both engines accept and refuse
  exactly the same values), and :class:`memgpt.Client` calls them on its arguments.
- ``clean_*`` repair instead of refusing, for input nobody can be asked to correct (an LLM's reply, a
  tool's output): lone surrogates and NUL characters become U+FFFD.

What is refused: text that is not a ``str``, that holds a lone surrogate (it cannot be encoded as UTF-8,
so no request holding it could ever be sent) or a NUL character (PostgreSQL cannot store it), or that is
longer than the limit; JSON that is not made of dicts with string keys, lists, strings, finite numbers,
booleans and null, or that is nested deeper than :data:`MAX_JSON_DEPTH`.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from memgpt.errors import ValidationError

MAX_TEXT_CHARS = 1_000_000
MAX_JSON_DEPTH = 32
# The most rows a page or an offset may skip: far beyond any store, and exact in every engine's integer
# type (SQLite and PostgreSQL take 64-bit integers; a page of 2**62 times 5 overflowed them).
MAX_OFFSET = 2**53
MAX_PAGE_SIZE = 1000
REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_storable(text: str) -> bool:
    """Whether ``text`` is valid Unicode without NUL characters (what both stores and every LLM accept)."""
    return _UNSTORABLE.search(text) is None


def clean_text(text: str) -> str:
    """``text`` with lone surrogates and NUL characters replaced by U+FFFD."""
    return text if is_storable(text) else _UNSTORABLE.sub(REPLACEMENT, text)


def to_text(value: object) -> str:
    """Any value as storable text: a string cleaned and cut to MAX_TEXT_CHARS, None empty, others their JSON."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return clean_text(value[:MAX_TEXT_CHARS])


def check_text(value: object, what: str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """``value`` if it is storable text of at most ``max_chars`` characters; else ValidationError naming ``what``."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text, got {type(value).__name__}.")
    if len(value) > max_chars:
        raise ValidationError(f"{what} has {len(value):,} characters, over the limit of {max_chars:,}; split it first.")
    found = _UNSTORABLE.search(value)
    if found is not None:
        kind = "a NUL character" if found.group() == "\x00" else "an unpaired surrogate (invalid Unicode)"
        raise ValidationError(f"{what} contains {kind} at position {found.start()}; remove it and try again.")
    return value


def is_safe_id(value: object) -> bool:
    """Whether ``value`` is an identifier every LLM provider accepts for a function or a tool call id.

    OpenAI and Anthropic refuse anything but ``[A-Za-z0-9_-]{1,64}`` in a request's history.
    """
    return isinstance(value, str) and _SAFE_ID.fullmatch(value) is not None


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only white space and invisible format characters (zero-width spaces...)."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in text)


def normalize_name(value: object, what: str) -> str:
    """A name in Unicode NFC, so that a name typed as composed or decomposed characters is one name."""
    return unicodedata.normalize("NFC", check_text(value, what, max_chars=1000))


def check_int(value: object, what: str, *, low: int, high: int) -> int:
    """``value`` if it is an integer (not a bool) with ``low <= value <= high``; else ValidationError."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(f"{what} must be a whole number, got {type(value).__name__} {value!r:.40}.")
    if not low <= value <= high:
        raise ValidationError(f"{what} must be between {low:,} and {high:,}, got {value:,}.")
    return value


def check_page(page: object, page_size: object) -> tuple[int, int]:
    """A page number (from 0) and page size that a search can serve, or ValidationError."""
    size = check_int(page_size, "page_size", low=1, high=MAX_PAGE_SIZE)
    return check_int(page, "page", low=0, high=MAX_OFFSET // size), size


def check_json(value: Any, what: str) -> None:
    """ValidationError unless ``value`` is JSON both stores keep as it is (see the module docstring)."""
    _check_json(value, what, 0)


def _check_json(value: Any, what: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep.")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{what} holds the number {value}, which JSON cannot represent.")
        return
    if isinstance(value, str):
        check_text(value, what)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item, what, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{what} has a key that is not text: {key!r}.")
            check_text(key, what)
            _check_json(item, what, depth + 1)
        return
    raise ValidationError(f"{what} holds a {type(value).__name__}, which is not JSON.")


def clean_json(value: Any) -> Any:
    """``value`` with every string (keys included) passed through :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(str(key)): clean_json(item) for key, item in value.items()}
    return value
